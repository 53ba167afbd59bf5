//! The sizes the executor picks for one query from the threads, the memory pool and the
//! data, so that no flag is needed.
//!
//! With a finite memory limit `L` and `T` threads:
//! - **Shuffle partitions**: enough that each holds about `L / (8·T)` bytes of scanned
//!   input (at least 16 MiB), rounded up to a multiple of `T`, at most 512; never fewer
//!   than the plan's own. Without a limit, the plan's own count (one per thread) is kept:
//!   more partitions only cost time when memory is not short.
//! - **Shuffle memory**: map outputs hold at most `2L/5` in memory together; the rest of
//!   the pool is left to the operators that read them.
//! - **Join build budget**: a hash join task whose build side exceeds `L / (4·T)` joins
//!   in pieces (see [`crate::grace`]).
//!
//! - **Broadcast threshold**: a partitioned join whose build side turns out to hold at most
//!   `min(L/8, 64 MiB)` (64 MiB without a limit) becomes a broadcast join (see
//!   [`crate::adaptive`]); with `adaptive` off, never.
//!
//! - **Partition target**: with adaptivity on, a stage reading hash shuffles reads about
//!   `L / (8·T)` bytes per task (between 1 MiB and 64 MiB; 64 MiB without a limit):
//!   smaller reduce partitions are coalesced, larger skewed join partitions are read in
//!   slices (see [`crate::adaptive`]).
//!
//! An explicit `shuffle_partitions` in [`ExecutorConfig`] wins over the computed count.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::physical_plan::ExecutionPlan;

use crate::config::ExecutorConfig;

const MIB: usize = 1 << 20;
/// The most reduce partitions the executor picks by itself.
const MAX_PARTITIONS: usize = 512;
/// The largest build side a join is switched to a broadcast join for.
const MAX_BROADCAST: usize = 64 * MIB;

/// The most bytes a task of a stage reading hash shuffles is given by adaptive reads.
const MAX_PARTITION_TARGET: usize = 64 * MIB;

/// What the executor decided for one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizing {
    /// Reduce partitions of every shuffle; `None` keeps the plan's.
    pub shuffle_partitions: Option<usize>,
    /// Bytes all map outputs of the query may hold in memory together.
    pub shuffle_memory_cap: usize,
    /// Build-side bytes above which a hash join task joins in pieces; `None`: never.
    pub join_build_budget: Option<usize>,
    /// Build-side bytes up to which a partitioned join becomes a broadcast join; `None`:
    /// never.
    pub broadcast_threshold: Option<usize>,
    /// Bytes a task of a stage reading hash shuffles should read (adaptive reads);
    /// `None`: the plan's partitions are read as they are.
    pub partition_target: Option<usize>,
}

impl Sizing {
    /// The sizes for running `plan` with `config` under a pool of `limit`.
    pub fn new(config: &ExecutorConfig, plan: &Arc<dyn ExecutionPlan>, limit: MemoryLimit) -> Self {
        let threads = config.threads.max(1);
        let limit = match limit {
            MemoryLimit::Finite(bytes) => Some(bytes),
            MemoryLimit::Infinite | MemoryLimit::Unknown => None,
        };
        let shuffle_partitions = config.shuffle_partitions.or_else(|| {
            let target = (limit? / (8 * threads)).max(16 * MIB);
            let wanted = scanned_bytes(plan).div_ceil(target);
            (wanted > threads).then(|| wanted.next_multiple_of(threads).min(MAX_PARTITIONS))
        });
        Sizing {
            shuffle_partitions,
            shuffle_memory_cap: limit.map_or(usize::MAX, |l| l / 5 * 2),
            join_build_budget: limit.map(|l| (l / (4 * threads)).max(1)),
            broadcast_threshold: config
                .adaptive
                .then(|| limit.map_or(MAX_BROADCAST, |l| (l / 8).min(MAX_BROADCAST))),
            partition_target: config.adaptive.then(|| {
                limit.map_or(MAX_PARTITION_TARGET, |l| {
                    (l / (8 * threads)).clamp(MIB, MAX_PARTITION_TARGET)
                })
            }),
        }
    }
}

/// The total size of the files `plan` scans.
fn scanned_bytes(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let mut bytes = 0usize;
    let _ = plan.apply(|node| {
        if let Some(config) = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        {
            for group in &config.file_groups {
                for file in group.iter() {
                    bytes = bytes.saturating_add(file.object_meta.size as usize);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    bytes
}

#[cfg(test)]
mod tests {
    use datafusion::physical_plan::empty::EmptyExec;

    use super::*;
    use datafusion::arrow::datatypes::Schema;

    fn empty() -> Arc<dyn ExecutionPlan> {
        Arc::new(EmptyExec::new(Arc::new(Schema::empty())))
    }

    #[test]
    fn unlimited_memory_keeps_the_plans_partitions_and_never_splits_joins() {
        let config = ExecutorConfig {
            threads: 2,
            shuffle_partitions: None,
            adaptive: true,
            ..ExecutorConfig::default()
        };
        let sizing = Sizing::new(&config, &empty(), MemoryLimit::Infinite);
        assert_eq!(sizing.shuffle_partitions, None);
        assert_eq!(sizing.join_build_budget, None);
        assert_eq!(sizing.shuffle_memory_cap, usize::MAX);
        assert_eq!(sizing.broadcast_threshold, Some(MAX_BROADCAST));
        assert_eq!(sizing.partition_target, Some(MAX_PARTITION_TARGET));
    }

    #[test]
    fn a_limit_sets_the_shuffle_cap_and_the_join_budget_per_thread() {
        let config = ExecutorConfig {
            threads: 2,
            shuffle_partitions: Some(7),
            adaptive: true,
            ..ExecutorConfig::default()
        };
        let sizing = Sizing::new(&config, &empty(), MemoryLimit::Finite(1000 * MIB));
        assert_eq!(sizing.shuffle_partitions, Some(7));
        assert_eq!(sizing.join_build_budget, Some(125 * MIB));
        assert_eq!(sizing.shuffle_memory_cap, 400 * MIB);
        assert_eq!(sizing.broadcast_threshold, Some(MAX_BROADCAST));
        let small = Sizing::new(&config, &empty(), MemoryLimit::Finite(80 * MIB));
        assert_eq!(small.broadcast_threshold, Some(10 * MIB));
        assert_eq!(small.partition_target, Some(5 * MIB));
        assert_eq!(sizing.partition_target, Some(1000 * MIB / 16));
        let fixed = ExecutorConfig {
            adaptive: false,
            ..config
        };
        let sizing = Sizing::new(&fixed, &empty(), MemoryLimit::Finite(1000 * MIB));
        assert_eq!(sizing.broadcast_threshold, None);
        assert_eq!(sizing.partition_target, None);
    }
}
