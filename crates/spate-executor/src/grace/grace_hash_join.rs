//! [`GraceHashJoinExec`]: DataFusion's partitioned hash join, run in pieces when one
//! partition's build side does not fit its share of memory.
//!
//! # Algorithm
//! For join partition `p`, decided at run time from the actual size of the build side:
//! 1. If the build input's size is known before it is read (a shuffle reader knows the
//!    in-memory size of every reduce partition) and fits the budget, the wrapped
//!    `HashJoinExec` runs partition `p` as it is: no copy, no extra pass.
//! 2. If the size is not known, the build side is read into memory until it ends or
//!    passes the budget. If it ends within the budget, the join is rebuilt over those
//!    batches (a [`BucketExec`] in place of its build child) and runs.
//! 3. Otherwise both inputs of partition `p` are split into `k` buckets on disk by a
//!    seeded hash of the join keys ([`BucketSplitter`]), `k` chosen so that a bucket
//!    takes about half the budget. The join is rebuilt for each bucket in turn, with
//!    bucket leaves for both children, and each bucket goes through these same steps
//!    with a new seed (recursively, at most [`MAX_DEPTH`] levels): a bucket still too
//!    big is split again. One bucket runs at a time, so its hash table is gone before
//!    the next is built.
//!
//! ```text
//!   partition p:  build ──split(seed d)──► [b0][b1]...[bk-1]   (one spill file)
//!                 probe ──split(seed d)──► [q0][q1]...[qk-1]   (one spill file)
//!                 output = join(b0,q0) ++ join(b1,q1) ++ ... ; join(bi,qi) recurses
//! ```
//!
//! Rows with equal keys share a bucket on both sides, so every join type that DataFusion
//! runs partitioned (inner, outer, semi, anti, mark) gives the same rows as one big join.
//! A bucket that does not shrink when split (one key holding most rows) is joined as it
//! is, and fails with the memory pool's error naming the join if it cannot fit.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{PhysicalExpr, PhysicalExprRef};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};

use super::bucket_exec::{BucketExec, BucketSource};
use super::bucket_splitter::{BucketSplitter, SplitInput};
use crate::batch_memory::sliced_size;
use crate::shuffle::ShuffleReaderExec;

/// Levels of splitting before a bucket is joined as it is.
pub const MAX_DEPTH: usize = 3;
/// The most buckets one split makes.
const MAX_BUCKETS: usize = 128;
/// Buckets of a split whose input size was not known in advance.
const UNKNOWN_SIZE_BUCKETS: usize = 16;
/// Hash seeds of the split levels; none is the shuffle's.
const SEEDS: [u64; MAX_DEPTH] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
];

