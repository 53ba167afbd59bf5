//! `tpch remote-io`: how few bytes spate fetches from an S3-compatible store, and how fast
//! a full scan goes against the store's own bulk download.
//!
//! # Steps
//! 1. Write a 16-column table sorted on `k` to `s3://<bucket>/wide/` with small row groups
//!    (so statistics and page indexes can prune), unless it is there already.
//! 2. Selective query, in a fresh session whose `CREATE EXTERNAL TABLE` read the footers
//!    (schema inference; the query finds them in the session's metadata cache): 2 of the 16
//!    columns with a filter on a narrow range of `k`. Reports the bytes the query's GETs
//!    fetched over the table's bytes (target: at most 25%).
//! 3. Bulk download: every object of the table fetched whole with concurrent plain GETs,
//!    as many at once as there are files.
//! 4. Full scan, in a fresh session: every column of every row aggregated. Reports the
//!    table's bytes per second over the bulk download's (target: at least 80%), with the
//!    store's read-ahead and without it, alternated.
//! 5. The same full scan of a local copy of the files: when the remote scan runs about
//!    as fast, decoding, not the store, bounds it.
//! 6. With `--server-pid` (the store server on this machine): the server's CPU time for
//!    the bulk download and each scan, and the bound they set. Serving the table once
//!    (as the bulk download does) plus decoding it (as from the local copy), on the
//!    cores both share, is the least time any full scan can take here.
//!
//! ```text
//! moto_server -H 127.0.0.1 -p 5599 &
//! tpch remote-io --endpoint http://127.0.0.1:5599 --rows 2000000 --server-pid "$(pgrep -f moto_server)"
//! ```

use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use spate::datafusion::execution::object_store::ObjectStoreUrl;
use spate::{Session, StoreIo};
use spate_connectors::object_stores::StoreConfig;

