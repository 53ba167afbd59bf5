//! `tpch bigquery`: the Cymbal transactions written to and read from BigQuery (an
//! emulator, or the real service) through the Storage Write and Read APIs, against a
//! Parquet load job, and spate's own CPU time per million rows each way against writing
//! and reading the same rows as local Parquet.
//!
//! ```sh
//! spate demo generate --transactions 10000000 --days 30 --out /tmp/cymbal
//! tpch bigquery --data /tmp/cymbal --config spate.toml --dataset bigquery://proj/bench --out /tmp/bq-bench
//! ```
//!
//! `spate.toml` points `bigquery://` at the service (for bqemulator: its REST and gRPC
//! ports and `skip_signature`); the dataset must exist. The CPU time is this process's
//! (`getrusage`), so the emulator's own work is not counted in it.

use std::path::PathBuf;
use std::time::Instant;

use cpu_time::ProcessTime;
use spate::Session;
use spate_connectors::object_stores::StoreConfig;

/// Options of `tpch bigquery`.
#[derive(Debug, clap::Args)]
pub struct BigQueryOptions {
    /// The Cymbal data directory (from `spate demo generate`), holding `transactions`.
    #[arg(long)]
    pub data: PathBuf,
    /// The `spate.toml` that points `bigquery://` at the service.
    #[arg(long)]
    pub config: PathBuf,
    /// The dataset to write into, `bigquery://PROJECT/DATASET` (it must exist).
    #[arg(long)]
    pub dataset: String,
    /// A local directory for the Parquet comparisons (emptied before each run).
    #[arg(long)]
    pub out: PathBuf,
    /// Runs of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// One measurement: wall seconds and this process's CPU seconds.
#[derive(Debug, Clone, Copy, Default)]
struct Took {
    wall: f64,
    cpu: f64,
}

pub fn run(options: &BigQueryOptions) -> Result<(), String> {
    crate::block_on(options.threads, |threads| run_async(options, threads))
}

async fn run_async(options: &BigQueryOptions, threads: usize) -> Result<(), String> {
    let config = StoreConfig::from_file(&options.config).map_err(|e| e.to_string())?;
    let session = Session::builder()
        .threads(threads)
        .storage(config.clone())
        .build()
        .map_err(|e| e.to_string())?;
    session
        .register_directory(&options.data)
        .map_err(|e| e.to_string())?;
    let rows = scalar(&session, "SELECT count(*) FROM transactions").await?;
    let dataset = options.dataset.trim_end_matches('/');
    let (written, loaded) = (
        format!("{dataset}/transactions_spate"),
        format!("{dataset}/transactions_load"),
    );
    let columns = columns(&session).await?;
    // Every column of every row: without the filter, local Parquet's maxima would come
    // from its footers' statistics and no row would be read. The filter is volatile, so
    // it stays in spate for both tables and BigQuery sends every row.
    let read_all = |table: &str| {
        let maxes: Vec<String> = columns.iter().map(|c| format!("max(\"{c}\")")).collect();
        format!(
            "SELECT {} FROM {table} WHERE random() >= 0",
            maxes.join(", ")
        )
    };
    let registry = spate_bigquery::BigQueryRegistry::new(config);
    let mut runs: [Vec<Took>; 5] = Default::default();
    for i in 0..options.iterations {
        let _ = std::fs::remove_dir_all(&options.out);
        std::fs::create_dir_all(&options.out).map_err(|e| e.to_string())?;
        let local = options.out.join("transactions");
        let steps = [
            format!(
                "COPY (SELECT * FROM transactions) TO '{written}' OPTIONS ('mode' 'overwrite')"
            ),
            format!(
                "CREATE OR REPLACE EXTERNAL TABLE bq STORED AS BIGQUERY LOCATION '{written}'; {}",
                read_all("bq")
            ),
            format!(
                "COPY (SELECT * FROM transactions) TO '{}/' STORED AS PARQUET",
                local.display()
            ),
            format!(
                "CREATE OR REPLACE EXTERNAL TABLE local STORED AS PARQUET LOCATION '{}/'; {}",
                local.display(),
                read_all("local")
            ),
        ];
        for (step, sql) in steps.iter().enumerate() {
            let took = measure(|| async {
                session
                    .run_script(sql)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await?;
            eprintln!(
                "run {} step {step}: {:.2} s wall, {:.2} s CPU",
                i + 1,
                took.wall,
                took.cpu
            );
            runs[step].push(took);
        }
        // The load job: the rows as one Parquet file, appended to an empty table.
        let file = options.out.join("transactions.parquet");
        session
            .run_script(&format!(
                "COPY (SELECT * FROM transactions) TO '{}' STORED AS PARQUET; \
                 COPY (SELECT * FROM transactions LIMIT 0) TO '{loaded}' OPTIONS ('mode' 'overwrite')",
                file.display()
            ))
            .await
            .map_err(|e| e.to_string())?;
        let took = measure(|| async {
            registry
                .load_parquet(&loaded, &file)
                .await
                .map_err(|e| e.to_string())
        })
        .await?;
        eprintln!("run {} load job: {:.2} s wall", i + 1, took.wall);
        runs[4].push(took);
    }
    report(rows, threads, &mut runs);
    Ok(())
}

/// Runs `job`, timing its wall and CPU time.
async fn measure<F, Fut>(job: F) -> Result<Took, String>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let (cpu, wall) = (ProcessTime::now(), Instant::now());
    job().await?;
    Ok(Took {
        wall: wall.elapsed().as_secs_f64(),
        cpu: cpu.elapsed().as_secs_f64(),
    })
}

fn report(rows: u64, threads: usize, runs: &mut [Vec<Took>; 5]) {
    let millions = rows as f64 / 1e6;
    let median = |takes: &mut Vec<Took>| {
        let mut wall: Vec<f64> = takes.iter().map(|t| t.wall).collect();
        let mut cpu: Vec<f64> = takes.iter().map(|t| t.cpu).collect();
        Took {
            wall: crate::delta_write::median(&mut wall),
            cpu: crate::delta_write::median(&mut cpu),
        }
    };
    let [write, read, parquet_write, parquet_read, load] = runs;
    let (write, read) = (median(write), median(read));
    let (parquet_write, parquet_read, load) =
        (median(parquet_write), median(parquet_read), median(load));
    println!(
        "| {rows} Cymbal transactions, {threads} threads | rows/s | spate CPU s per million rows |"
    );
    println!("|---|---|---|");
    let line = |name: &str, t: Took| {
        println!(
            "| {name} | {:.0} | {:.2} |",
            rows as f64 / t.wall.max(1e-9),
            t.cpu / millions.max(1e-9)
        );
    };
    line("write: Storage Write API (COPY TO bigquery://)", write);
    line("write: Parquet load job (upload only)", load);
    line("write: local Parquet (COPY)", parquet_write);
    line("read: Storage Read API (all columns)", read);
    line("read: local Parquet (all columns)", parquet_read);
    println!(
        "\nspate CPU per million rows against local Parquet: write {:.2}x, read {:.2}x (goal: at most 1x)",
        write.cpu / parquet_write.cpu.max(1e-9),
        read.cpu / parquet_read.cpu.max(1e-9)
    );
}

async fn scalar(session: &Session, sql: &str) -> Result<u64, String> {
    let df = session.sql(sql).await.map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    let cells = spate::io::string_rows(&batches).map_err(|e| e.to_string())?;
    cells
        .first()
        .and_then(|row| row.first())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{sql}: no number"))
}

async fn columns(session: &Session) -> Result<Vec<String>, String> {
    let df = session
        .sql("SELECT * FROM transactions LIMIT 0")
        .await
        .map_err(|e| e.to_string())?;
    Ok(df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}
