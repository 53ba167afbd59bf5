#!/usr/bin/env bash
# Runs every test of spate: formatting, lints, unit, integration, doc and SQL logic tests.
# Installs what the tests need first. Safe to run on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== toolchain"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== test services (object-store emulators on 127.0.0.1) and the independent Delta reader (deltalake)"
python3 -m pip install --quiet --disable-pip-version-check 'moto[s3,server]' flask flask-cors deltalake
command -v moto_server >/dev/null || { echo "moto_server is not on PATH after pip install" >&2; exit 1; }

echo "== test tools"
command -v tpchgen-cli >/dev/null || cargo install tpchgen-cli --locked --quiet

echo "== DataFusion's sqllogictest files (crates/spate/tests/integration/datafusion_slt)"
SPATE_DATAFUSION_SLT_DIR="$(./scripts/fetch-datafusion-slt.sh)"
export SPATE_DATAFUSION_SLT_DIR
echo "$SPATE_DATAFUSION_SLT_DIR"

echo "== format"
cargo fmt --all -- --check

echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
