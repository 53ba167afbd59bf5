//! The broadcast switch.
//!
//! # Algorithm
//! DataFusion plans a *partitioned* hash join when its estimates say the build side is
//! big. Those estimates are often far off (a selective filter on a dimension table is
//! guessed at 20%), and a partitioned join shuffles both inputs: shuffling the probe
//! side, usually the big one, is most of such a join's cost, and under a memory limit it
//! spills. So:
//! 1. At planning time every partitioned hash join whose two inputs are hash shuffles
//!    becomes a [`BroadcastCandidate`] if the rewrite below would be valid, and the stage
//!    that produces its probe side is made to wait for the stage that produces its build
//!    side.
//! 2. When the build stage is done, its real output size is known. If it is at most the
//!    broadcast threshold (and the probe input gives at least as many tasks as the threads,
//!    or as the join had), the join becomes DataFusion's `CollectLeft` mode: its build side
//!    is every partition of the build stage's output, gathered once into one hash table
//!    that all tasks of the stage share, and its probe side is the probe stage's own
//!    input plan, which from then on runs inside the join's stage. The probe stage never
//!    runs (it is *absorbed*), and its rows are never shuffled.
//!
//! 3. When absorbing is not valid, because an operator above the join needs its output
//!    partitioned by the join key (a second join on the same key, as in TPC-H Q17), an
//!    *inner* join on plain columns is *pushed down* instead: it moves into the probe
//!    stage, as a `CollectLeft` join over the gathered build output and the probe stage's
//!    own plan, and that stage now shuffles the join's output by the partitioning the
//!    join promised (its key columns, whose values are the probe keys', so the rows land in
//!    the partitions they would have). The join stage reads that shuffle where the join
//!    was. The probe side is then shuffled after the join, only the rows that matched.
//!
//! A switch changes the join's output partitioning (it becomes the probe input's) and the
//! join stage's task count, so it is made only when the rewritten stage still satisfies
//! every operator's distribution and ordering requirements (DataFusion's
//! `check_plan_sanity`, plus equal partition counts under every operator that needs
//! co-partitioned inputs), keeps the output order it had, and the readers downstream stay
//! right: a pass-through output's readers are rebuilt with the new task count, and a
//! one-task stage feeding a shuffle is left alone (the exchange above it may have kept an
//! order that only one input partition guarantees).

use std::sync::Arc;

use datafusion::common::JoinType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use super::{is_executable, keeps_order, refresh_downstream};
use crate::grace::GraceHashJoinExec;
use crate::planner::reader_stages;
use crate::shuffle::{ShuffleReaderExec, ShuffleStore, ShuffleWriterExec};
use crate::stage::{Stage, StageId, StageOutputKind};

/// A partitioned join that becomes a broadcast join if its build side turns out small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastCandidate {
    /// The stage the join runs in (when planned; an absorbed stage's joins move on).
    pub join_stage: StageId,
    /// The stage whose shuffled output is the join's build side.
    pub build: StageId,
    /// The stage whose shuffled output is the join's probe side.
    pub probe: StageId,
}

