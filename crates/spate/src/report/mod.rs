//! Job reports: what a run did, as JSON and as one self-contained HTML page.
//!
//! A [`Report`] is built from the [`StatementResult`]s of a run (their metrics: stages,
//! tasks with their start, end and worker lane, store I/O) and priced at rates
//! ([`ReportRates`], settings `spate.report.*`). [`Report::to_json`] is its machine-readable
//! form (schema in `docs/report.md`); [`Report::to_html`] embeds that same JSON in a page
//! whose inline script draws the stage graph, the task timeline, the stage table and the
//! cost: no network, no external file.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
//! let session = spate::Session::new()?;
//! let results = session
//!     .run_script("select value % 3 as k, count(*) as n from range(1000) group by 1")
//!     .await?;
//! let report = spate::report::Report::from_results(&results, &session.config().report);
//! let stages = &report.statements[0].stages;
//! assert!(!stages.is_empty());
//! assert!(report.to_json()?.starts_with("{\"format\":\"spate-report\""));
//! assert!(report.to_html()?.contains("id=\"report-data\""));
//! # Ok(()) }
//! ```

mod cost;
mod html;
mod model;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use spate_executor::{QueryMetrics, StageMetrics};

pub use cost::{Cost, DEFAULT_PRICE_LIST, Rates, ReportRates};
pub use model::{
    Adaptive, Edge, ExecutorTasks, IoEntry, Reads, Recovery, SKEW_FACTOR, Spread, StageReport,
    StatementReport, TaskEntry,
};

use crate::error::{Result, SpateError};
use crate::execute::ExecutionMetrics;
use crate::statement::{PreparedStatement, StatementResult};

/// The version of the report's JSON layout; it changes when a field changes meaning or
/// goes away (new fields may be added without a change).
pub const REPORT_VERSION: u32 = 1;

/// The report of a run: its statements, priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always `spate-report`.
    pub format: String,
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// The spate version that wrote it.
    pub spate_version: String,
    /// The rates it is priced at.
    pub rates: Rates,
    /// Its statements, in the order they ran.
    pub statements: Vec<StatementReport>,
    /// The sum of the statements' costs.
    pub cost: Cost,
}

impl Report {
    /// An empty report priced at `rates`; [`Report::add`] adds statements.
    pub fn new(rates: &ReportRates) -> Self {
        Report {
            format: "spate-report".to_string(),
            version: REPORT_VERSION,
            spate_version: env!("CARGO_PKG_VERSION").to_string(),
            rates: Rates::from(rates),
            statements: Vec::new(),
            cost: Cost::default(),
        }
    }

    /// The report of `results`, priced at `rates` (a session's are
    /// `session.config().report`).
    pub fn from_results(results: &[StatementResult], rates: &ReportRates) -> Self {
        let mut report = Report::new(rates);
        for result in results {
            report.add(result);
        }
        report
    }

    /// Adds the statement of `result`.
    pub fn add(&mut self, result: &StatementResult) {
        self.statements
            .push(StatementReport::of(result, &self.rates));
        self.cost = Cost::sum(self.statements.iter().map(|s| &s.cost));
    }

    /// Adds `statement`, which failed with message `error` after `elapsed`; `stages` are the
    /// figures of the stages it ran, as they stood
    /// ([`crate::Progress::failed_stages`], empty when it failed before running a plan).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let session = spate::Session::new()?;
    /// let script = session.prepare_script("<sql>", "select 1 / (value - 500) from range(1000)")?;
    /// let started = std::time::Instant::now();
    /// let error = session.execute_statement(&script.statements[0]).await.unwrap_err();
    /// let mut report = spate::report::Report::new(&session.config().report);
    /// let stages = session.progress().failed_stages();
    /// report.add_failed(&script.statements[0], &error.to_string(), started.elapsed(), stages);
    /// assert_eq!(report.statements[0].kind, "Failed");
    /// assert!(report.statements[0].error.as_deref().unwrap().contains("Divide by zero"));
    /// # Ok(()) }
    /// ```
    pub fn add_failed(
        &mut self,
        statement: &PreparedStatement,
        error: &str,
        elapsed: Duration,
        stages: Vec<StageMetrics>,
    ) {
        let figures = QueryMetrics { stages };
        let metrics = ExecutionMetrics {
            elapsed,
            peak_memory: figures
                .stages
                .iter()
                .map(|s| s.peak_memory_bytes)
                .max()
                .unwrap_or(0),
            spilled_bytes: figures.spilled_bytes(),
            spill_files: figures.spill_files(),
            stages: figures.stages,
            ..ExecutionMetrics::default()
        };
        let heading = model::Heading {
            origin: statement.origin.clone(),
            line: statement.line,
            kind: "Failed".to_string(),
            message: error.to_string(),
            error: Some(error.to_string()),
            elapsed,
            rows_written: None,
        };
        self.statements
            .push(StatementReport::build(heading, &metrics, &self.rates));
        self.cost = Cost::sum(self.statements.iter().map(|s| &s.cost));
    }

