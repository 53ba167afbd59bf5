//! The benchmark loop: every selected query, `iterations` times, under each executor in
//! turn (spate, datafusion, spate, datafusion, ...), so that both see the same machine
//! noise. The first successful result of each executor is compared row by row.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use spate::{ByteSize, ExecutorKind, Session};

use crate::compare::{canonical_rows, first_difference};
use crate::queries;
use crate::report::{ExecutorRun, QueryReport, Report};

/// Options of `tpch run`.
#[derive(Debug, clap::Args)]
pub struct RunOptions {
    /// The TPC-H data directory (from `tpch generate`).
    #[arg(long)]
    pub data: PathBuf,
    /// Queries to run: `1-22`, `1,3,5`, `3-6,9`.
    #[arg(long, default_value = "1-22")]
    pub queries: String,
    /// Runs of each query under each executor; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Memory limit for both executors, e.g. 1GiB (default: spate's).
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// Reduce partitions of every shuffle under spate's executor (default: the plan's).
    #[arg(long)]
    pub shuffle_partitions: Option<usize>,
    /// Adaptive re-planning under spate's executor: on (default) or off.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub adaptive: Option<bool>,
    /// Executors to run, comma-separated: `spate`, `datafusion`, `spate-faults`
    /// (spate with `--inject-task-failures` of its task attempts failing), so that
    /// `spate-faults,spate` measures the cost of retries in one run and checks the rows,
    /// and `cluster` (the cluster at `--cluster`, e.g. `spate,cluster`).
    #[arg(long, default_value = "spate,datafusion")]
    pub executors: String,
    /// The cluster the `cluster` executor runs on (`df://HOST:PORT`, see
    /// `spate cluster up`).
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// The fraction of task attempts that fail under `spate-faults`.
    #[arg(long, default_value = "0.1")]
    pub inject_task_failures: String,
    /// Seconds one run of a query may take; a run that takes longer is stopped and
    /// counted as that executor's failure of the query (DataFusion's own executor was
    /// seen to hang on Q9 at SF1 under a 64 MiB pool), and the benchmark goes on.
    #[arg(long, default_value_t = 900)]
    pub query_timeout: u64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as a markdown table here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

struct Contender {
    name: String,
    session: Session,
}

pub fn run(options: &RunOptions) -> Result<(), String> {
    crate::block_on(options.threads, |threads| run_async(options, threads))
}

async fn run_async(options: &RunOptions, threads: usize) -> Result<(), String> {
    let selection = queries::parse_selection(&options.queries)?;
    let contenders = contenders(options, threads)?;
    let mut report = Report::new(options, threads);
    // Under fault injection (SPATE_INJECT_* variables), what it took to survive it.
    let (mut retried, mut recomputed, mut reruns) = (0u64, 0u64, 0u64);
    for &query in &selection {
        let sql = queries::load(query)?;
        let mut runs: Vec<ExecutorRun> = contenders
            .iter()
            .map(|c| ExecutorRun::new(&c.name))
            .collect();
        let mut results: Vec<Option<Vec<String>>> = vec![None; contenders.len()];
        for _ in 0..options.iterations.max(1) {
            for (i, contender) in contenders.iter().enumerate() {
                if runs[i].error.is_some() {
                    continue;
                }
                let limit = Duration::from_secs(options.query_timeout.max(1));
                let run = tokio::time::timeout(limit, run_once(&contender.session, &sql))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!("timed out after {} s", options.query_timeout))
                    });
                match run {
                    Ok((seconds, metrics, rows)) => {
                        runs[i].record(seconds, metrics.peak_memory, metrics.spilled_bytes);
                        let stages = spate::QueryMetrics {
                            stages: metrics.stages.clone(),
                        };
                        retried += stages.failed_attempts();
                        recomputed += stages.recomputed_tasks();
                        reruns += stages.stage_reruns();
                        results[i].get_or_insert(rows);
                    }
                    Err(err) => runs[i].error = Some(err),
                }
            }
        }
        let mismatch = match (results.first(), results.get(1)) {
            (Some(Some(a)), Some(Some(b))) => first_difference(a, b),
            _ => None,
        };
        let entry = QueryReport::new(query, runs, mismatch);
        eprintln!("{}", entry.one_line());
        report.queries.push(entry);
    }
    report.finish();
    if retried + recomputed > 0 {
        eprintln!(
            "faults: {retried} failed task attempts retried, {recomputed} map tasks recomputed"
        );
    }
    if reruns > 0 {
        eprintln!("stages with coupled partitions run again whole: {reruns}");
    }
    println!("{}", report.markdown());
    if let Some(path) = &options.json {
        std::fs::write(path, report.json()?).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &options.markdown {
        std::fs::write(path, report.markdown()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if report.queries.iter().any(|q| q.mismatch.is_some()) {
        return Err("the executors returned different rows (see the report)".into());
    }
    Ok(())
}

fn contenders(options: &RunOptions, threads: usize) -> Result<Vec<Contender>, String> {
    options
        .executors
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let mut builder = Session::builder().threads(threads);
            let faults = match name {
                "spate-faults" => true,
                "cluster" => {
                    let url = options
                        .cluster
                        .as_deref()
                        .ok_or("`cluster` needs --cluster URL")?;
                    builder = builder.cluster(url);
                    false
                }
                other => {
                    let kind: ExecutorKind = other.parse().map_err(|e| format!("{e}"))?;
                    builder = builder.executor(kind);
                    false
                }
            };
            if faults {
                builder = builder
                    .config("spate.inject_task_failures", &options.inject_task_failures)
                    .config("spate.inject_seed", "1");
            }
            if let Some(n) = options.shuffle_partitions {
                builder = builder.shuffle_partitions(n);
            }
            if let Some(adaptive) = options.adaptive {
                builder = builder.adaptive(adaptive);
            }
            if let Some(limit) = &options.memory_limit {
                let limit: ByteSize = limit.parse().map_err(|e| format!("{e}"))?;
                builder = builder.memory_limit(limit);
            }
            let session = builder.build().map_err(|e| e.to_string())?;
            session
                .register_directory(&options.data)
                .map_err(|e| e.to_string())?;
            Ok(Contender {
                name: name.to_string(),
                session,
            })
        })
        .collect()
}

async fn run_once(
    session: &Session,
    sql: &str,
) -> Result<(f64, spate::ExecutionMetrics, Vec<String>), String> {
    let started = Instant::now();
    let df = session.sql(sql).await.map_err(|e| e.to_string())?;
    let (batches, metrics) = df.collect_with_metrics().await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((seconds, metrics, canonical_rows(&batches)?))
}