/// A partitioned hash join that joins in pieces when it must; see the module doc.
#[derive(Debug)]
pub struct GraceHashJoinExec {
    /// A `HashJoinExec` in `Partitioned` mode.
    join: Arc<dyn ExecutionPlan>,
    /// Build-side bytes one piece may hold.
    budget: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl GraceHashJoinExec {
    /// Wraps `join`, which must be a partitioned, not null-aware `HashJoinExec`.
    pub fn try_new(join: Arc<dyn ExecutionPlan>, budget: usize) -> Result<Self> {
        if !Self::can_wrap(&join) {
            return Err(DataFusionError::Internal(format!(
                "GraceHashJoinExec needs a partitioned hash join, not {}",
                join.name()
            )));
        }
        Ok(GraceHashJoinExec {
            join,
            budget: budget.max(1),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The hash join it runs.
    pub fn join(&self) -> &Arc<dyn ExecutionPlan> {
        &self.join
    }

    /// Whether `plan` is a join this operator can run in pieces: a hash join in
    /// `Partitioned` mode that is not null-aware (a null-aware anti join must see the
    /// whole build side to know whether it holds a null).
    pub fn can_wrap(plan: &Arc<dyn ExecutionPlan>) -> bool {
        plan.downcast_ref::<HashJoinExec>().is_some_and(|join| {
            *join.partition_mode() == PartitionMode::Partitioned && !join.null_aware
        })
    }

    /// A grace hash join over `join`, the new child of one, after a rewrite of the plan
    /// below it. Join selection (DataFusion's, or Ballista's on each stage of a cluster,
    /// with the real sizes of its inputs) may have swapped the join's inputs (the swapped
    /// join comes under a projection that restores the column order) or made it a
    /// collect-left join (its build side is small): the grace join then wraps the swapped
    /// join, under that projection, or steps aside for the collect-left one.
    fn rewrap(join: Arc<dyn ExecutionPlan>, budget: usize) -> Result<Arc<dyn ExecutionPlan>> {
        if Self::can_wrap(&join) {
            return Ok(Arc::new(Self::try_new(join, budget)?));
        }
        if let Some(hash_join) = join.downcast_ref::<HashJoinExec>()
            && *hash_join.partition_mode() != PartitionMode::Partitioned
        {
            return Ok(join);
        }
        if join.downcast_ref::<ProjectionExec>().is_some()
            && let [input] = join.children().as_slice()
            && Self::can_wrap(input)
        {
            let wrapped: Arc<dyn ExecutionPlan> =
                Arc::new(Self::try_new(Arc::clone(input), budget)?);
            let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
            return join.replace_children(vec![wrapped], options);
        }
        Self::try_new(join, budget).map(|grace| Arc::new(grace) as Arc<dyn ExecutionPlan>)
    }

    /// `node` wrapped in a grace hash join of `budget` when it is a join one can run in
    /// pieces ([`Self::can_wrap`]), otherwise as it is: the rewrite that spate's planner,
    /// and a cluster's scheduler, apply to every node of a plan.
    pub fn wrap(
        node: Arc<dyn ExecutionPlan>,
        budget: usize,
    ) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
        if !Self::can_wrap(&node) {
            return Ok(Transformed::no(node));
        }
        Ok(Transformed::yes(Arc::new(Self::try_new(node, budget)?)))
    }
}

impl DisplayAs for GraceHashJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GraceHashJoinExec: budget={} bytes", self.budget)
    }
}

impl ExecutionPlan for GraceHashJoinExec {
    fn name(&self) -> &str {
        "GraceHashJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.join.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.join]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(join), true) => Self::rewrap(join, self.budget),
            _ => Err(DataFusionError::Internal(
                "GraceHashJoinExec has exactly one child".into(),
            )),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let metrics = GraceMetrics::new(&self.metrics, partition);
        let run = Run {
            budget: self.budget,
            ctx: context,
            metrics,
        };
        let joined = join_partition(Arc::clone(&self.join), partition, run, 0);
        let stream = futures::stream::once(joined).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.join.schema(),
            stream,
        )))
    }
}

/// What every level of one partition's join shares.
#[derive(Clone)]
struct Run {
    budget: usize,
    ctx: Arc<TaskContext>,
    metrics: GraceMetrics,
}

/// Figures of the splits, under DataFusion's standard names so that every metrics
/// reader counts them.
#[derive(Clone)]
struct GraceMetrics {
    splits: Count,
    spilled_bytes: Count,
    spill_files: Count,
}

impl GraceMetrics {
    fn new(set: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        GraceMetrics {
            splits: MetricBuilder::new(set).counter("grace_splits", partition),
            spilled_bytes: MetricBuilder::new(set).spilled_bytes(partition),
            spill_files: MetricBuilder::new(set).spill_count(partition),
        }
    }
}

