//! The sizes the executor picks for one query from the threads, the memory pool and the
//! data, so that no flag is needed.
//!
//! With a finite memory limit `L` and `T` threads:
//! - **Shuffle partitions**: enough that each holds about `L / (8·T)` bytes of the
//!   scans' decoded output (16 to 256 MiB), rounded up to a multiple of `T`, at most 512; never fewer
//!   than the plan's own. Without a limit, the plan's own count (one per thread) is kept:
//!   more partitions only cost time when memory is not short.
//! - **Shuffle memory**: map outputs hold at most `2L/5` in memory together; the rest of
//!   the pool is left to the operators that read them.
//! - **Join build budget**: a hash join task whose build side exceeds `L / (4·T)` joins
//!   in pieces (see [`crate::grace`]).
//!
//! - **Broadcast threshold**: a partitioned join whose build side turns out to hold at most
//!   `min(L/8, 64 MiB)` (64 MiB without a limit), or the configured
//!   `broadcast_threshold`, becomes a broadcast join (see [`crate::adaptive`]); with
//!   `adaptive` off, never.
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
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

use crate::config::ExecutorConfig;

const MIB: usize = 1 << 20;
/// The most reduce partitions the executor picks by itself.
const MAX_PARTITIONS: usize = 512;
/// The most decoded scan bytes sized into one shuffle partition. With memory to spare,
/// partitions of at most this much keep hash tables small enough to stay fast and give
/// the workers tasks to balance (TPC-H Q18 at SF10 took 1.2× as long on 4 partitions as on
/// 12).
const MAX_SHUFFLE_TARGET: usize = 256 * MIB;
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
    /// Whether finished join build sides filter their probe sides ([`crate::adaptive`]);
    /// the stages those filters reach wait for their build stages.
    pub runtime_filters: bool,
}

impl Sizing {
    /// The build-side bytes a hash join task may hold before it joins in pieces, when
    /// `tasks` tasks share a pool of `limit` bytes: a quarter of a task's share (the rest
    /// is for the probe side's batches, the join's output and the other operators).
    pub fn join_build_budget_of(limit: usize, tasks: usize) -> usize {
        (limit / (4 * tasks.max(1))).max(1)
    }

    /// The sizes for running `plan` with `config` under a pool of `limit`.
    pub fn new(config: &ExecutorConfig, plan: &Arc<dyn ExecutionPlan>, limit: MemoryLimit) -> Self {
        let threads = config.threads.max(1);
        let limit = match limit {
            MemoryLimit::Finite(bytes) => Some(bytes),
            MemoryLimit::Infinite | MemoryLimit::Unknown => None,
        };
        let shuffle_partitions = config.shuffle_partitions.or_else(|| {
            let target = (limit? / (8 * threads)).clamp(16 * MIB, MAX_SHUFFLE_TARGET);
            let wanted = scanned_bytes(plan).div_ceil(target);
            (wanted > threads).then(|| wanted.next_multiple_of(threads).min(MAX_PARTITIONS))
        });
        Sizing {
            shuffle_partitions,
            shuffle_memory_cap: limit.map_or(usize::MAX, |l| l / 5 * 2),
            join_build_budget: limit.map(|l| Self::join_build_budget_of(l, threads)),
            broadcast_threshold: config.adaptive.then(|| {
                config
                    .broadcast_threshold
                    .unwrap_or_else(|| limit.map_or(MAX_BROADCAST, |l| (l / 8).min(MAX_BROADCAST)))
            }),
            partition_target: config.adaptive.then(|| {
                limit.map_or(MAX_PARTITION_TARGET, |l| {
                    (l / (8 * threads)).clamp(MIB, MAX_PARTITION_TARGET)
                })
            }),
            runtime_filters: config.runtime_filters,
        }
    }
}

/// About the bytes of Arrow data the scans of `plan` produce, before filters: what its
/// shuffles and join build sides can hold in memory.
///
/// Per scan, DataFusion's own estimate of its output size from the files' metadata (rows
/// times the projected columns' widths); where it has none (variable-width columns,
/// formats without row counts), the rows times the projected columns' widths counting
/// [`VARIABLE_WIDTH`] for a variable-width one, else the files' size. Counting the whole
/// files instead over-counts a scan of a few of many columns (TPC-H Q21 reads 4 of
/// lineitem's 16, and under 1 GiB got 250 partitions of a few dozen rows per input
/// batch), while counting the projected share of compressed files under-counts what the
/// rows take decoded (Q17's three lineitem columns take 5 times their compressed share).
fn scanned_bytes(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let mut bytes = 0usize;
    let _ = plan.apply(|node| {
        if let Some(exec) = node.downcast_ref::<DataSourceExec>() {
            bytes = bytes.saturating_add(scan_bytes(exec));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    bytes
}

/// Bytes counted for a variable-width value (a string view's 16 bytes and some data).
const VARIABLE_WIDTH: usize = 32;

/// One scan's output size estimate; see [`scanned_bytes`].
fn scan_bytes(exec: &DataSourceExec) -> usize {
    let file_bytes = || {
        exec.data_source()
            .downcast_ref::<FileScanConfig>()
            .map_or(0, |config| {
                config
                    .file_groups
                    .iter()
                    .flat_map(|group| group.iter())
                    .map(|file| file.object_meta.size as usize)
                    .fold(0usize, usize::saturating_add)
            })
    };
    let Ok(stats) = StatisticsContext::new().compute(exec, &StatisticsArgs::new()) else {
        return file_bytes();
    };
    if let Some(&bytes) = stats.total_byte_size.get_value() {
        return bytes;
    }
    match stats.num_rows.get_value() {
        Some(&rows) => {
            let schema = exec.schema();
            let row_width: usize = schema
                .fields()
                .iter()
                .map(|field| {
                    field
                        .data_type()
                        .primitive_width()
                        .unwrap_or(VARIABLE_WIDTH)
                })
                .sum();
            rows.saturating_mul(row_width.max(1))
        }
        None => file_bytes(),
    }
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
        let set = ExecutorConfig {
            broadcast_threshold: Some(3 * MIB),
            ..config.clone()
        };
        let sizing = Sizing::new(&set, &empty(), MemoryLimit::Finite(1000 * MIB));
        assert_eq!(sizing.broadcast_threshold, Some(3 * MIB));
        let fixed = ExecutorConfig {
            adaptive: false,
            ..set
        };
        let sizing = Sizing::new(&fixed, &empty(), MemoryLimit::Finite(1000 * MIB));
        assert_eq!(sizing.broadcast_threshold, None);
        assert_eq!(sizing.partition_target, None);
    }
}
