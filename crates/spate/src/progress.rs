//! Live counters of the statement running now, for progress displays.
//!
//! Two sources feed them: the scans' metrics (rows and bytes read), summed over the running
//! plan when a snapshot is taken, at most every [`SCAN_REFRESH`]; and, under spate's
//! executor, the scheduler, which says after every task launch and every task back where
//! each stage stands ([`spate_executor::LiveProgress`]). A display (the CLI's progress
//! line) reads [`Progress::snapshot`] on its own clock, and so pays for the sums on its own
//! thread: a statement nobody watches costs nothing here (a scan of 10,000 partitions has
//! tens of thousands of metrics to add up). Nothing here blocks for long: each read takes
//! a short lock at most.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::ExecutionPlan;

use spate_executor::{LiveProgress, StageMetrics};
pub use spate_executor::{StagePhase, StageProgress};

/// What the running statement has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Time since the statement started.
    pub elapsed: Duration,
    /// Rows produced by scans so far.
    pub rows_read: u64,
    /// Bytes read from files so far.
    pub bytes_read: u64,
    /// The statement's stages, by stage id, with their tasks done, running and in all;
    /// empty under DataFusion's executor or a cluster, and until the first stage starts.
    pub stages: Vec<StageProgress>,
    /// An estimate of the time left, see [`estimate_time_left`]; `None` until a third of the
    /// known tasks are done.
    pub time_left: Option<Duration>,
}

/// A linear estimate of the time left: once at least a third of all the stages' known
/// tasks are done, `elapsed × (tasks not done ÷ tasks done)`; `None` before (and with no
/// tasks). Tasks are counted alike whatever their stage, so it is rough when stages'
/// tasks differ much in cost, and task counts may still grow (adaptive reads, split
/// scans) as stages start.
///
/// ```
/// use std::time::Duration;
/// use spate::{StagePhase, StageProgress, estimate_time_left};
/// let stage = |tasks, done| StageProgress {
///     stage: 0, tasks, done, running: 0, phase: StagePhase::Running, rows: 0,
/// };
/// let elapsed = Duration::from_secs(10);
/// assert_eq!(estimate_time_left(elapsed, &[stage(30, 9)]), None); // under a third
/// assert_eq!(estimate_time_left(elapsed, &[stage(30, 10)]), Some(Duration::from_secs(20)));
/// ```
pub fn estimate_time_left(elapsed: Duration, stages: &[StageProgress]) -> Option<Duration> {
    let total: usize = stages.iter().map(|s| s.tasks).sum();
    let done: usize = stages.iter().map(|s| s.done.min(s.tasks)).sum();
    if done == 0 || done * 3 < total {
        return None;
    }
    let left = (total - done) as f64 / done as f64;
    Some(elapsed.mul_f64(left))
}

/// How old the rows and bytes read of a snapshot may be: summing them again walks every
/// metric of the plan's scans.
pub const SCAN_REFRESH: Duration = Duration::from_millis(250);

/// Counters shared between the executor and a display. See the module doc.
#[derive(Debug, Default)]
pub struct Progress {
    running: Mutex<Option<Running>>,
    live: Arc<LiveProgress>,
}

/// The statement running now: its plan, and its scans' figures as last summed.
#[derive(Debug)]
struct Running {
    started: Instant,
    plan: Arc<dyn ExecutionPlan>,
    /// When the figures were summed, rows read, bytes read.
    scanned: Option<(Instant, u64, u64)>,
}

impl Progress {
    /// The running statement's figures, or `None` when no statement runs.
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// let progress = session.progress();
    /// assert_eq!(progress.snapshot(), None); // no statement running
    /// ```
    pub fn snapshot(&self) -> Option<ProgressSnapshot> {
        let (elapsed, rows_read, bytes_read) = {
            let mut running = self.running.lock().ok()?;
            let running = running.as_mut()?;
            let now = Instant::now();
            let (rows, bytes) = match running.scanned {
                Some((at, rows, bytes)) if now.duration_since(at) < SCAN_REFRESH => (rows, bytes),
                _ => {
                    let (rows, bytes) = scanned(&running.plan);
                    running.scanned = Some((now, rows, bytes));
                    (rows, bytes)
                }
            };
            (now.duration_since(running.started), rows, bytes)
        };
        let stages = self.live.stages();
        Some(ProgressSnapshot {
            elapsed,
            rows_read,
            bytes_read,
            time_left: estimate_time_left(elapsed, &stages),
            stages,
        })
    }

