//! Adaptive shuffle reads: re-planning what each task of a stage reads from the sizes its
//! input stages actually produced.
//!
//! # Algorithm
//! When every input of a stage is done and before its tasks are queued, the sizes of its
//! hash-shuffled inputs are known per map output and reduce partition. If the stage
//! reads its hash shuffles partition by partition (its task count is their partition
//! count, and they all have the same count), then:
//! 1. **Target.** Each task should read about `target` bytes: the sizing's advisory
//!    partition size, but no more than the total over the threads (so that a small
//!    input still keeps every thread busy) and no less than 1 MiB.
//! 2. **Skew.** If the stage holds one partitioned hash join reading two shuffles, and
//!    no other operator of the stage needs its input hash-partitioned, a partition of one
//!    join side that is larger than 5× that side's median partition and larger than half
//!    the target is *skewed*. It is read in slices: contiguous runs of map outputs of about
//!    half the target each (so that the other threads share a hot key's work), one task
//!    per slice, and every slice's task also reads the
//!    whole matching partition of the other side (a shared copy). Only the side whose rows
//!    the join emits at most once per match may be sliced: the probe (right) side for
//!    inner, right, right-semi, right-anti and right-mark joins, the build (left) side
//!    for inner, left, left-semi, left-anti and left-mark joins. Full joins and null-aware
//!    anti joins are never sliced. Aggregations need no slicing: their partial
//!    aggregation before the shuffle already shrinks a hot key to one row per map task.
//! 3. **Coalescing.** The remaining partitions are walked in order and adjacent ones are
//!    merged into one task while their summed size stays within the target (Spark's
//!    coalescing of shuffle partitions). Merged partitions keep the hash property: rows
//!    of one key still meet in one task, on both sides of a join.
//! 4. **Empty partitions.** A group whose rows the stage provably turns into nothing (an
//!    inner join with one side empty, a left join with an empty left side, ...) gets no
//!    task at all.
//!
//! The stage's readers are rebuilt with a [`ReadSpec`] per task. A rebuilt reader no
//! longer promises an order (a task concatenates partitions, or reads parts of one), so
//! the rewritten plan is used only if DataFusion's checks accept it (no operator needed
//! that order) and it keeps the stage's output order; readers of the stage's own output
//! downstream are rebuilt for its new task count.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::logical_expr::JoinType;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{
    Distribution, ExecutionPlan, ExecutionPlanProperties, Partitioning,
};

use super::{is_executable, keeps_order, refresh_downstream};
use crate::grace::GraceHashJoinExec;
use crate::shuffle::{ReadSpec, ShuffleReaderExec, ShuffleStore};
use crate::stage::{Stage, StageId, StageOutputKind};

const MIB: u64 = 1 << 20;
/// A partition is skewed when it is this many times its side's median (and above the
/// target size).
const SKEW_FACTOR: u64 = 5;

/// What the re-plan of one stage's reads decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadDecision {
    /// Reduce partitions the stage would have read, one task each.
    pub partitions_before: usize,
    /// Tasks it runs instead.
    pub tasks_after: usize,
    /// Skewed join partitions read in slices.
    pub skewed_partitions: usize,
    /// Tasks reading one slice of a skewed partition.
    pub skew_slices: usize,
    /// Partitions that got no task because the stage provably makes nothing of them.
    pub empty_skipped: usize,
}