/// The partitioned joins of `stages` that could be switched; see the module doc.
pub(crate) fn broadcast_candidates(stages: &[Stage]) -> Result<Vec<BroadcastCandidate>> {
    let mut candidates = Vec::new();
    for stage in stages {
        let mut pairs = Vec::new();
        stage.body().apply(|node| {
            if let Some((build, probe)) = shuffled_join_inputs(node) {
                pairs.push((build, probe));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        for (build, probe) in pairs {
            let both_hashed = [build, probe].iter().all(|id| {
                matches!(
                    stages[id.0].output,
                    StageOutputKind::Shuffle(Partitioning::Hash(..))
                )
            });
            if both_hashed
                && (switched_plan(stage, build, &stages[probe.0])?.is_some()
                    || pushed_down(stage, build, &stages[probe.0], None)?.is_some())
            {
                candidates.push(BroadcastCandidate {
                    join_stage: stage.id,
                    build,
                    probe,
                });
            }
        }
    }
    Ok(candidates)
}

/// How [`switch_to_broadcast`] changed the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Not at all.
    None,
    /// The join stage absorbed the probe stage, which never runs.
    Absorbed,
    /// The join moved into the probe stage, which shuffles its output.
    PushedDown,
}

/// Switches the join of `build` and `probe` in `stages[join_stage]` to a broadcast join,
/// if valid: the join stage absorbs the probe stage (also rebuilding the readers of a
/// pass-through output; the probe stage's inputs become the join stage's), or else the
/// join is pushed down into the probe stage. See the module doc.
pub(crate) fn switch_to_broadcast(
    stages: &mut [Stage],
    join_stage: StageId,
    build: StageId,
    probe: StageId,
    store: &Arc<ShuffleStore>,
) -> Result<Switch> {
    if let Some(plan) = switched_plan(&stages[join_stage.0], build, &stages[probe.0])? {
        let probe_inputs = stages[probe.0].inputs.clone();
        let stage = &mut stages[join_stage.0];
        stage.set_body(plan);
        stage.inputs.retain(|id| *id != probe);
        stage.inputs.extend(probe_inputs);
        stage.inputs.sort();
        stage.inputs.dedup();
        refresh_downstream(stages, join_stage.0, store)?;
        return Ok(Switch::Absorbed);
    }
    let Some(pushed) = pushed_down(&stages[join_stage.0], build, &stages[probe.0], Some(store))?
    else {
        return Ok(Switch::None);
    };
    stages[probe.0] = pushed.probe;
    let stage = &mut stages[join_stage.0];
    stage.inputs = reader_stages(&pushed.join_stage_plan)?;
    stage.set_body(pushed.join_stage_plan);
    Ok(Switch::PushedDown)
}

/// The join inside `node` if it is a grace hash join, else `node`.
fn unwrap_grace(node: &Arc<dyn ExecutionPlan>) -> &Arc<dyn ExecutionPlan> {
    node.downcast_ref::<GraceHashJoinExec>()
        .map_or(node, GraceHashJoinExec::join)
}

/// The build and probe stages of `node` if it is a partitioned hash join (perhaps inside a
/// grace hash join) that reads two shuffles.
fn shuffled_join_inputs(node: &Arc<dyn ExecutionPlan>) -> Option<(StageId, StageId)> {
    let join = node.downcast_ref::<HashJoinExec>()?;
    if *join.partition_mode() != PartitionMode::Partitioned || join.null_aware {
        return None;
    }
    let build = join.left().downcast_ref::<ShuffleReaderExec>()?;
    let probe = join.right().downcast_ref::<ShuffleReaderExec>()?;
    (build.stage() != probe.stage()).then(|| (build.stage(), probe.stage()))
}

/// `stage`'s plan with the join of `build` and `probe` made a `CollectLeft` join over the
/// gathered build output and `probe`'s input plan; `None` if that plan would be invalid.
fn switched_plan(
    stage: &Stage,
    build: StageId,
    probe: &Stage,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if stage.tasks() == 1 && matches!(stage.output, StageOutputKind::Shuffle(_)) {
        return Ok(None);
    }
    let rewritten = Arc::clone(stage.body()).transform_down(|node| {
        let join = Arc::clone(unwrap_grace(&node));
        if shuffled_join_inputs(&join) != Some((build, probe.id)) {
            return Ok(Transformed::no(node));
        }
        let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
            return Ok(Transformed::no(node));
        };
        let broadcast = broadcast_join(hash_join, probe.body())?;
        Ok(Transformed::new(broadcast, true, TreeNodeRecursion::Jump))
    });
    // A rewrite DataFusion refuses (an operator above that needs co-partitioned inputs)
    // just means no switch.
    let Ok(rewritten) = rewritten else {
        return Ok(None);
    };
    if !rewritten.transformed {
        return Ok(None);
    }
    let plan = rewritten.data;
    Ok((keeps_order(stage.body(), &plan)? && is_executable(&plan)?).then_some(plan))
}

/// `hash_join` as a `CollectLeft` join: its build side (a shuffle reader) gathered into
/// one partition, its probe side `probe`.
fn broadcast_join(
    hash_join: &HashJoinExec,
    probe: &Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let gathered: Arc<dyn ExecutionPlan> =
        Arc::new(CoalescePartitionsExec::new(Arc::clone(hash_join.left())));
    hash_join
        .builder()
        .with_partition_mode(PartitionMode::CollectLeft)
        .with_new_children(vec![gathered, Arc::clone(probe)])?
        .reset_state()
        .build_exec()
}

/// A join pushed down into its probe stage: the stages' new plans.
struct PushedDown {
    /// The probe stage, running the broadcast join and shuffling its output.
    probe: Stage,
    /// The join stage's plan, reading the probe stage's shuffle where the join was.
    join_stage_plan: Arc<dyn ExecutionPlan>,
}

/// The join of `build` and `probe` in `stage` pushed down into the probe stage, if
/// valid: an inner join on plain columns of one type each side (so its output's key
/// columns hash like the probe keys), which promises a hash partitioning of its output;
/// both rewritten plans must pass DataFusion's checks and keep their order. Without a
/// `store` (at planning time) only whether it would be valid counts; the readers built
/// then are not kept.
fn pushed_down(
    stage: &Stage,
    build: StageId,
    probe: &Stage,
    store: Option<&Arc<ShuffleStore>>,
) -> Result<Option<PushedDown>> {
    let mut found: Option<Arc<dyn ExecutionPlan>> = None;
    stage.body().apply(|node| {
        let join = unwrap_grace(node);
        if shuffled_join_inputs(join) == Some((build, probe.id)) {
            found = Some(Arc::clone(join));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let Some(join) = found else {
        return Ok(None);
    };
    let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
        return Ok(None);
    };
    let (left, right) = (hash_join.left().schema(), hash_join.right().schema());
    let plain_keys = hash_join.on().iter().all(|(l, r)| {
        match (l.downcast_ref::<Column>(), r.downcast_ref::<Column>()) {
            (Some(l), Some(r)) => {
                left.field(l.index()).data_type() == right.field(r.index()).data_type()
            }
            _ => false,
        }
    });
    let Partitioning::Hash(exprs, partitions) = join.output_partitioning().clone() else {
        return Ok(None);
    };
    if *hash_join.join_type() != JoinType::Inner || !plain_keys {
        return Ok(None);
    }
    let broadcast = broadcast_join(hash_join, probe.body())?;
    if !is_executable(&broadcast)? {
        return Ok(None);
    }
    let mut inputs = probe.inputs.clone();
    inputs.push(build);
    inputs.sort();
    inputs.dedup();
    let store = store.map_or_else(|| Arc::new(ShuffleStore::default()), Arc::clone);
    let output = StageOutputKind::Shuffle(Partitioning::Hash(exprs, partitions));
    let sink = ShuffleWriterExec::try_new(broadcast, probe.id, output.clone(), Arc::clone(&store))?;
    let pushed = Stage {
        plan: Arc::new(sink),
        output,
        inputs,
        ..probe.clone()
    };
    // What the shuffle keeps of the join's properties: not its order.
    let mut equivalence = join.equivalence_properties().clone();
    equivalence.clear_orderings();
    equivalence.clear_per_partition_constants();
    let reader: Arc<dyn ExecutionPlan> =
        Arc::new(ShuffleReaderExec::for_stage(&pushed, store, equivalence));
    let rewritten = Arc::clone(stage.body()).transform_down(|node| {
        Ok(if Arc::ptr_eq(unwrap_grace(&node), &join) {
            Transformed::new(Arc::clone(&reader), true, TreeNodeRecursion::Jump)
        } else {
            Transformed::no(node)
        })
    });
    let Ok(rewritten) = rewritten else {
        return Ok(None);
    };
    let plan = rewritten.data;
    let valid = rewritten.transformed && keeps_order(stage.body(), &plan)? && is_executable(&plan)?;
    Ok(valid.then_some(PushedDown {
        probe: pushed,
        join_stage_plan: plan,
    }))
}
