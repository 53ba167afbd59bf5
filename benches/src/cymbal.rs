//! `tpch cymbal`: the Cymbal Superstore daily pipeline (`sql/cymbal/daily.sql`: joins of
//! the day's transactions with products, stores and customers, aggregations, and three
//! Delta tables written) on a generated data set whose product, store and customer
//! popularity is Zipf-skewed, under spate's executor with adaptivity on and off and under
//! DataFusion's, against the ideal ([`crate::ideal`]).
//!
//! Each run writes its own warehouse under `--out`, reads the three tables back (the
//! daily report whole, the invoices and their lines as counts and sums), and removes it;
//! every contender must write the same.

use std::path::PathBuf;

use spate::{QueryMetrics, Session};

use crate::compare::canonical_rows;
use crate::ideal::IdealRun;

/// Options of `tpch cymbal`.
#[derive(Debug, clap::Args)]
pub struct CymbalOptions {
    /// The Cymbal data directory (generated when missing).
    #[arg(long)]
    pub data: PathBuf,
    /// Where each run writes its warehouse (removed after the run).
    #[arg(long)]
    pub out: PathBuf,
    /// Transactions to generate when `--data` is missing.
    #[arg(long, default_value_t = 50_000_000)]
    pub transactions: u64,
    /// Days they are spread over; the pipeline runs for the last.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Runs of each contender; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The pipeline, as committed.
const PIPELINE: &str = include_str!("../../sql/cymbal/daily.sql");
/// The first day of the generated data.
const START_DATE: &str = "2026-11-17";

pub fn run(options: &CymbalOptions) -> Result<(), String> {
    crate::block_on(options.threads, |threads| run_async(options, threads))
}

async fn run_async(options: &CymbalOptions, threads: usize) -> Result<(), String> {
    if !options.data.join("transactions").exists() {
        let summary = spate_demo::generate(&spate_demo::GenerateOptions {
            transactions: options.transactions,
            days: options.days,
            start_date: START_DATE.into(),
            seed: 42,
            out: options.data.clone(),
            threads,
        })
        .map_err(|e| e.to_string())?;
        eprintln!(
            "generated {} transactions in {:.1} s",
            summary.transactions,
            summary.elapsed.as_secs_f64()
        );
    }
    let day = last_day(&options.data)?;
    let day_rows = count_rows(&options.data, &day, threads).await?;
    let scan_and_skew = |metrics: &QueryMetrics| -> u64 {
        metrics
            .stages
            .iter()
            .map(|s| s.scan_splits + s.reads.as_ref().map_or(0, |r| r.skewed_partitions as u64))
            .sum()
    };
    let run = IdealRun {
        title: format!(
            "Cymbal daily pipeline for {day}: {day_rows} of {} transactions",
            options.transactions
        ),
        data: &options.data,
        iterations: options.iterations,
        threads,
        settings: &[],
        decision: ("scan splits + skewed partitions sliced", scan_and_skew),
    };
    crate::ideal::compare(&run, async |session: &Session, number: usize| {
        let warehouse = options.out.join(format!("warehouse-{number}"));
        let result = pipeline(session, &day, &warehouse, number).await;
        // Each run's tables are removed whatever happened: they are many and large.
        let _ = std::fs::remove_dir_all(&warehouse);
        result
    })
    .await
}

/// Runs the pipeline for `day` into `warehouse`, then reads its three tables back.
async fn pipeline(
    session: &Session,
    day: &str,
    warehouse: &std::path::Path,
    number: usize,
) -> Result<(Vec<String>, QueryMetrics), String> {
    let location = warehouse.display().to_string();
    let script = PIPELINE
        .replace("${run_date}", day)
        .replace("${warehouse:-./warehouse}", &location);
    let results = session
        .run_script(&script)
        .await
        .map_err(|e| e.to_string())?;
    let stages = results.into_iter().flat_map(|r| r.metrics.stages).collect();
    let tables = format!(
        "CREATE EXTERNAL TABLE ds{number} STORED AS DELTA LOCATION '{location}/daily_sales';
         CREATE EXTERNAL TABLE inv{number} STORED AS DELTA LOCATION '{location}/invoices';
         CREATE EXTERNAL TABLE il{number} STORED AS DELTA LOCATION '{location}/invoice_lines';"
    );
    session
        .run_script(&tables)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for sql in [
        format!("SELECT * FROM ds{number} ORDER BY store_id, category"),
        format!(
            "SELECT count(*), sum(lines), sum(total), sum(tax), min(invoice_number), \
             max(invoice_number) FROM inv{number}"
        ),
        format!(
            "SELECT count(*), sum(quantity), sum(gross_amount), sum(tax_amount), \
             count(DISTINCT transaction_id) FROM il{number}"
        ),
    ] {
        let batches = session
            .sql(&sql)
            .await
            .map_err(|e| e.to_string())?
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        rows.extend(canonical_rows(&batches)?);
    }
    Ok((rows, QueryMetrics { stages }))
}

/// The last `day=` partition of the transactions.
fn last_day(data: &std::path::Path) -> Result<String, String> {
    let dir = data.join("transactions");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("day="))
                .map(str::to_string)
        })
        .max()
        .ok_or_else(|| format!("{}: no day= partitions", dir.display()))
}

/// Transactions of `day`.
async fn count_rows(data: &std::path::Path, day: &str, threads: usize) -> Result<u64, String> {
    let session = Session::builder()
        .threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    session
        .register_directory(data)
        .map_err(|e| e.to_string())?;
    session
        .sql(&format!(
            "SELECT * FROM transactions WHERE day = DATE '{day}'"
        ))
        .await
        .map_err(|e| e.to_string())?
        .count()
        .await
        .map_err(|e| e.to_string())
        .map(|n| n as u64)
}
