//! What each task of an executor did, beyond its operators' metrics: which executor ran
//! it, when it started and ended, and how many bytes of shuffle output it wrote.
//!
//! Ballista's scheduler keeps, per stage, the metrics its tasks' operators reported (the
//! `get_job_metrics` call serves them), but not which executor ran a task, when, or the
//! size of its shuffle files. [`TaskFiguresEngine`] wraps Ballista's execution engine on
//! an executor: each task runs as before, and when Ballista collects the task's metrics,
//! the root operator's set (the stage's shuffle writer) gets these figures too, as named
//! metrics of the task's first partition (so a retried task's figures replace those of
//! the attempt before, as its other metrics do):
//! - a count named [`EXECUTOR_PREFIX`] + the executor's id, 1;
//! - gauges [`TASK_START_MS`] and [`TASK_END_MS`], the task's start and end in
//!   milliseconds since the Unix epoch;
//! - a count [`SHUFFLE_BYTES`], the bytes of the shuffle files it wrote;
//! - a count [`TASK_ROWS`], the rows it produced: the root's output rows of all its
//!   partitions (Ballista gives a task several partitions when its executor has the
//!   slots for them, and keeps their rows apart).
//!
//! The client reads them back ([`crate::job_metrics`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ballista_core::JobId;
use ballista_core::serde::protobuf::{
    RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport,
};
use ballista_executor::execution_engine::{ExecutionEngine, QueryStageExecutor};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::{Count, Gauge, Metric, MetricValue, MetricsSet};
use datafusion::prelude::SessionConfig;

/// The name of the count that says which executor ran a task, before the executor's id.
pub(crate) const EXECUTOR_PREFIX: &str = "spate_executor=";
/// A task's start, in milliseconds since the Unix epoch.
pub(crate) const TASK_START_MS: &str = "spate_task_start_ms";
/// A task's end, in milliseconds since the Unix epoch.
pub(crate) const TASK_END_MS: &str = "spate_task_end_ms";
/// The bytes of the shuffle files a task wrote.
pub(crate) const SHUFFLE_BYTES: &str = "spate_shuffle_bytes";
/// The rows a task produced, over all its partitions.
pub(crate) const TASK_ROWS: &str = "spate_task_rows";

/// Ballista's execution engine, with each task's figures added; see the module doc.
pub(crate) struct TaskFiguresEngine {
    inner: Arc<dyn ExecutionEngine>,
    executor_id: String,
}

impl TaskFiguresEngine {
    /// `inner`'s tasks, reporting that executor `executor_id` ran them.
    pub(crate) fn new(inner: Arc<dyn ExecutionEngine>, executor_id: String) -> Self {
        TaskFiguresEngine { inner, executor_id }
    }
}

impl ExecutionEngine for TaskFiguresEngine {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.inner.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(FiguredTask {
            inner,
            executor_id: self.executor_id.clone(),
            figures: Mutex::new(None),
        }))
    }
}

/// When a task ran and what it wrote.
#[derive(Debug, Clone, Copy)]
struct Figures {
    start_ms: u64,
    end_ms: u64,
    shuffle_bytes: u64,
}

/// One task of [`TaskFiguresEngine`].
#[derive(Debug)]
struct FiguredTask {
    inner: Arc<dyn QueryStageExecutor>,
    executor_id: String,
    figures: Mutex<Option<Figures>>,
}

impl fmt::Display for FiguredTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for FiguredTask {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let start_ms = now_ms();
        let written = self.inner.execute_query_stage(task_id, context).await?;
        let figures = Figures {
            start_ms,
            end_ms: now_ms(),
            shuffle_bytes: written.iter().map(|p| p.num_bytes).sum(),
        };
        if let Ok(mut slot) = self.figures.lock() {
            *slot = Some(figures);
        }
        Ok(written)
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        let mut sets = self.inner.collect_plan_metrics();
        let figures = self.figures.lock().ok().and_then(|slot| *slot);
        if let (Some(root), Some(figures)) = (sets.first_mut(), figures) {
            let rows = root.output_rows().unwrap_or(0) as u64;
            let named = [
                (format!("{EXECUTOR_PREFIX}{}", self.executor_id), 1, false),
                (TASK_START_MS.to_string(), figures.start_ms, true),
                (TASK_END_MS.to_string(), figures.end_ms, true),
                (SHUFFLE_BYTES.to_string(), figures.shuffle_bytes, false),
                (TASK_ROWS.to_string(), rows, false),
            ];
            for (name, value, gauge) in named {
                root.push(Arc::new(Metric::new(
                    named_value(name, value, gauge),
                    Some(0),
                )));
            }
        }
        sets
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.inner.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> Result<Vec<WindowStateReport>> {
        self.inner.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.inner.collect_column_stats()
    }
}

/// A named count, or gauge, of `value`.
fn named_value(name: String, value: u64, gauge: bool) -> MetricValue {
    let value = usize::try_from(value).unwrap_or(usize::MAX);
    let name = Cow::Owned(name);
    if gauge {
        let g = Gauge::new();
        g.set(value);
        MetricValue::Gauge { name, gauge: g }
    } else {
        let count = Count::new();
        count.add(value);
        MetricValue::Count { name, count }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
