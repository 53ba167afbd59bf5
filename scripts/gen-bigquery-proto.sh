#!/usr/bin/env bash
# Regenerates crates/spate-bigquery/src/proto/*.rs, the BigQuery Storage API messages, from
# the descriptors in PyPI's google-cloud-bigquery-storage (installed with the emulator by
# scripts/test.sh). Needs no protoc: prost-build reads the descriptors directly.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HOME}/.cache/spate-tools/bqemulator-venv"
[ -x "${VENV}/bin/python" ] || { echo "run scripts/test.sh first (it installs ${VENV})" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"${VENV}/bin/python" scripts/bigquery-proto/dump_descriptors.py > "$work/storage.fds"
CARGO_TARGET_DIR="$work/target" cargo run --quiet --manifest-path scripts/bigquery-proto/gen/Cargo.toml \
    -- "$work/storage.fds" crates/spate-bigquery/src/proto
echo "regenerated crates/spate-bigquery/src/proto"
