"""A TPC-H peer for `tpch run`: DuckDB or Polars as a worker process.

The harness starts one runner per peer and query:

    python3 runner.py --engine duckdb|polars --data DIR --threads N [--memory-limit-bytes B]

It registers every Parquet table of DIR (a `name.parquet` file or a `name/` directory of
parts) as a table, then speaks the harness's worker protocol, one JSON object per line:

- first it writes `{"ready": "<engine> <version>"}`, or `{"error": "..."}` and exits;
- for each request `{"sql": "...", "rows": true|false}` read from stdin it runs the query
  once and writes `{"seconds": S, "rows": [[cell, ...], ...] or null}` or
  `{"error": "..."}`.

S is measured here around execution and fetch only (DuckDB: `execute` and `fetchall`;
Polars: `SQLContext.execute(..., eager=False).collect()` over lazy `scan_parquet`
frames), so start-up, imports and the conversion of rows to text are not timed. Cells are
text the way Arrow prints them (NULL, ISO dates, decimals in plain notation, floats in
full), so the harness compares them with spate's.

Threads: DuckDB `SET threads`; Polars reads POLARS_MAX_THREADS at import, so it is set
before the import. Memory: DuckDB's default unless --memory-limit-bytes is given; Polars
has no limit to set.
"""

import argparse
import datetime
import decimal
import json
import os
import sys
import time

SETUP = "benches/setup.sh"


def main():
    args = parse_args()
    # The protocol owns the real stdout; anything an engine prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        engine = ENGINES[args.engine](args)
        engine.register(parquet_tables(args.data))
    except Exception as err:  # any failure to start is reported, not raised
        reply(out, {"error": str(err)})
        return 1
    reply(out, {"ready": engine.version})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            seconds, rows = engine.run(request["sql"])
            cells = [[cell(v) for v in row] for row in rows] if request.get("rows") else None
            reply(out, {"seconds": seconds, "rows": cells})
        except Exception as err:  # a query the engine cannot run is a result to report
            message = " ".join(str(err).split())
            reply(out, {"error": f"{type(err).__name__}: {message}"})
    return 0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", required=True, choices=sorted(ENGINES))
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--memory-limit-bytes", type=int)
    return parser.parse_args()


def reply(out, obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def parquet_tables(data):
    """Table name -> list of Parquet files, for each `name.parquet` or `name/` in data."""
    if not os.path.isdir(data):
        raise ValueError(f"{data} is not a directory")
    tables = {}
    for entry in sorted(os.listdir(data)):
        path = os.path.join(data, entry)
        if os.path.isdir(path):
            files = sorted(
                os.path.join(root, name)
                for root, _, names in os.walk(path)
                for name in names
                if name.endswith(".parquet")
            )
            if files:
                tables[entry] = files
        elif entry.endswith(".parquet"):
            tables[entry[: -len(".parquet")]] = [path]
    if not tables:
        raise ValueError(f"no Parquet tables in {data}")
    return tables


def cell(value):
    """One value as text, printed the way Arrow prints it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    return str(value)


def missing(module):
    return ImportError(
        f"the Python module {module} is not installed for {sys.executable}: "
        f"run PYTHON={sys.executable} {SETUP}"
    )


class DuckDb:
    def __init__(self, args):
        try:
            import duckdb
        except ImportError:
            raise missing("duckdb") from None
        self.version = f"duckdb {duckdb.__version__}"
        self.con = duckdb.connect()
        self.con.execute(f"SET threads = {int(args.threads)}")
        if args.memory_limit_bytes is not None:
            self.con.execute(f"SET memory_limit = '{int(args.memory_limit_bytes)}B'")

    def register(self, tables):
        for name, files in tables.items():
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            self.con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}])'
            )

    def run(self, sql):
        started = time.perf_counter()
        rows = self.con.execute(sql).fetchall()
        return time.perf_counter() - started, rows


class Polars:
    def __init__(self, args):
        os.environ["POLARS_MAX_THREADS"] = str(int(args.threads))
        try:
            import polars
        except ImportError:
            raise missing("polars") from None
        self.polars = polars
        self.version = f"polars {polars.__version__}"
        self.context = polars.SQLContext()

    def register(self, tables):
        for name, files in tables.items():
            self.context.register(name, self.polars.scan_parquet(files))

    def run(self, sql):
        started = time.perf_counter()
        frame = self.context.execute(sql, eager=False).collect()
        seconds = time.perf_counter() - started
        return seconds, frame.rows()


ENGINES = {"duckdb": DuckDb, "polars": Polars}

if __name__ == "__main__":
    sys.exit(main())
