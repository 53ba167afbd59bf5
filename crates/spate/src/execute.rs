//! Running physical plans: the one place where a plan meets an executor.
//!
//! Everything that executes (queries, `INSERT`, `COPY`, DataFrame actions, writers) comes
//! here, so the choice of executor, progress reporting and error translation happen once.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::ExecutionPlan;

use crate::config::ExecutorKind;
use crate::error::Result;
use crate::session::Session;

/// How often the progress counters are refreshed from the plan's metrics.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Runs `plan` to completion with the session's executor and returns its batches in order.
pub(crate) async fn collect(
    session: &Session,
    plan: Arc<dyn ExecutionPlan>,
) -> Result<Vec<RecordBatch>> {
    let progress = session.progress();
    progress.start();
    let poller = tokio::spawn({
        let plan = Arc::clone(&plan);
        let progress = Arc::clone(&progress);
        async move {
            loop {
                tokio::time::sleep(PROGRESS_INTERVAL).await;
                let (rows, bytes) = scanned(&plan);
                progress.update(rows, bytes);
            }
        }
    });
    let task_ctx = session.inner.ctx.task_ctx();
    let result = match session.options().executor {
        // spate's executor arrives with the executor crate; until then both run DataFusion's.
        ExecutorKind::Spate | ExecutorKind::DataFusion => {
            datafusion::physical_plan::collect(plan, task_ctx).await
        }
    };
    poller.abort();
    progress.finish();
    result.map_err(|e| session.error(e))
}

/// Rows and bytes the plan's scans (its leaves) have read so far.
fn scanned(plan: &Arc<dyn ExecutionPlan>) -> (u64, u64) {
    let (mut rows, mut bytes) = (0u64, 0u64);
    let _ = plan.apply(|node| {
        if node.children().is_empty()
            && let Some(metrics) = node.metrics()
        {
            rows += metrics.output_rows().unwrap_or(0) as u64;
            bytes += metrics
                .sum_by_name("bytes_scanned")
                .map_or(0, |v| v.as_usize() as u64);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    (rows, bytes)
}
