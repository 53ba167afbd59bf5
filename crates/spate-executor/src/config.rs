//! Options of the executor.

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
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shuffle_partitions: None,
            adaptive: true,
        }
    }
}