/// Re-plans what the tasks of `stages[id]` read, from the sizes of its finished inputs;
/// see the module doc. `None` when nothing changes.
pub(crate) fn adapt_reads(
    stages: &mut [Stage],
    id: StageId,
    store: &Arc<ShuffleStore>,
    advisory: usize,
    threads: usize,
) -> Result<Option<ReadDecision>> {
    let stage = &stages[id.0];
    let Some(inputs) = hash_inputs(stage, stages)? else {
        return Ok(None);
    };
    let partitions = stage.plan_partitions();
    let mut sizes = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let Some(per_map) = store.map_partition_bytes(*input) else {
            return Ok(None);
        };
        if per_map.iter().any(|m| m.len() != partitions) {
            return Ok(None);
        }
        sizes.push(per_map);
    }
    let totals: Vec<u64> = (0..partitions)
        .map(|p| sizes.iter().flatten().map(|m| m[p]).sum())
        .collect();
    let all: u64 = totals.iter().sum();
    let target = (advisory as u64)
        .min(all.div_ceil(threads.max(1) as u64))
        .max(MIB);
    let join = splittable_join(stage.body(), &inputs)?;
    let skew = match &join {
        Some(join) => find_skew(join, &inputs, &sizes, (target / 2).max(MIB)),
        None => Vec::new(),
    };
    let mut groups = coalesce(&totals, target, &skew);
    // Drop groups the stage makes nothing of; keep one so the stage still has a task.
    let before_skip = groups.len();
    let empty_input = |group: &Group, reader: StageId| -> bool {
        let at = inputs.iter().position(|s| *s == reader);
        at.is_some_and(|i| group.bytes(&sizes[i]) == 0)
    };
    let mut kept: Vec<Group> = groups
        .iter()
        .filter(|g| !yields_nothing(stage.body(), &|reader| empty_input(g, reader)))
        .cloned()
        .collect();
    if kept.is_empty() {
        kept = groups.drain(..1).collect();
    }
    let empty_skipped = before_skip - kept.len();
    let groups = kept;
    let identity = empty_skipped == 0
        && skew.is_empty()
        && groups.len() == partitions
        && groups.iter().all(|g| g.partitions.len() == 1);
    if identity {
        return Ok(None);
    }
    let plan = rewrite_readers(stage.body(), &inputs, &groups)?;
    if !keeps_order(stage.body(), &plan)?
        || !is_executable(&plan)?
        || plan.output_partitioning().partition_count() != groups.len()
    {
        return Ok(None);
    }
    let decision = ReadDecision {
        partitions_before: partitions,
        tasks_after: groups.len(),
        skewed_partitions: skew.len(),
        skew_slices: skew.iter().map(|s| s.slices.len()).sum(),
        empty_skipped,
    };
    stages[id.0].set_body(plan);
    refresh_downstream(stages, id.0, store)?;
    Ok(Some(decision))
}