    /// The report as JSON (see `docs/report.md`).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| SpateError::Report {
            reason: e.to_string(),
        })
    }

    /// The report as one HTML page, drawn by its inline script from the JSON it embeds.
    pub fn to_html(&self) -> Result<String> {
        Ok(html::page(&self.to_json()?))
    }

    /// Writes [`Report::to_json`] to `path`.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write(path, &self.to_json()?)
    }

    /// Writes [`Report::to_html`] to `path`.
    pub fn write_html(&self, path: &Path) -> Result<()> {
        write(path, &self.to_html()?)
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| SpateError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::Schema;
    use spate_executor::{TaskMetrics, TaskOutcome};

    use super::*;
    use crate::statement::StatementKind;

    /// A statement whose map stage ran `tasks` tasks on 16 lanes (one retried), read by a
    /// result stage of one task.
    fn statement(tasks: usize) -> StatementResult {
        let task = |i: usize| TaskMetrics {
            task: i,
            attempt: 1 + u32::from(i == 7),
            lane: i % 16,
            executor: None,
            started: Duration::from_micros(1_000 + 997 * (i as u64 / 16)),
            ended: Duration::from_micros(1_900 + 997 * (i as u64 / 16)),
            split: i >= tasks - 3,
            outcome: TaskOutcome::Succeeded,
            output_rows: 1_000 + i as u64,
            wall_time: Duration::from_micros(900),
            cpu_time: Duration::from_micros(850),
            peak_memory_bytes: 3 << 20,
        };
        let map = StageMetrics {
            stage: 0,
            tasks,
            output_rows: (0..tasks).map(|i| 1_000 + i as u64).sum(),
            shuffle_memory_bytes: 123_456_789,
            task_metrics: (0..tasks).map(task).collect(),
            other_attempts: vec![TaskMetrics {
                outcome: TaskOutcome::Failed,
                ..task(7)
            }],
            operators: vec!["AggregateExec".into(), "DataSourceExec".into()],
            output: "hash shuffle to 16 partitions".into(),
            task_time: Duration::from_micros(900) * tasks as u32,
            ..StageMetrics::default()
        };
        let result = StageMetrics {
            stage: 1,
            tasks: 1,
            inputs: vec![0],
            output: "result".into(),
            task_metrics: vec![TaskMetrics {
                started: Duration::from_secs(1),
                ended: Duration::from_secs(2),
                ..task(0)
            }],
            ..StageMetrics::default()
        };
        StatementResult {
            origin: "job.sql".into(),
            line: 3,
            kind: StatementKind::Query,
            schema: Arc::new(Schema::empty()),
            batches: Vec::new(),
            rows_written: None,
            message: String::new(),
            elapsed: Duration::from_secs(3),
            metrics: ExecutionMetrics {
                stages: vec![map, result],
                ..ExecutionMetrics::default()
            },
        }
    }

    #[test]
    fn a_report_of_ten_thousand_tasks_stays_under_five_megabytes() {
        let report = Report::from_results(&[statement(10_000)], &ReportRates::default());
        let html = report.to_html().unwrap();
        assert!(html.len() < 5 << 20, "{} bytes", html.len());
        let s = &report.statements[0];
        assert_eq!(
            s.tasks.len(),
            10_002,
            "every attempt, the failed one included"
        );
        assert_eq!(s.lanes, 16);
        assert_eq!(s.stages[1].inputs[0].rows, s.stages[0].rows_out);
        assert_eq!(s.stages[1].inputs[0].bytes, 123_456_789);
        assert!(s.tasks.iter().filter(|t| t.retried).count() == 2);
        assert_eq!(s.tasks.iter().filter(|t| t.split).count(), 3);
    }

    /// `a` and `b` are the same JSON, numbers equal to 12 digits (serde_json's parser
    /// may miss a float's last bit).
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    #[test]
    fn the_json_reads_back_the_same() {
        let report = Report::from_results(&[statement(40)], &ReportRates::default());
        let json = report.to_json().unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.statements[0].tasks.len(), 42);
        let first: serde_json::Value = serde_json::from_str(&json).unwrap();
        let again = serde_json::to_value(&back).unwrap();
        assert!(same(&first, &again), "{first}\n{again}");
    }

    #[test]
    fn a_straggler_flags_its_stage_skewed() {
        let mut result = statement(9);
        let map = &mut result.metrics.stages[0];
        map.task_metrics[3].wall_time = Duration::from_micros(900 * 4);
        let report = Report::from_results(std::slice::from_ref(&result), &ReportRates::default());
        assert!(!report.statements[0].stages[0].skewed, "4x is not yet skew");
        result.metrics.stages[0].task_metrics[3].wall_time = Duration::from_millis(5);
        let report = Report::from_results(&[result], &ReportRates::default());
        let stage = &report.statements[0].stages[0];
        assert!(stage.skewed, "{:?}", stage.task_time);
        assert_eq!(stage.task_time.max, 0.005);
    }
}