/// Joins partition `partition` of `join` (a `HashJoinExec`), in pieces if it must.
fn join_partition(
    join: Arc<dyn ExecutionPlan>,
    partition: usize,
    run: Run,
    depth: usize,
) -> BoxFuture<'static, Result<SendableRecordBatchStream>> {
    async move {
        let hash_join = join
            .downcast_ref::<HashJoinExec>()
            .ok_or_else(|| DataFusionError::Internal("grace join of a non-hash join".into()))?;
        let left = Arc::clone(hash_join.left());
        let known = known_bytes(&left, partition);
        let fits = known.is_some_and(|bytes| bytes <= run.budget as u64);
        if fits || depth >= MAX_DEPTH {
            return join.execute(partition, Arc::clone(&run.ctx));
        }
        let mut build = left.execute(partition, Arc::clone(&run.ctx))?;
        let mut buffered: Vec<RecordBatch> = Vec::new();
        if known.is_none() {
            let reservation = MemoryConsumer::new(format!("GraceHashJoin[{partition}]"))
                .with_can_spill(true)
                .register(run.ctx.memory_pool());
            let mut overflow = false;
            while let Some(batch) = build.next().await {
                let batch = batch?;
                let size = sliced_size(&batch);
                buffered.push(batch);
                if reservation.size() + size > run.budget || reservation.try_grow(size).is_err() {
                    overflow = true;
                    break;
                }
            }
            if !overflow {
                let bytes = reservation.size() as u64;
                drop(reservation);
                let source = BucketSource::Memory(parking_lot::Mutex::new(Some(buffered)));
                let bucket = BucketExec::new(
                    source,
                    bytes,
                    left.schema(),
                    partition,
                    left.output_partitioning().partition_count(),
                );
                let rebuilt = rebuild(hash_join, Arc::new(bucket), Arc::clone(hash_join.right()))?;
                return rebuilt.execute(partition, Arc::clone(&run.ctx));
            }
        }
        let buckets = known.map_or(UNKNOWN_SIZE_BUCKETS, |bytes| {
            (bytes.saturating_mul(2) / run.budget as u64 + 1).clamp(2, MAX_BUCKETS as u64) as usize
        });
        let flush = (run.budget / 2).clamp(1 << 20, 64 << 20);
        let (left_keys, right_keys): (Vec<PhysicalExprRef>, Vec<PhysicalExprRef>) =
            hash_join.on().iter().cloned().unzip();
        let seed = SEEDS[depth];
        let mut splitter =
            BucketSplitter::try_new(&run.ctx, left.schema(), left_keys, seed, buckets, flush)?;
        for batch in buffered.drain(..) {
            splitter.push(&batch)?;
        }
        while let Some(batch) = build.next().await {
            splitter.push(&batch?)?;
        }
        let build_split = splitter.finish()?;
        let right = Arc::clone(hash_join.right());
        let mut probe = right.execute(partition, Arc::clone(&run.ctx))?;
        let mut splitter =
            BucketSplitter::try_new(&run.ctx, right.schema(), right_keys, seed, buckets, flush)?;
        while let Some(batch) = probe.next().await {
            splitter.push(&batch?)?;
        }
        let probe_split = splitter.finish()?;
        run.metrics.splits.add(1);
        run.metrics
            .spilled_bytes
            .add((build_split.file.len() + probe_split.file.len()) as usize);
        run.metrics.spill_files.add(2);
        let schema = join.schema();
        let pieces = futures::stream::iter((0..buckets).filter_map(move |bucket| {
            let empty =
                build_split.bucket_bytes[bucket] == 0 && probe_split.bucket_bytes[bucket] == 0;
            (!empty).then(|| bucket_join(&join, &build_split, &probe_split, bucket))
        }))
        .then(move |piece| {
            let run = run.clone();
            async move { join_partition(piece?, 0, run, depth + 1).await }
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, pieces)) as SendableRecordBatchStream)
    }
    .boxed()
}

/// The join of bucket `bucket` of both split inputs.
fn bucket_join(
    join: &Arc<dyn ExecutionPlan>,
    build: &SplitInput,
    probe: &SplitInput,
    bucket: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let hash_join = join
        .downcast_ref::<HashJoinExec>()
        .ok_or_else(|| DataFusionError::Internal("grace join of a non-hash join".into()))?;
    let leaf = |split: &SplitInput, child: &Arc<dyn ExecutionPlan>| {
        let source = BucketSource::Spilled {
            file: Arc::clone(&split.file),
            bucket,
        };
        Arc::new(BucketExec::new(
            source,
            split.bucket_bytes[bucket],
            child.schema(),
            0,
            1,
        )) as Arc<dyn ExecutionPlan>
    };
    rebuild(
        hash_join,
        leaf(build, hash_join.left()),
        leaf(probe, hash_join.right()),
    )
}

/// `join` over new children, with fresh state.
fn rebuild(
    join: &HashJoinExec,
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    join.builder()
        .with_new_children(vec![left, right])?
        .reset_state()
        .build_exec()
}

/// The in-memory size of `plan`'s partition `partition`, when known before reading it.
fn known_bytes(plan: &Arc<dyn ExecutionPlan>, partition: usize) -> Option<u64> {
    if let Some(reader) = plan.downcast_ref::<ShuffleReaderExec>() {
        return reader.partition_bytes(partition);
    }
    plan.downcast_ref::<BucketExec>().map(BucketExec::bytes)
}
