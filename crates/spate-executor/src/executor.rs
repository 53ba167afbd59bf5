//! [`Executor`]: the entry point.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::analyze::AnalyzeExec;
use datafusion::prelude::SessionConfig;

use crate::config::ExecutorConfig;
use crate::live::LiveProgress;
use crate::metrics::QueryMetrics;
use crate::planner::{StageGraph, plan_stages};
use crate::scheduler::{RunOptions, run_graph};
use crate::shuffle::ShuffleStore;
use crate::sizing::Sizing;

/// A query's rows and what each stage did.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// The rows, in the plan's output order.
    pub batches: Vec<RecordBatch>,
    /// Per-stage figures.
    pub metrics: QueryMetrics,
}

/// Runs DataFusion physical plans as stages of tasks joined by shuffles.
#[derive(Debug, Clone, Default)]
pub struct Executor {
    config: ExecutorConfig,
    /// Told where the stages stand while a query runs; `None`: nothing is tracked.
    progress: Option<Arc<LiveProgress>>,
}

/// Settings a session must have for this executor: hash-join dynamic filters make the
/// partitions of a join wait for each other, which a bounded worker pool running fewer
/// tasks than partitions would deadlock on, so they are turned off. So is file-scan work
/// stealing: with it, the partitions of a scan share one queue of files, so what a task
/// reads depends on what its siblings did, and a retried or recomputed task (on a fresh
/// copy of the plan) would read every file again; without it, task `i` reads its own
/// files, every time.
pub fn configure_session(config: &mut SessionConfig) {
    let options = config.options_mut();
    options.optimizer.enable_join_dynamic_filter_pushdown = false;
    options.execution.enable_file_stream_work_stealing = false;
}

impl Executor {
    /// An executor with these options.
    pub fn new(config: ExecutorConfig) -> Self {
        Executor {
            config,
            progress: None,
        }
    }

    /// This executor, telling `progress` where the stages of the query it runs stand
    /// (cleared when a query starts); see [`LiveProgress`].
    pub fn with_progress(mut self, progress: Arc<LiveProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Runs `plan` to completion.
    pub async fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task_ctx: Arc<TaskContext>,
    ) -> Result<QueryOutput> {
        // EXPLAIN ANALYZE: run what it analyzes, and describe every stage as it ran.
        if let Some(analyze) = plan.downcast_ref::<AnalyzeExec>() {
            let (_, metrics, graph) = self.run(Arc::clone(analyze.input()), task_ctx).await?;
            let text = graph.display_analyzed(&metrics);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(vec!["Plan with Metrics"])),
                Arc::new(StringArray::from(vec![text])),
            ];
            let batch = RecordBatch::try_new(analyze.schema(), columns)?;
            return Ok(QueryOutput {
                batches: vec![batch],
                metrics,
            });
        }
        let (batches, metrics, _) = self.run(plan, task_ctx).await?;
        Ok(QueryOutput { batches, metrics })
    }

    /// Runs `plan`'s stages; returns its rows, the stages' figures and the graph as it ran.
    async fn run(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task_ctx: Arc<TaskContext>,
    ) -> Result<(Vec<RecordBatch>, QueryMetrics, StageGraph)> {
        let sizing = Sizing::new(&self.config, &plan, task_ctx.memory_pool().memory_limit());
        // Readers keep what they take while their task may still be retried.
        let store = Arc::new(
            ShuffleStore::new(sizing.shuffle_memory_cap).retaining(self.config.task_retries > 0),
        );
        let faults = self.config.faults.map(|f| f.for_plan(&plan));
        let graph = plan_stages(plan, &store, &sizing)?;
        let options = RunOptions {
            threads: self.config.threads,
            broadcast_threshold: sizing.broadcast_threshold,
            partition_target: sizing.partition_target,
            retries: self.config.task_retries,
            runtime_filters: self.config.runtime_filters,
            task_timeline: self.config.task_timeline,
        };
        if let Some(live) = &self.progress {
            live.clear();
        }
        run_graph(
            graph,
            &store,
            &task_ctx,
            options,
            faults,
            self.progress.as_deref(),
        )
        .await
    }

    /// The stage graph `plan` would run as under `task_ctx`'s memory pool, as text, for
    /// EXPLAIN.
    pub fn explain(&self, plan: Arc<dyn ExecutionPlan>, task_ctx: &TaskContext) -> Result<String> {
        let sizing = Sizing::new(&self.config, &plan, task_ctx.memory_pool().memory_limit());
        let store = Arc::new(ShuffleStore::new(sizing.shuffle_memory_cap));
        Ok(plan_stages(plan, &store, &sizing)?.display())
    }
}
