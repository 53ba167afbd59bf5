//! `tpch delta-write`: TPC-H lineitem written as a Delta table partitioned by ship month,
//! against `COPY` to plain Parquet, unpartitioned and partitioned the same way, in turn
//! (Parquet, partitioned Parquet, Delta, Parquet, ...) in one process so that all see the
//! same machine noise. Throughput is the lineitem input's bytes on disk over the wall time
//! of the write; the ratios are Delta's median time over each Parquet write's (the
//! target is at most 1.15).

use std::path::{Path, PathBuf};
use std::time::Instant;

use spate::Session;

/// Options of `tpch delta-write`.
#[derive(Debug, clap::Args)]
pub struct DeltaWriteOptions {
    /// The TPC-H data directory (from `tpch generate`), holding `lineitem`.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write (emptied before each run).
    #[arg(long)]
    pub out: PathBuf,
    /// Runs of each writer; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The rows written: every lineitem column plus its ship month.
const SELECT: &str =
    "SELECT *, CAST(date_trunc('month', l_shipdate) AS DATE) AS ship_month FROM lineitem";

pub fn run(options: &DeltaWriteOptions) -> Result<(), String> {
    crate::block_on(options.threads, |threads| run_async(options, threads))
}

async fn run_async(options: &DeltaWriteOptions, threads: usize) -> Result<(), String> {
    let session = Session::builder()
        .threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    session
        .register_directory(&options.data)
        .map_err(|e| e.to_string())?;
    let input_bytes = bytes_under(&lineitem_path(&options.data)?);
    let rows = count_lineitem(&session).await.map_err(|e| e.to_string())?;
    let mut flat = Vec::new();
    let mut parquet = Vec::new();
    let mut delta = Vec::new();
    let (mut flat_bytes, mut parquet_bytes, mut delta_bytes) = (0, 0, 0);
    for i in 0..options.iterations {
        for (name, times) in [
            ("parquet", &mut flat),
            ("parquet-by-month", &mut parquet),
            ("delta", &mut delta),
        ] {
            let target = options.out.join(name);
            let _ = std::fs::remove_dir_all(&target);
            std::fs::create_dir_all(&options.out).map_err(|e| e.to_string())?;
            let sql = match name {
                "parquet" => format!(
                    "COPY ({SELECT}) TO '{}/' STORED AS PARQUET",
                    target.display()
                ),
                "parquet-by-month" => format!(
                    "COPY ({SELECT}) TO '{}/' STORED AS PARQUET PARTITIONED BY (ship_month)",
                    target.display()
                ),
                _ => format!(
                    "COPY ({SELECT}) TO '{}' STORED AS DELTA PARTITIONED BY (ship_month)",
                    target.display()
                ),
            };
            let started = Instant::now();
            let results = session.run_script(&sql).await.map_err(|e| e.to_string())?;
            let seconds = started.elapsed().as_secs_f64();
            let written = results.first().and_then(|r| r.rows_written).unwrap_or(0);
            if written != rows {
                return Err(format!("{name} wrote {written} rows of {rows}"));
            }
            let size = bytes_under(&target);
            eprintln!(
                "run {} {name}: {seconds:.2} s, {:.1} MB/s, {} files, {:.1} MiB",
                i + 1,
                input_bytes as f64 / 1e6 / seconds,
                files_under(&target),
                size as f64 / (1 << 20) as f64
            );
            match name {
                "parquet" => flat_bytes = size,
                "parquet-by-month" => parquet_bytes = size,
                _ => delta_bytes = size,
            }
            times.push(seconds);
        }
    }
    let (f, p, d) = (median(&mut flat), median(&mut parquet), median(&mut delta));
    println!(
        "| writer | median time | MB/s (lineitem input, {:.1} MB) | output |\n|---|---|---|---|",
        input_bytes as f64 / 1e6
    );
    println!(
        "| COPY to Parquet | {f:.2} s | {:.1} | {:.1} MiB |",
        input_bytes as f64 / 1e6 / f,
        flat_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "| COPY to Parquet, PARTITIONED BY (ship_month) | {p:.2} s | {:.1} | {:.1} MiB |",
        input_bytes as f64 / 1e6 / p,
        parquet_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "| Delta table, PARTITIONED BY (ship_month) | {d:.2} s | {:.1} | {:.1} MiB |",
        input_bytes as f64 / 1e6 / d,
        delta_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "\nDelta / Parquet time: {:.3}x against COPY to Parquet, {:.3}x against COPY to Parquet \
         partitioned by month ({rows} rows, {threads} threads)",
        d / f,
        d / p
    );
    Ok(())
}

async fn count_lineitem(session: &Session) -> spate::Result<u64> {
    let df = session.sql("select count(*) from lineitem").await?;
    let cells = spate::io::string_rows(&df.collect().await?)?;
    Ok(cells
        .first()
        .and_then(|row| row.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn lineitem_path(data: &Path) -> Result<PathBuf, String> {
    ["lineitem", "lineitem.parquet"]
        .iter()
        .map(|name| data.join(name))
        .find(|p| p.exists())
        .ok_or_else(|| format!("no lineitem under {}", data.display()))
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn walk(path: &Path, visit: &mut dyn FnMut(&Path, u64)) {
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            walk(&entry.path(), visit);
        }
    } else if let Ok(meta) = std::fs::metadata(path) {
        visit(path, meta.len());
    }
}

fn bytes_under(path: &Path) -> u64 {
    let mut total = 0;
    walk(path, &mut |_, len| total += len);
    total
}

fn files_under(path: &Path) -> usize {
    let mut files = 0;
    walk(path, &mut |p, _| {
        if p.extension().is_some_and(|e| e == "parquet") {
            files += 1;
        }
    });
    files
}
