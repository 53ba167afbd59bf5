//! The benchmark loop of `tpch run`. For every selected query it starts a fresh worker
//! process per executor ([`crate::contender`]), runs the query `warmup` times untimed and
//! then `iterations` times timed under each executor in turn (spate, datafusion, duckdb,
//! polars, spate, ...), so that all see the same machine noise, and then ends the workers,
//! keeping each one's peak resident set. The rows of each executor's first run are
//! compared with the first executor's: exactly between spate's and DataFusion's executors,
//! at the coarser printed scale against a peer ([`crate::compare`]).

use std::path::PathBuf;

use crate::compare::{first_rounded_difference, is_ordered};
use crate::contender::Contender;
use crate::protocol::Reply;
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
    /// Timed runs of each query under each executor; the median is reported for spate and
    /// DataFusion, the best for DuckDB and Polars.
    #[arg(long, default_value_t = 3)]
    pub iterations: usize,
    /// Untimed runs of each query under each executor before the timed ones.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
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
    /// Executors to run, comma-separated: `spate`, `datafusion`, `spate-faults` (spate with
    /// `--inject-task-failures` of its task attempts failing, so that `spate-faults,spate`
    /// measures the cost of retries in one run and checks the rows), and the peers
    /// `duckdb` and `polars` (Python packages; install them with `benches/setup.sh`), and
    /// `cluster` (spate on the cluster at `--cluster`, e.g. `spate,cluster`), and `spate-b`
    /// and `cluster-b` (spate, or spate on the cluster, with the `--config-b` settings, so
    /// that `spate,spate-b` A/B-tests one lever in one run).
    #[arg(long, default_value = "spate,datafusion")]
    pub executors: String,
    /// A setting of the `spate-b` and `cluster-b` executors, `KEY=VALUE` with any
    /// `spate.*`, `datafusion.*` or (on a cluster) `ballista.*` key (repeatable), e.g.
    /// `--config-b datafusion.execution.parquet.pushdown_filters=false`.
    #[arg(long = "config-b", value_name = "KEY=VALUE")]
    pub config_b: Vec<String>,
    /// The cluster the `cluster` executor runs on (`df://HOST:PORT`, see
    /// `spate cluster up`).
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// The fraction of task attempts that fail under `spate-faults`.
    #[arg(long, default_value = "0.1")]
    pub inject_task_failures: String,
    /// Seconds one run of a query may take; a worker that takes longer is killed and the
    /// query counted as that executor's failure (DataFusion's own executor was seen to
    /// hang on Q9 at SF1 under a 64 MiB pool), and the benchmark goes on.
    #[arg(long, default_value_t = 900)]
    pub query_timeout: u64,
    /// The Python that runs the peers (`duckdb`, `polars`).
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as a markdown table here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

/// Fault-injection outcomes summed over the run (spate's executor under `SPATE_INJECT_*`).
#[derive(Debug, Default)]
struct Faults {
    retried: u64,
    recomputed: u64,
    reruns: u64,
}

impl Faults {
    fn add(&mut self, reply: &Reply) {
        self.retried += reply.failed_attempts;
        self.recomputed += reply.recomputed;
        self.reruns += reply.reruns;
    }
}

pub fn run(options: &RunOptions) -> Result<(), String> {
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let selection = queries::parse_selection(&options.queries)?;
    let contenders = Contender::parse_list(&options.executors)?;
    let mut report = Report::new(options, threads);
    let mut faults = Faults::default();
    for &query in &selection {
        let sql = queries::load(query)?;
        let entry = run_query(
            options,
            threads,
            &contenders,
            query,
            &sql,
            &mut report,
            &mut faults,
        )?;
        eprintln!("{}", entry.one_line());
        report.queries.push(entry);
    }
    report.finish();
    if faults.retried + faults.recomputed > 0 {
        eprintln!(
            "faults: {} failed task attempts retried, {} map tasks recomputed",
            faults.retried, faults.recomputed
        );
    }
    if faults.reruns > 0 {
        eprintln!(
            "stages with coupled partitions run again whole: {}",
            faults.reruns
        );
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

/// One query under every contender, in fresh workers. A worker that cannot start (a peer
/// not installed, bad data) ends the benchmark; a query that fails under an executor is
/// that executor's failure in the report.
fn run_query(
    options: &RunOptions,
    threads: usize,
    contenders: &[Contender],
    query: u32,
    sql: &str,
    report: &mut Report,
    faults: &mut Faults,
) -> Result<QueryReport, String> {
    let mut workers = contenders
        .iter()
        .map(|c| c.start(options, threads))
        .collect::<Result<Vec<_>, _>>()?;
    if report.engines.is_empty() {
        report.engines = contenders
            .iter()
            .zip(&workers)
            .map(|(c, w)| (c.name.clone(), w.version.clone()))
            .collect();
    }
    let mut runs: Vec<ExecutorRun> = contenders
        .iter()
        .map(|c| ExecutorRun::new(&c.name, c.statistic(), c.pooled()))
        .collect();
    let mut results: Vec<Option<Vec<Vec<String>>>> = vec![None; contenders.len()];
    for round in 0..options.warmup + options.iterations.max(1) {
        for (i, worker) in workers.iter_mut().enumerate() {
            if runs[i].error.is_some() {
                continue;
            }
            match worker.run(sql, results[i].is_none()) {
                Ok(reply) => {
                    faults.add(&reply);
                    if round >= options.warmup {
                        runs[i].record(reply.seconds, reply.peak_memory, reply.spilled);
                    }
                    if let Some(rows) = reply.rows {
                        results[i].get_or_insert(rows);
                    }
                }
                Err(err) => runs[i].error = Some(err),
            }
        }
    }
    for (run, worker) in runs.iter_mut().zip(workers) {
        run.start_rss_bytes = worker.start_rss;
        run.peak_rss_bytes = worker.finish();
    }
    let mismatch = mismatches(contenders, &results, is_ordered(sql));
    Ok(QueryReport::new(query, runs, mismatch))
}

/// Every executor's rows against the first executor's that returned rows.
fn mismatches(
    contenders: &[Contender],
    results: &[Option<Vec<Vec<String>>>],
    ordered: bool,
) -> Option<String> {
    let mut returned = contenders
        .iter()
        .zip(results)
        .filter_map(|(c, rows)| Some((c, rows.as_ref()?)));
    let (reference, expected) = returned.next()?;
    let differences: Vec<String> = returned
        .filter_map(|(c, rows)| {
            let agreement = reference.agreement(c);
            first_rounded_difference(expected, rows, agreement, ordered)
                .map(|d| format!("{} vs {}: {d}", reference.name, c.name))
        })
        .collect();
    (!differences.is_empty()).then(|| differences.join("; "))
}
