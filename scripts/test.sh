#!/usr/bin/env bash
# Runs every test of spate: formatting, lints, unit, integration, doc and SQL logic tests.
# Installs what the tests need first. Safe to run on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== toolchain"
cargo --version
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== format"
cargo fmt --all -- --check

echo "== lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
