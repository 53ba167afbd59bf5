//! Options of the executor.

use crate::faults::FaultInjection;

/// How the executor runs plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Tasks running at once.
    pub threads: usize,
    /// Reduce partitions of every shuffle; `None` keeps the plan's (its target partitions).
    pub shuffle_partitions: Option<usize>,
    /// Re-plan from the sizes stages actually produce (switch a partitioned join whose
    /// build side turns out small to a broadcast join).
    pub adaptive: bool,
    /// Build-side bytes up to which adaptive execution turns a partitioned join into a
    /// broadcast join; `None` picks it from the memory limit (see [`crate::sizing`]).
    pub broadcast_threshold: Option<usize>,
    /// When a join's build stage is done, filter its probe side's scan by the build keys
    /// (see [`crate::adaptive`]). Off by default until an A/B run of the release build
    /// shows it helps (`docs/benchmarks.md`).
    pub runtime_filters: bool,
    /// How many times a failed task is retried, each time as a fresh attempt, before the
    /// query fails: a task runs at most `task_retries + 1` times. Errors no retry can fix
    /// fail the query at once (see [`crate::retry`]). Default: 3.
    pub task_retries: usize,
    /// Keep every task attempt's figures in [`crate::StageMetrics::task_metrics`] and
    /// [`crate::StageMetrics::other_attempts`] (a report's task timeline and task-time
    /// spread); off, stages keep only their totals. Default: on.
    pub task_timeline: bool,
    /// Faults to inject, to test that queries survive them; `None` (default) injects none.
    pub faults: Option<FaultInjection>,
}

/// The default of [`ExecutorConfig::task_retries`].
pub const DEFAULT_TASK_RETRIES: usize = 3;

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shuffle_partitions: None,
            adaptive: true,
            broadcast_threshold: None,
            runtime_filters: false,
            task_retries: DEFAULT_TASK_RETRIES,
            task_timeline: true,
            faults: None,
        }
    }
}
