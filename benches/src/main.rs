//! `tpch`: TPC-H for spate. Generates data with `tpchgen-cli` and runs any of the 22
//! queries under spate's executor and DataFusion's, alternately (A B A B) in one process,
//! checks that both return the same rows, and reports median times, peak memory, spills,
//! geometric means and the spate/DataFusion ratio as JSON and markdown.
//!
//! ```text
//! tpch generate --scale 10 --out /data/tpch10
//! tpch run --data /data/tpch10 --iterations 3 --memory-limit 1GiB --markdown report.md
//! tpch delta-write --data /data/tpch10 --out /tmp/delta-bench --iterations 3
//! tpch skew --out /data/skew --rows 40000000 --iterations 3
//! tpch skewed-scan --out /data/skewed-scan --rows 1000000 --iterations 3
//! tpch cymbal --data /data/cymbal50m --out /tmp/cymbal-runs --transactions 50000000
//! tpch remote-io --endpoint http://127.0.0.1:5599 --rows 2000000
//! ```

mod bigquery;
mod compare;
mod cymbal;
mod data;
mod delta_write;
mod ideal;
mod queries;
mod remote_io;
mod report;
mod runner;
mod skew;
mod skewed_scan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tpch",
    about = "TPC-H benchmark of spate against DataFusion's executor"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate TPC-H Parquet data with tpchgen-cli (installed from crates.io if missing).
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
    /// Run queries under both executors and compare.
    Run(runner::RunOptions),
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
        Command::Bigquery(options) => bigquery::run(&options),
        Command::DeltaWrite(options) => delta_write::run(&options),
        Command::Skew(options) => skew::run(&options),
        Command::SkewedScan(options) => skewed_scan::run(&options),
        Command::Cymbal(options) => cymbal::run(&options),
        Command::RemoteIo(options) => remote_io::run(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
