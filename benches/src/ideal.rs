//! Running one query against the ideal: spate's executor with adaptivity on and off and
//! DataFusion's executor, in turn (on, off, DataFusion, on, ...) in one process, each
//! run's wall time against the ideal, the run's process CPU time spread evenly over the
//! threads. A wall time close to the ideal means no worker sat idle while another had
//! work. Every contender must return the same rows.

use std::path::Path;
use std::time::Instant;

use spate::{ExecutorKind, QueryMetrics, Session};

use crate::compare::{canonical_rows, first_difference};
use crate::delta_write::median;

/// What to run and how to report it.
pub(crate) struct IdealRun<'a> {
    /// The heading of the report.
    pub title: String,
    /// The data directory (every entry a table).
    pub data: &'a Path,
    /// Runs of each contender.
    pub iterations: usize,
    /// Worker threads.
    pub threads: usize,
    /// Session settings for every contender (`datafusion.*` keys).
    pub settings: &'a [(&'a str, &'a str)],
    /// The adaptive decision to count: its column heading and how to read it from a
    /// run's metrics.
    pub decision: (&'a str, fn(&QueryMetrics) -> u64),
}

/// One way of running the query.
struct Contender {
    name: &'static str,
    executor: ExecutorKind,
    adaptive: bool,
    wall: Vec<f64>,
    cpu: Vec<f64>,
    decisions: u64,
}

/// Runs `run.query` under each contender in turn and prints a markdown table of medians.
pub(crate) async fn compare_query(run: &IdealRun<'_>, query: &str) -> Result<(), String> {
    compare(run, async |session: &Session, _: usize| {
        let (batches, metrics) = session
            .sql(query)
            .await
            .map_err(|e| e.to_string())?
            .collect_with_metrics()
            .await
            .map_err(|e| e.to_string())?;
        let metrics = QueryMetrics {
            stages: metrics.stages,
        };
        Ok((canonical_rows(&batches)?, metrics))
    })
    .await
}

/// Runs `workload` (given a session and the run's number, it returns the rows to compare
/// and the stages' figures) under each contender in turn and prints a markdown table of
/// medians.
pub(crate) async fn compare(
    run: &IdealRun<'_>,
    workload: impl AsyncFn(&Session, usize) -> Result<(Vec<String>, QueryMetrics), String>,
) -> Result<(), String> {
    let mut contenders = [
        ("spate, adaptive on", ExecutorKind::Spate, true),
        ("spate, adaptive off", ExecutorKind::Spate, false),
        ("DataFusion's executor", ExecutorKind::DataFusion, true),
    ]
    .map(|(name, executor, adaptive)| Contender {
        name,
        executor,
        adaptive,
        wall: Vec::new(),
        cpu: Vec::new(),
        decisions: 0,
    });
    let mut reference: Option<Vec<String>> = None;
    let mut runs = 0;
    for _ in 0..run.iterations.max(1) {
        for contender in contenders.iter_mut() {
            let mut builder = Session::builder()
                .threads(run.threads)
                .executor(contender.executor)
                .adaptive(contender.adaptive);
            for (key, value) in run.settings {
                builder = builder.config(key, value);
            }
            let session = builder.build().map_err(|e| e.to_string())?;
            session
                .register_directory(run.data)
                .map_err(|e| e.to_string())?;
            let cpu = cpu_time::ProcessTime::now();
            let started = Instant::now();
            let (rows, metrics) = workload(&session, runs).await?;
            runs += 1;
            contender.wall.push(started.elapsed().as_secs_f64());
            contender.cpu.push(cpu.elapsed().as_secs_f64());
            contender.decisions = (run.decision.1)(&metrics);
            match &reference {
                None => reference = Some(rows),
                Some(expected) => {
                    if let Some(diff) = first_difference(expected, &rows) {
                        return Err(format!("{} returned other rows: {diff}", contender.name));
                    }
                }
            }
            eprintln!(
                "{}: {:.3} s wall, {:.3} s CPU",
                contender.name,
                contender.wall.last().copied().unwrap_or_default(),
                contender.cpu.last().copied().unwrap_or_default()
            );
        }
    }
    println!(
        "{}, {} threads, {} iterations (medians)\n",
        run.title, run.threads, run.iterations
    );
    println!(
        "| executor | wall | CPU | ideal (CPU / threads) | wall / ideal | {} |",
        run.decision.0
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for c in contenders.iter_mut() {
        let (wall, cpu) = (median(&mut c.wall), median(&mut c.cpu));
        let ideal = cpu / run.threads as f64;
        println!(
            "| {} | {wall:.2} s | {cpu:.2} s | {ideal:.2} s | {:.2}x | {} |",
            c.name,
            wall / ideal,
            c.decisions
        );
    }
    Ok(())
}

/// Runs `statements` (the `COPY`s that generate a benchmark's data) one after the other
/// in a session of `threads` threads.
pub(crate) async fn run_statements(
    threads: usize,
    statements: impl IntoIterator<Item = String>,
) -> Result<(), String> {
    let session = Session::builder()
        .threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    for sql in statements {
        session
            .sql(&sql)
            .await
            .map_err(|e| e.to_string())?
            .collect()
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