/// The distinct stages whose hash shuffles `stage` reads partition by partition, or
/// `None` if its reads cannot be re-planned.
fn hash_inputs(stage: &Stage, stages: &[Stage]) -> Result<Option<Vec<StageId>>> {
    let mut inputs = Vec::new();
    let mut plannable = true;
    stage.body().apply(|node| {
        if let Some(reader) = node.downcast_ref::<ShuffleReaderExec>() {
            let input = &stages[reader.stage().0];
            let hashed = matches!(
                input.output,
                StageOutputKind::Shuffle(Partitioning::Hash(..))
            );
            if hashed {
                plannable &= !reader.is_adapted()
                    && node.output_partitioning().partition_count() == stage.plan_partitions()
                    && !inputs.contains(&reader.stage());
                inputs.push(reader.stage());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok((plannable && !inputs.is_empty() && stage.tasks() > 0).then_some(inputs))
}

/// A partitioned join whose two sides are readers of `inputs`, with what may be sliced.
#[derive(Debug, Clone)]
struct SplittableJoin {
    /// Index into `inputs` of the build (left) and probe (right) side.
    left: usize,
    right: usize,
    may_slice_left: bool,
    may_slice_right: bool,
}

/// The stage's one partitioned join reading two of `inputs`, if skewed partitions of it
/// may be sliced: no other operator of the stage needs a hash-partitioned input.
fn splittable_join(
    plan: &Arc<dyn ExecutionPlan>,
    inputs: &[StageId],
) -> Result<Option<SplittableJoin>> {
    let mut joins = Vec::new();
    let mut others_need_hash = false;
    plan.apply(|node| {
        if let Some(join) = node.downcast_ref::<HashJoinExec>()
            && *join.partition_mode() == PartitionMode::Partitioned
        {
            joins.push(Arc::clone(node));
            return Ok(TreeNodeRecursion::Continue);
        }
        others_need_hash |= node
            .input_distribution_requirements()
            .per_child_distributions()
            .any(|d| {
                !matches!(
                    d,
                    Distribution::UnspecifiedDistribution | Distribution::SinglePartition
                )
            });
        Ok(TreeNodeRecursion::Continue)
    })?;
    let [join] = joins.as_slice() else {
        return Ok(None);
    };
    let Some(join) = join.downcast_ref::<HashJoinExec>() else {
        return Ok(None);
    };
    let side = |child: &Arc<dyn ExecutionPlan>| {
        let reader = child.downcast_ref::<ShuffleReaderExec>()?;
        inputs.iter().position(|s| *s == reader.stage())
    };
    let (Some(left), Some(right)) = (side(join.left()), side(join.right())) else {
        return Ok(None);
    };
    if others_need_hash || join.null_aware || inputs.len() != 2 {
        return Ok(None);
    }
    use JoinType::*;
    let join_type = *join.join_type();
    Ok(Some(SplittableJoin {
        left,
        right,
        may_slice_left: matches!(join_type, Inner | Left | LeftSemi | LeftAnti | LeftMark),
        may_slice_right: matches!(join_type, Inner | Right | RightSemi | RightAnti | RightMark),
    }))
}

/// A skewed partition read in slices of map outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Skew {
    partition: usize,
    /// Index into the stage's inputs of the sliced side.
    side: usize,
    /// Runs of map outputs of the sliced side, one task each.
    slices: Vec<std::ops::Range<usize>>,
}

/// The skewed partitions of `join`'s sides, sliced into runs of about `target` bytes;
/// see the module doc.
fn find_skew(
    join: &SplittableJoin,
    inputs: &[StageId],
    sizes: &[Vec<Vec<u64>>],
    target: u64,
) -> Vec<Skew> {
    debug_assert_eq!(inputs.len(), sizes.len());
    let side_totals = |side: usize| -> Vec<u64> {
        let partitions = sizes[side].first().map_or(0, Vec::len);
        (0..partitions)
            .map(|p| sizes[side].iter().map(|m| m[p]).sum())
            .collect()
    };
    let mut candidates = Vec::new();
    for (side, allowed) in [
        (join.left, join.may_slice_left),
        (join.right, join.may_slice_right),
    ] {
        if !allowed {
            continue;
        }
        let totals = side_totals(side);
        let median = median(&totals);
        for (partition, &bytes) in totals.iter().enumerate() {
            if bytes > median.saturating_mul(SKEW_FACTOR) && bytes > target {
                let per_map: Vec<u64> = sizes[side].iter().map(|m| m[partition]).collect();
                let slices = slice_maps(&per_map, target);
                if slices.len() > 1 {
                    candidates.push((
                        bytes,
                        Skew {
                            partition,
                            side,
                            slices,
                        },
                    ));
                }
            }
        }
    }
    // A partition skewed on both sides is sliced on its larger side only.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut skew: Vec<Skew> = Vec::new();
    for (_, candidate) in candidates {
        if skew.iter().all(|s| s.partition != candidate.partition) {
            skew.push(candidate);
        }
    }
    skew.sort_by_key(|s| s.partition);
    skew
}

/// The median of `values` (0 for none).
fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// Contiguous runs of map outputs of about `target` bytes each (a run closes once it
/// reaches the target; empty outputs join the run they fall in).
fn slice_maps(per_map: &[u64], target: u64) -> Vec<std::ops::Range<usize>> {
    let mut slices = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (map, &size) in per_map.iter().enumerate() {
        bytes += size;
        if bytes >= target {
            slices.push(start..map + 1);
            start = map + 1;
            bytes = 0;
        }
    }
    if start < per_map.len() {
        match slices.last_mut() {
            // A small remainder joins the last slice.
            Some(last) if bytes < target / 2 => last.end = per_map.len(),
            _ => slices.push(start..per_map.len()),
        }
    }
    slices
}

/// What one task of the re-planned stage reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    /// Adjacent reduce partitions.
    partitions: std::ops::Range<usize>,
    /// For a slice of a skewed partition: the sliced side and its map outputs.
    slice: Option<(usize, std::ops::Range<usize>)>,
}

impl Group {
    /// The bytes this task reads of one input (`per_map`: its sizes per map output and
    /// partition).
    fn bytes(&self, per_map: &[Vec<u64>]) -> u64 {
        per_map
            .iter()
            .map(|m| m[self.partitions.clone()].iter().sum::<u64>())
            .sum()
    }

    /// What it reads of input `side`.
    fn spec(&self, side: usize) -> ReadSpec {
        match &self.slice {
            None => ReadSpec {
                partitions: self.partitions.clone(),
                maps: None,
                shared: false,
            },
            Some((sliced, maps)) if *sliced == side => ReadSpec {
                partitions: self.partitions.clone(),
                maps: Some(maps.clone()),
                shared: false,
            },
            Some(_) => ReadSpec {
                partitions: self.partitions.clone(),
                maps: None,
                shared: true,
            },
        }
    }
}

/// Adjacent partitions merged while their sum stays within `target`; each skewed
/// partition becomes one group per slice.
fn coalesce(totals: &[u64], target: u64, skew: &[Skew]) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut open: Option<(std::ops::Range<usize>, u64)> = None;
    for (partition, &bytes) in totals.iter().enumerate() {
        if let Some(skewed) = skew.iter().find(|s| s.partition == partition) {
            if let Some((range, _)) = open.take() {
                groups.push(Group {
                    partitions: range,
                    slice: None,
                });
            }
            groups.extend(skewed.slices.iter().map(|maps| Group {
                partitions: partition..partition + 1,
                slice: Some((skewed.side, maps.clone())),
            }));
            continue;
        }
        open = match open.take() {
            Some((range, sum)) if sum + bytes <= target => {
                Some((range.start..partition + 1, sum + bytes))
            }
            Some((range, _)) => {
                groups.push(Group {
                    partitions: range,
                    slice: None,
                });
                Some((partition..partition + 1, bytes))
            }
            None => Some((partition..partition + 1, bytes)),
        };
    }
    if let Some((range, _)) = open {
        groups.push(Group {
            partitions: range,
            slice: None,
        });
    }
    groups
}

/// Whether the plan provably produces no rows when the readers for which `empty` holds
/// produce none. Conservative: an operator not known to keep "no input, no output" says
/// no.
fn yields_nothing(plan: &Arc<dyn ExecutionPlan>, empty: &dyn Fn(StageId) -> bool) -> bool {
    if let Some(reader) = plan.downcast_ref::<ShuffleReaderExec>() {
        return empty(reader.stage());
    }
    if let Some(grace) = plan.downcast_ref::<GraceHashJoinExec>() {
        return yields_nothing(grace.join(), empty);
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        use JoinType::*;
        let left = || yields_nothing(join.left(), empty);
        let right = || yields_nothing(join.right(), empty);
        return match join.join_type() {
            Inner | LeftSemi | RightSemi => left() || right(),
            Left | LeftAnti | LeftMark => left(),
            Right | RightAnti | RightMark => right(),
            Full => left() && right(),
        };
    }
    // An aggregation without groups makes a row of an empty input, except the partial
    // step, whose missing row the final step does not miss.
    let passes_emptiness = plan.downcast_ref::<ProjectionExec>().is_some()
        || plan.downcast_ref::<FilterExec>().is_some()
        || plan.downcast_ref::<SortExec>().is_some()
        || plan.downcast_ref::<LocalLimitExec>().is_some()
        || plan.downcast_ref::<AggregateExec>().is_some_and(|agg| {
            !agg.group_expr().is_empty() || *agg.mode() == AggregateMode::Partial
        });
    match plan.children().as_slice() {
        [child] if passes_emptiness => yields_nothing(child, empty),
        _ => false,
    }
}

/// `plan` with the readers of `inputs` reading `groups`; a sliced join's two readers
/// read their own side of each group.
fn rewrite_readers(
    plan: &Arc<dyn ExecutionPlan>,
    inputs: &[StageId],
    groups: &[Group],
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(Arc::clone(plan)
        .transform_up(|node| {
            let Some(reader) = node.downcast_ref::<ShuffleReaderExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(side) = inputs.iter().position(|s| *s == reader.stage()) else {
                return Ok(Transformed::no(node));
            };
            let reads = groups.iter().map(|g| g.spec(side)).collect();
            Ok(Transformed::yes(
                Arc::new(reader.with_reads(reads)) as Arc<dyn ExecutionPlan>
            ))
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacent_small_partitions_merge_up_to_the_target() {
        let groups = coalesce(&[10, 10, 10, 50, 0, 0, 90, 5], 30, &[]);
        let ranges: Vec<_> = groups.iter().map(|g| g.partitions.clone()).collect();
        assert_eq!(ranges, vec![0..3, 3..4, 4..6, 6..7, 7..8]);
    }

    #[test]
    fn a_skewed_partition_becomes_one_group_per_slice_and_breaks_the_run() {
        let skew = [Skew {
            partition: 1,
            side: 1,
            slices: vec![0..2, 2..4],
        }];
        let groups = coalesce(&[1, 500, 1, 1], 100, &skew);
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0].partitions, 0..1);
        assert_eq!(groups[1].slice, Some((1, 0..2)));
        assert_eq!(groups[2].slice, Some((1, 2..4)));
        assert_eq!(groups[3].partitions, 2..4);
        // The sliced side takes its maps; the other side reads a shared copy of the whole
        // partition.
        assert_eq!(groups[1].spec(1).maps, Some(0..2));
        assert!(!groups[1].spec(1).shared);
        assert_eq!(groups[1].spec(0).maps, None);
        assert!(groups[1].spec(0).shared);
    }

    #[test]
    fn map_outputs_are_sliced_near_the_target() {
        assert_eq!(slice_maps(&[40, 40, 40, 40, 10], 80), vec![0..2, 2..5]);
        assert_eq!(slice_maps(&[100, 0, 100], 80), vec![0..1, 1..3]);
        assert_eq!(slice_maps(&[10, 10], 80), vec![0..2]);
    }

    #[test]
    fn only_a_partition_far_above_the_median_and_the_target_is_skewed() {
        let join = SplittableJoin {
            left: 0,
            right: 1,
            may_slice_left: false,
            may_slice_right: true,
        };
        let inputs = [StageId(0), StageId(1)];
        // Two map outputs per side, four partitions.
        let build = vec![vec![5, 5, 5, 5], vec![5, 5, 5, 5]];
        let probe = vec![vec![10, 10, 400, 10], vec![10, 10, 400, 10]];
        let skew = find_skew(&join, &inputs, &[build.clone(), probe.clone()], 100);
        assert_eq!(
            skew,
            vec![Skew {
                partition: 2,
                side: 1,
                slices: vec![0..1, 1..2]
            }]
        );
        // Above the median but under the target: left alone.
        assert!(find_skew(&join, &inputs, &[build.clone(), probe.clone()], 1000).is_empty());
        // A join whose probe side may not be sliced (a left join) is left alone.
        let left_join = SplittableJoin {
            may_slice_right: false,
            ..join
        };
        assert!(find_skew(&left_join, &inputs, &[build, probe], 100).is_empty());
    }
}
