#!/usr/bin/env bash
# Set-up of the TPC-H peer comparison (`tpch run --executors spate,datafusion,duckdb,polars`):
# installs the peers the harness runs as Python workers, and the data generator, at the
# versions the benchmark is measured with. Not part of scripts/test.sh: the tests do not
# need the peers.
#
#   benches/setup.sh             # with python3
#   PYTHON=/path/to/python benches/setup.sh   # then pass --python /path/to/python to tpch run
set -euo pipefail

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --quiet duckdb==2.0.0 polars==2.1.0 tpchgen-cli==4.0.0
"$PYTHON" - <<'PY'
import duckdb, polars
print(f"duckdb {duckdb.__version__}, polars {polars.__version__}")
PY
command -v tpchgen-cli >/dev/null && tpchgen-cli --version