/// Options of `tpch remote-io`.
#[derive(Debug, clap::Args)]
pub struct RemoteIoOptions {
    /// The S3-compatible endpoint (moto, MinIO), e.g. http://127.0.0.1:5599.
    #[arg(long)]
    pub endpoint: String,
    /// The bucket (created when missing, path-style `PUT /bucket`, as moto accepts).
    #[arg(long, default_value = "bench")]
    pub bucket: String,
    /// Rows of the table.
    #[arg(long, default_value_t = 2_000_000)]
    pub rows: u64,
    /// Rows per row group.
    #[arg(long, default_value_t = 100_000)]
    pub row_group_rows: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Runs of each measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// The table's Parquet codec, as DataFusion names it: zstd(3) (DataFusion's default),
    /// snappy (Spark's and delta-rs's), uncompressed, ... Each codec has its own table
    /// (`wide-<codec>/`).
    #[arg(long, default_value = "zstd(3)")]
    pub compression: String,
    /// The store's largest read-ahead window in MiB for the full scan (default: the
    /// store's default); the scan is also run with reading ahead off.
    #[arg(long)]
    pub read_ahead_mib: Option<u64>,
    /// The store server's process id (`pgrep -f moto_server`), on this machine: its CPU
    /// time is then reported for the bulk download and each scan, and with it the least
    /// time any scan could take here, the server and the decoding sharing the cores.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

pub fn run(options: &RemoteIoOptions) -> Result<(), String> {
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(run_async(options, threads))
}

/// A session reading the bucket; `read_ahead_mib` of `None` keeps the store's default.
fn session(
    options: &RemoteIoOptions,
    threads: usize,
    settings: &[(&str, &str)],
    read_ahead_mib: Option<u64>,
) -> Result<Session, String> {
    let read_ahead =
        read_ahead_mib.map_or(String::new(), |mib| format!("read_ahead_mib = {mib}\n"));
    let config = StoreConfig::parse(&format!(
        "[[stores]]\nprefix = \"s3://\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n{read_ahead}\
         options = {{ aws_access_key_id = \"bench\", aws_secret_access_key = \"bench\" }}",
        options.endpoint
    ))?;
    let mut builder = Session::builder().threads(threads).storage(config);
    for (key, value) in settings {
        builder = builder.config(key, value);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The table's columns beyond the sort key `k`: integers, floats and strings.
fn columns() -> Vec<String> {
    (1..16)
        .map(|i| match i % 3 {
            0 => format!("(value * {}) % 1000003 AS c{i}", 7919 * i),
            1 => format!(
                "CAST((value * {}) % 100003 AS DOUBLE) / 7.0 AS c{i}",
                31 * i
            ),
            _ => format!(
                "'v' || CAST((value * {}) % 999983 AS VARCHAR) AS c{i}",
                13 * i
            ),
        })
        .collect()
}

async fn run_async(options: &RemoteIoOptions, threads: usize) -> Result<(), String> {
    create_bucket(&options.endpoint, &options.bucket)?;
    let name: String = format!("wide-{}", options.compression)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    let table = format!("s3://{}/{name}/", options.bucket);
    let writer = session(options, threads, &[], None)?;
    let store = writer
        .context()
        .runtime_env()
        .object_store(
            ObjectStoreUrl::parse(format!("s3://{}", options.bucket)).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    let prefix = object_store::path::Path::from(name.as_str());
    let mut files = list(store.as_ref(), &prefix).await?;
    if files.is_empty() {
        let sql = format!(
            "COPY (SELECT value AS k, {} FROM range({}) ORDER BY k) TO '{table}' STORED AS PARQUET \
             OPTIONS ('format.max_row_group_size' '{}', 'format.compression' '{}')",
            columns().join(", "),
            options.rows,
            options.row_group_rows,
            options.compression
        );
        let started = Instant::now();
        writer.run_script(&sql).await.map_err(|e| e.to_string())?;
        eprintln!("wrote {table} in {:.1}s", started.elapsed().as_secs_f64());
        files = list(store.as_ref(), &prefix).await?;
    }
    let table_bytes: u64 = files.iter().map(|f| f.size).sum();
    println!(
        "table: {table}, {} rows, 16 columns, {} files, {} bytes",
        options.rows,
        files.len(),
        table_bytes
    );

    // Selective: 2 of 16 columns, 0.5% of the rows by the sort key.
    let low = options.rows / 2;
    let high = low + options.rows / 200;
    let selective = format!("SELECT sum(k), count(c3) FROM wide WHERE k >= {low} AND k < {high}");
    for (label, settings) in [
        ("defaults", vec![]),
        (
            "pushdown_filters",
            vec![("datafusion.execution.parquet.pushdown_filters", "true")],
        ),
    ] {
        let Measured { seconds, io, .. } =
            measure(options, threads, &settings, None, &table, &selective).await?;
        println!(
            "selective ({label}): {} GETs, {} bytes = {:.1}% of the table, {:.2}s",
            io.gets,
            io.bytes_read,
            100.0 * io.bytes_read as f64 / table_bytes as f64,
            seconds
        );
    }

    // Bulk download: every object whole, all at once.
    let mut best_bulk = f64::MAX;
    let mut bulk_server_cpu = f64::NAN;
    for _ in 0..options.iterations {
        let server_before = server_cpu_seconds(options);
        let started = Instant::now();
        let fetched: u64 = futures::stream::iter(files.iter().map(|f| {
            let store = store.clone();
            let location = f.location.clone();
            async move {
                let bytes = store.get(&location).await?.bytes().await?;
                Ok::<u64, object_store::Error>(bytes.len() as u64)
            }
        }))
        .buffer_unordered(files.len().max(1))
        .try_fold(0, |acc, n| async move { Ok(acc + n) })
        .await
        .map_err(|e| e.to_string())?;
        if fetched != table_bytes {
            return Err(format!(
                "bulk download fetched {fetched} of {table_bytes} bytes"
            ));
        }
        let seconds = started.elapsed().as_secs_f64();
        if seconds < best_bulk {
            best_bulk = seconds;
            bulk_server_cpu = cpu_since(server_before, server_cpu_seconds(options));
        }
    }
    let bulk_rate = table_bytes as f64 / best_bulk;
    println!(
        "bulk download: {table_bytes} bytes in {best_bulk:.2}s (server cpu {bulk_server_cpu:.2}s) \
         = {:.1} MB/s",
        bulk_rate / 1e6
    );

    // Full scan: every column.
    let aggregates: Vec<String> = std::iter::once("sum(k)".to_string())
        .chain((1..16).map(|i| format!("max(c{i})")))
        .collect();
    let full = format!("SELECT {} FROM wide", aggregates.join(", "));
    // With the store's read-ahead (the default) and without, alternated.
    let variants = [
        ("full scan", options.read_ahead_mib),
        ("full scan, read-ahead off", Some(0)),
    ];
    let mut best: [Option<Measured>; 2] = [None, None];
    for _ in 0..options.iterations {
        for ((_, read_ahead), best) in variants.iter().zip(best.iter_mut()) {
            keep_faster(
                best,
                measure(options, threads, &[], *read_ahead, &table, &full).await?,
            );
        }
    }
    for ((label, _), run) in variants.iter().zip(&best) {
        let Some(run) = run else { continue };
        // The table's bytes per second: bytes fetched and not used do not count.
        let rate = table_bytes as f64 / run.seconds;
        println!(
            "{label}: {} GETs, {} bytes ({} read ahead, {} of them unused) in {:.2}s (cpu \
             {:.2}s, server cpu {:.2}s) = {:.1} MB/s = {:.0}% of the bulk download",
            run.io.gets,
            run.io.bytes_read,
            run.io.read_ahead_bytes,
            run.io.read_ahead_unused,
            run.seconds,
            run.cpu,
            run.server_cpu,
            rate / 1e6,
            100.0 * rate / bulk_rate
        );
    }
    let best_scan = best[0].as_ref().map_or(f64::NAN, |run| run.seconds);

    // The same scan of a local copy: what decoding alone costs, so the store's share of
    // the remote scan shows.
    let local = tempfile_dir()?;
    for file in &files {
        let bytes = store
            .get(&file.location)
            .await
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let name = file.location.filename().unwrap_or("part.parquet");
        std::fs::write(local.join(name), &bytes).map_err(|e| e.to_string())?;
    }
    let local_table = format!("{}/", local.display());
    let mut best_local: Option<Measured> = None;
    for _ in 0..options.iterations {
        keep_faster(
            &mut best_local,
            measure(options, threads, &[], None, &local_table, &full).await?,
        );
    }
    let _ = std::fs::remove_dir_all(&local);
    if let Some(local) = best_local {
        println!(
            "full scan of a local copy: {:.2}s (cpu {:.2}s) = {:.1} MB/s = {:.0}% of the bulk \
             download; the remote scan runs at {:.0}% of its speed",
            local.seconds,
            local.cpu,
            table_bytes as f64 / local.seconds / 1e6,
            100.0 * table_bytes as f64 / local.seconds / bulk_rate,
            100.0 * local.seconds / best_scan
        );
        if bulk_server_cpu.is_finite() {
            // The server must serve every byte once (at best as cheaply as for the bulk
            // download) and spate must decode it (at best as cheaply as from local disk),
            // on the same cores.
            let bound = (bulk_server_cpu + local.cpu) / threads as f64;
            println!(
                "bound: a full scan on {threads} cores takes at least (server cpu \
                 {bulk_server_cpu:.2}s + decoding cpu {:.2}s) / {threads} = {bound:.2}s, at most \
                 {:.0}% of the bulk download",
                local.cpu,
                100.0 * best_bulk / bound
            );
        }
    }
    Ok(())
}

/// A fresh directory for the local copy of the table.
fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("spate-remote-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Runs `sql` over `table` in a fresh session; returns its time and its store I/O.
async fn measure(
    options: &RemoteIoOptions,
    threads: usize,
    settings: &[(&str, &str)],
    read_ahead_mib: Option<u64>,
    table: &str,
    sql: &str,
) -> Result<Measured, String> {
    let session = session(options, threads, settings, read_ahead_mib)?;
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE wide STORED AS PARQUET LOCATION '{table}'"
        ))
        .await
        .map_err(|e| e.to_string())?;
    let before = session.store_io();
    let cpu_before = cpu_seconds("self");
    let server_before = server_cpu_seconds(options);
    let started = Instant::now();
    session
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_since(cpu_before, cpu_seconds("self"));
    let server_cpu = cpu_since(server_before, server_cpu_seconds(options));
    let after = session.store_io();
    let io = match (after.first(), before.first()) {
        (Some(a), Some(b)) => a.since(b),
        (Some(a), None) => a.clone(),
        _ => StoreIo::default(),
    };
    Ok(Measured {
        seconds,
        io,
        cpu,
        server_cpu,
    })
}

/// Keeps `run` in `best` when it is the first or the fastest so far.
fn keep_faster(best: &mut Option<Measured>, run: Measured) {
    if best.as_ref().is_none_or(|b| run.seconds < b.seconds) {
        *best = Some(run);
    }
}

/// One run of a query: its time, what it asked of the store, and the CPU time this process
/// spent meanwhile (all threads, user and system; NaN where /proc is missing).
struct Measured {
    seconds: f64,
    io: StoreIo,
    cpu: f64,
    /// The store server's CPU time meanwhile (NaN without `--server-pid`).
    server_cpu: f64,
}

/// The CPU time of process `pid` (`self` for this one) so far, user and system, from
/// /proc/PID/stat, whose clock ticks are 1/100 s on Linux.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its `)`):
    // utime and stime are the 12th and 13th of them.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The store server's CPU time so far, when `--server-pid` names it.
fn server_cpu_seconds(options: &RemoteIoOptions) -> Option<f64> {
    cpu_seconds(&options.server_pid?.to_string())
}

/// The CPU time between two readings; NaN when either is missing.
fn cpu_since(before: Option<f64>, after: Option<f64>) -> f64 {
    after
        .zip(before)
        .map_or(f64::NAN, |(after, before)| after - before)
}

async fn list(
    store: &dyn ObjectStore,
    prefix: &object_store::path::Path,
) -> Result<Vec<object_store::ObjectMeta>, String> {
    store
        .list(Some(prefix))
        .try_collect()
        .await
        .map_err(|e| e.to_string())
}

/// `PUT /bucket` on a path-style endpoint; an existing bucket is fine.
fn create_bucket(endpoint: &str, bucket: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let host = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("--endpoint {endpoint}: expected http://HOST:PORT"))?
        .trim_end_matches('/');
    let mut stream =
        std::net::TcpStream::connect(host).map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    match response.lines().next() {
        Some(status) if status.contains(" 200") || status.contains(" 409") => Ok(()),
        other => Err(format!("creating bucket {bucket} at {endpoint}: {other:?}")),
    }
}