    /// The stages of the statement running now or, once it ended, of the last one spate's
    /// executor ran, as the scheduler last saw them (a statement that ran to its end has
    /// every stage done); empty before any.
    pub fn stages(&self) -> Vec<StageProgress> {
        self.live.stages()
    }

    /// When the last statement failed while spate's executor ran its plan, the figures of
    /// its stages that became runnable, as they stood: each ends done, failed (the stage
    /// whose task failed the statement) or cancelled. Empty when it did not fail so (it
    /// succeeded, failed before running a plan, or ran on another executor). A job report
    /// of the failed run takes them ([`crate::report::Report::add_failed`]).
    pub fn failed_stages(&self) -> Vec<StageMetrics> {
        self.live.failed().map(|q| q.stages).unwrap_or_default()
    }

    /// Forgets the figures of a failed statement (another statement starts).
    pub(crate) fn forget_failure(&self) {
        self.live.clear_failed();
    }

    /// Where the scheduler writes its stages (handed to spate's executor).
    pub(crate) fn live(&self) -> Arc<LiveProgress> {
        Arc::clone(&self.live)
    }

    /// `plan` starts running.
    pub(crate) fn start(&self, plan: Arc<dyn ExecutionPlan>) {
        self.live.clear();
        if let Ok(mut running) = self.running.lock() {
            *running = Some(Running {
                started: Instant::now(),
                plan,
                scanned: None,
            });
        }
    }

    /// The running plan ended.
    pub(crate) fn finish(&self) {
        if let Ok(mut running) = self.running.lock() {
            *running = None;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(tasks: usize, done: usize) -> StageProgress {
        StageProgress {
            stage: 0,
            tasks,
            done,
            running: 0,
            phase: StagePhase::Running,
            rows: 0,
        }
    }

    #[test]
    fn time_left_is_hidden_until_a_third_of_all_tasks_are_done() {
        let elapsed = Duration::from_secs(12);
        assert_eq!(estimate_time_left(elapsed, &[]), None);
        assert_eq!(estimate_time_left(elapsed, &[stage(0, 0)]), None);
        // 13 of 40 is under a third; the waiting stage's tasks count too.
        assert_eq!(
            estimate_time_left(elapsed, &[stage(32, 13), stage(8, 0)]),
            None
        );
        // 14 of 40: 26 left at 12 s per 14.
        let left = estimate_time_left(elapsed, &[stage(32, 14), stage(8, 0)]);
        assert_eq!(left, Some(elapsed.mul_f64(26.0 / 14.0)));
        assert_eq!(
            estimate_time_left(elapsed, &[stage(8, 8)]),
            Some(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn a_snapshot_sums_what_the_running_plans_scans_read_when_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let ctx = datafusion::prelude::SessionContext::new();
        let sql = format!(
            "COPY (SELECT * FROM generate_series(1, 1000)) TO '{}' STORED AS PARQUET",
            path.display()
        );
        ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let df = ctx
            .read_parquet(path.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let progress = Progress::default();
        assert_eq!(progress.snapshot(), None);
        progress.start(Arc::clone(&plan));
        let before = progress.snapshot().unwrap();
        assert_eq!((before.rows_read, before.bytes_read), (0, 0));
        datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx())
            .await
            .unwrap();
        // Summed again once the last sum is older than the refresh interval.
        std::thread::sleep(SCAN_REFRESH);
        let after = progress.snapshot().unwrap();
        assert_eq!(after.rows_read, 1000);
        assert!(after.bytes_read > 0);
        progress.finish();
        assert_eq!(progress.snapshot(), None);
    }
}
