//! `tpch worker`: spate's or DataFusion's executor as a worker process of `tpch run`
//! ([`crate::protocol`]). It builds a session over the data directory, greets, then runs
//! each requested query once, timing planning, execution and collection of the batches
//! (not the printing of rows), and answers with the time, the executor's metrics and,
//! when asked, the rows.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use spate::{ByteSize, ExecutorKind, QueryMetrics, Session};

use crate::compare::cell_rows;
use crate::protocol::{Reply, Request};

/// Options of `tpch worker` (set by `tpch run`, not by hand).
#[derive(Debug, clap::Args)]
pub struct WorkerOptions {
    /// `spate`, `spate-b`, `datafusion`, `spate-faults`, `cluster` or `cluster-b`.
    #[arg(long)]
    pub executor: String,
    /// Settings (`KEY=VALUE`) of the session, from `tpch run --config-b` for `spate-b`.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// The cluster of the `cluster` executor (`df://HOST:PORT`).
    #[arg(long)]
    pub cluster: Option<String>,
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub threads: usize,
    #[arg(long)]
    pub memory_limit: Option<String>,
    #[arg(long)]
    pub shuffle_partitions: Option<usize>,
    #[arg(long, value_parser = clap::builder::BoolishValueParser::new())]
    pub adaptive: Option<bool>,
    #[arg(long, default_value = "0.1")]
    pub inject_task_failures: String,
}

pub fn run(options: &WorkerOptions) -> Result<(), String> {
    crate::block_on(Some(options.threads), |threads| serve(options, threads))
}

async fn serve(options: &WorkerOptions, threads: usize) -> Result<(), String> {
    let session = match session(options, threads) {
        Ok(session) => session,
        Err(message) => return send(&Reply::failure(message)),
    };
    send(&Reply {
        ready: Some(version(&options.executor)),
        ..Reply::default()
    })?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Request =
            serde_json::from_str(&line).map_err(|e| format!("bad request {line}: {e}"))?;
        let reply = run_once(&session, &request)
            .await
            .unwrap_or_else(Reply::failure);
        send(&reply)?;
    }
    Ok(())
}

/// The engine behind `executor`, with its version.
fn version(executor: &str) -> String {
    match executor {
        "datafusion" => format!("datafusion {}", spate::datafusion::DATAFUSION_VERSION),
        "cluster" | "cluster-b" => format!("spate {} on Ballista", env!("CARGO_PKG_VERSION")),
        _ => format!("spate {}", env!("CARGO_PKG_VERSION")),
    }
}

fn send(reply: &Reply) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", reply.line())
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}

fn session(options: &WorkerOptions, threads: usize) -> Result<Session, String> {
    // A benchmark harness: the differential test injects faults through SPATE_INJECT_*.
    let mut builder = Session::builder()
        .threads(threads)
        .fault_injection_from_env();
    let faults = match options.executor.as_str() {
        "spate-faults" => true,
        "spate-b" => false,
        "cluster" | "cluster-b" => {
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
    for setting in &options.config {
        let (key, value) = setting
            .split_once('=')
            .ok_or_else(|| format!("--config-b '{setting}': expected KEY=VALUE"))?;
        builder = builder.config(key.trim(), value.trim());
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
    Ok(session)
}

async fn run_once(session: &Session, request: &Request) -> Result<Reply, String> {
    let started = Instant::now();
    let df = session.sql(&request.sql).await.map_err(|e| e.to_string())?;
    let (batches, metrics) = df.collect_with_metrics().await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let rows = match request.rows {
        true => Some(cell_rows(&batches)?),
        false => None,
    };
    let stages = QueryMetrics {
        stages: metrics.stages,
    };
    Ok(Reply {
        seconds,
        rows,
        peak_memory: metrics.peak_memory,
        spilled: metrics.spilled_bytes,
        failed_attempts: stages.failed_attempts(),
        recomputed: stages.recomputed_tasks(),
        reruns: stages.stage_reruns(),
        ..Reply::default()
    })
}
