//! `tpch`: TPC-H for spate. Generates data with `tpchgen-cli` and runs any of the 22
//! queries under spate's executor, DataFusion's and, as peers, DuckDB and Polars, in turn
//! (A B C D A B C D), each in a worker process of its own per query; checks that all
//! return the same rows, and reports times, ratios to the fastest, peak resident sets,
//! memory pool peaks, spills and geometric means as JSON and markdown.
//!
//! ```text
//! tpch generate --scale 10 --out /data/tpch10
//! tpch run --data /data/tpch10 --iterations 3 --memory-limit 1GiB --markdown report.md
//! tpch run --data /data/sf10 --threads 2 --executors spate,datafusion,duckdb,polars
//! tpch delta-write --data /data/tpch10 --out /tmp/delta-bench --iterations 3
//! tpch skew --out /data/skew --rows 40000000 --iterations 3
//! tpch skewed-scan --out /data/skewed-scan --rows 1000000 --iterations 3
//! tpch cymbal --data /data/cymbal50m --out /tmp/cymbal-runs --transactions 50000000
//! tpch remote-io --endpoint http://127.0.0.1:5599 --rows 2000000
//! tpch spark-sql --markdown spark-sql.md --baseline benches/spark-sql-baseline.json
//! ```

// The 100-line rule (clippy::too_many_lines) covers the library crates (`crates/*/src`);
// benchmark drivers are scripts.
#![allow(clippy::too_many_lines)]

mod bigquery;
mod compare;
mod contender;
mod cymbal;
mod data;
mod delta_write;
mod ideal;
mod protocol;
mod queries;
mod remote_io;
mod report;
mod report_scale;
mod runner;
mod skew;
mod skewed_scan;
mod spark_sql;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tpch",
    about = "TPC-H benchmark of spate against DataFusion's executor, DuckDB and Polars"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate TPC-H Parquet data with tpchgen-cli (installed from PyPI if missing).
    Generate {
        /// Scale factor (1 = about 1 GB of raw data).
        #[arg(long, default_value = "1")]
        scale: String,
        /// Output directory (one entry per table).
        #[arg(long)]
        out: PathBuf,
        /// Files per table (a directory of parts per table); default one file per table.
        #[arg(long)]
        parts: Option<u32>,
    },
    /// Run queries under each executor and compare.
    Run(runner::RunOptions),
    /// One executor as a worker process of `run` (started by `run`, not by hand).
    #[command(hide = true)]
    Worker(worker::WorkerOptions),
    /// The Cymbal transactions written to and read from BigQuery (Storage Write and Read
    /// APIs) against a Parquet load job, and spate's CPU per million rows against local
    /// Parquet.
    Bigquery(bigquery::BigQueryOptions),
    /// Write lineitem as a Delta table partitioned by ship month, against COPY to
    /// Parquet partitioned the same way.
    DeltaWrite(delta_write::DeltaWriteOptions),
    /// A join with one hot key (Zipf keys, 30% on one key): spate with adaptivity on and
    /// off and DataFusion's executor against the ideal (CPU time / threads).
    Skew(skew::SkewOptions),
    /// A scan where one file holds 20x the rows of each other: spate with adaptivity on
    /// and off and DataFusion's executor against the ideal (CPU time / threads).
    SkewedScan(skewed_scan::SkewedScanOptions),
    /// The Cymbal daily pipeline on generated, Zipf-skewed transactions: spate with
    /// adaptivity on and off and DataFusion's executor against the ideal.
    Cymbal(cymbal::CymbalOptions),
    /// Bytes fetched by a selective query and full-scan throughput on an S3-compatible
    /// store (moto, MinIO), against the store's own bulk download.
    RemoteIo(remote_io::RemoteIoOptions),
    /// What a job report of a 10,000-task run costs: the run's time with the task timeline
    /// kept and not, the report's size, and its rendering time in headless Chromium.
    ReportScale(report_scale::ReportScaleOptions),
    /// Apache Spark's SQL conformance suite (SQLQueryTestSuite's golden files, 3.5 and
    /// 4.0) through spate: queries passed and failed by cause, per file and in total.
    SparkSql(spark_sql::SparkSqlOptions),
    /// One input file of `spark-sql` (started by `spark-sql`, not by hand).
    #[command(hide = true)]
    SparkSqlFile(spark_sql::file_run::FileOptions),
}

/// Runs `job` on a runtime of `threads` worker threads (default: all cores), telling it
/// how many.
pub(crate) fn block_on<F: Future<Output = Result<(), String>>>(
    threads: Option<usize>,
    job: impl FnOnce(usize) -> F,
) -> Result<(), String> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(job(threads))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate { scale, out, parts } => data::generate(&scale, &out, parts),
        Command::Run(options) => runner::run(&options),
        Command::Worker(options) => worker::run(&options),
        Command::Bigquery(options) => bigquery::run(&options),
        Command::DeltaWrite(options) => delta_write::run(&options),
        Command::Skew(options) => skew::run(&options),
        Command::SkewedScan(options) => skewed_scan::run(&options),
        Command::Cymbal(options) => cymbal::run(&options),
        Command::RemoteIo(options) => remote_io::run(&options),
        Command::ReportScale(options) => report_scale::run(&options),
        Command::SparkSql(options) => spark_sql::run(&options),
        Command::SparkSqlFile(options) => spark_sql::file_run::run(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
