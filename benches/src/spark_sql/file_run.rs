//! Runs one input file in a fresh session, as the suite does, and prints one JSON line per
//! query: first `{"queries": N, "aligned": bool}`, then an [`Outcome`] per query as it
//! finishes, so the parent process knows how far a file got if it dies or hangs.
//!
//! The session has the suite's built-in tables ([`super::test_tables`]) and its settings:
//! time zone America/Los_Angeles, ANSI mode per folder,
//! `spark.sql.timestampType=TIMESTAMP_NTZ` under `timestampNTZ/`, and the file's `--SET`s,
//! each applied with `SET key = value` (a setting spate rejects is reported on stderr and
//! otherwise ignored). Each query runs as its own task, so a panic fails that query only,
//! under a timeout.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use spate::Session;
use spate::datafusion::logical_expr::LogicalPlan;

use super::compare::{Actual, Cause, Outcome, judge};
use super::golden::{GoldenQuery, read_input, read_results};
use super::spark_format::spark_rows;

/// The session time zone of Spark's suite.
pub(crate) const TIME_ZONE: &str = "America/Los_Angeles";

/// One input file, as the parent process starts it.
#[derive(Debug, Clone, Args)]
pub(crate) struct FileOptions {
    /// The suite's `inputs/` directory.
    #[arg(long)]
    pub inputs: PathBuf,
    /// The suite's `results/` directory.
    #[arg(long)]
    pub results: PathBuf,
    /// The input file, relative to `inputs/` (`ansi/date.sql`).
    #[arg(long)]
    pub file: String,
    /// Spark's ANSI mode for this file.
    #[arg(long, action = clap::ArgAction::Set)]
    pub ansi: bool,
    /// The SQL dialect of the session (`spark` or `datafusion`).
    #[arg(long, default_value = "spark")]
    pub dialect: String,
    /// The executor (`spate` or `datafusion`).
    #[arg(long, default_value = "spate")]
    pub executor: String,
    /// Seconds a query may run.
    #[arg(long, default_value = "10")]
    pub query_timeout: u64,
}

/// The `spark-sql-file` subcommand: runs the file and prints its outcomes.
pub(crate) fn run(options: &FileOptions) -> Result<(), String> {
    let golden = read_results(&options.results.join(format!("{}.out", options.file)))?;
    let input = read_input(&options.inputs, &options.file)?;
    // The queries as this harness split the input; Spark's own text if the split
    // disagrees with the stored results (reported as not aligned).
    let aligned = input.queries.len() == golden.len();
    let queries: Vec<String> = if aligned {
        input.queries.clone()
    } else {
        golden.iter().map(|g| g.sql.clone()).collect()
    };
    println!(
        "{}",
        serde_json::json!({"queries": golden.len(), "aligned": aligned})
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_stack_size(64 << 20)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let session = session(options, &input.settings).await?;
        for (index, (sql, golden)) in queries.into_iter().zip(golden).enumerate() {
            let text = sql.chars().take(300).collect::<String>();
            let (cause, detail) = run_query(&session, sql, golden, options.query_timeout).await;
            let failed = cause != Cause::Pass;
            let outcome = Outcome {
                query: index,
                cause,
                detail: detail.chars().take(300).collect(),
                sql: if failed { text } else { String::new() },
            };
            println!(
                "{}",
                serde_json::to_string(&outcome).map_err(|e| e.to_string())?
            );
        }
        Ok(())
    })
}

/// A fresh session with the suite's settings for this file.
async fn session(options: &FileOptions, settings: &[(String, String)]) -> Result<Session, String> {
    let session = Session::builder()
        .threads(1)
        .memory_limit(spate::ByteSize::mib(512))
        .config("spate.executor", &options.executor)
        .config("spate.dialect", &options.dialect)
        .config("datafusion.execution.time_zone", TIME_ZONE)
        .build()
        .map_err(|e| e.to_string())?;
    super::test_tables::register(&session)?;
    let mut all = vec![(
        "spark.sql.ansi.enabled".to_string(),
        options.ansi.to_string(),
    )];
    if options.file.starts_with("timestampNTZ/") {
        all.push(("spark.sql.timestampType".into(), "TIMESTAMP_NTZ".into()));
    }
    all.extend(settings.iter().cloned());
    for (key, value) in all {
        if let Err(e) = session.sql(&format!("SET {key} = '{value}'")).await {
            eprintln!("{}: setting {key}={value} not applied: {e}", options.file);
        }
    }
    Ok(session)
}

/// Runs one query as its own task under the timeout, and judges it.
async fn run_query(
    session: &Session,
    sql: String,
    golden: GoldenQuery,
    timeout: u64,
) -> (Cause, String) {
    let task = tokio::spawn(execute(session.clone(), sql));
    match tokio::time::timeout(Duration::from_secs(timeout), task).await {
        Ok(Ok(actual)) => judge(&golden, actual),
        Ok(Err(join)) => (Cause::Crash, join.to_string()),
        Err(_) => (Cause::Timeout, format!("over {timeout} s")),
    }
}

/// Parses, plans and runs `sql`, stopping at the first stage that fails.
async fn execute(session: Session, sql: String) -> Actual {
    if let Err(e) = session.prepare_script("query", &sql) {
        return Actual::Failed(Cause::ParseError, e.to_string());
    }
    let df = match session.sql(&sql).await {
        Ok(df) => df,
        Err(e) => return Actual::Failed(Cause::PlanError, e.to_string()),
    };
    let schema = df.schema();
    let sorted = ends_in_sort(df.logical_plan());
    match df.collect().await {
        Ok(batches) => match spark_rows(&batches, TIME_ZONE) {
            Ok(rows) => Actual::Rows {
                schema,
                rows,
                sorted,
            },
            Err(e) => Actual::Failed(Cause::ExecError, format!("cannot format rows: {e}")),
        },
        Err(e) => Actual::Failed(Cause::ExecError, e.to_string()),
    }
}

/// Whether the plan's output order is a sort's, as Spark's suite decides whether to sort
/// the rows before comparing: a sort under projections, filters, limits and aliases.
fn ends_in_sort(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Sort(_) => true,
        LogicalPlan::Projection(p) => ends_in_sort(&p.input),
        LogicalPlan::Filter(f) => ends_in_sort(&f.input),
        LogicalPlan::Limit(l) => ends_in_sort(&l.input),
        LogicalPlan::SubqueryAlias(a) => ends_in_sort(&a.input),
        _ => false,
    }
}
