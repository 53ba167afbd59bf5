//! Cutting a DataFusion physical plan into stages.
//!
//! # Algorithm
//! One pass over the optimized plan (`TreeNode::transform_down_up`; the cuts are made on
//! the way up):
//! 1. A `RepartitionExec` that hashes or deals rows round-robin (and need not keep an
//!    order) is an exchange: its input becomes a stage whose tasks shuffle their output
//!    by that partitioning, and the repartition is replaced by a [`ShuffleReaderExec`]
//!    with the same output partitioning. With `shuffle_partitions` set, every such
//!    exchange gets that many reduce partitions.
//! 2. The input of a `CoalescePartitionsExec` or `SortPreservingMergeExec` becomes a
//!    pass-through stage: map task `i` writes reduce partition `i`, which keeps each
//!    partition's order for the merge. An input that is already a shuffle reader is left
//!    as it is.
//! 3. What remains above the last cut is the result stage. Every other stage's root is
//!    its sink, a [`ShuffleWriterExec`] that writes its rows into the shuffle store as
//!    its output says.
//! 4. Under a memory limit, every hash join in `Partitioned` mode is wrapped in a
//!    [`GraceHashJoinExec`], which runs a partition in pieces when its build side turns
//!    out bigger than the budget.
//! 5. A pass-through stage under a `LIMIT` without order gets a row limit: its tasks not
//!    yet started are skipped once enough rows are there.
//! 6. With adaptivity on, partitioned joins of two shuffles are noted as broadcast
//!    candidates ([`crate::adaptive`]), decided when their build side is done.
//! 7. With runtime filters on, a stage that a join's build keys could filter is made to
//!    wait for the stage that builds them ([`crate::adaptive`]).
//!
//! The subtree of a `ScalarSubqueryExec` is never cut: it runs its subqueries before its
//! input, and a stage below it would run first and read a subquery value not yet there.
//! Nor is that of a `RecursiveQueryExec`, whose work table is filled while it runs.
//!
//! A shuffle reader promises what the exchange it replaces promised (its equivalence
//! properties), so operators above that rely on an ordering or a constant column still
//! find it.
//!
//! Stages are numbered in the order the pass creates them, which is an order they can run
//! in: a stage is created only after every stage below it.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::limit::GlobalLimitExec;
use datafusion::physical_plan::recursive_query::RecursiveQueryExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::scalar_subquery::ScalarSubqueryExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, Partitioning, displayable,
};

use crate::adaptive::{BroadcastCandidate, FilterWait, broadcast_candidates, filter_waits};
use crate::grace::GraceHashJoinExec;
use crate::metrics::QueryMetrics;
use crate::shuffle::{ShuffleReaderExec, ShuffleStore, ShuffleWriterExec};
use crate::sizing::Sizing;
use crate::stage::{Stage, StageId, StageOutputKind};

/// The stages of one query, in an order they can run in; the last is the result stage.
#[derive(Debug, Clone)]
pub struct StageGraph {
    /// The stages; `stages[i].id == StageId(i)`.
    pub stages: Vec<Stage>,
    /// Partitioned joins that become broadcast joins if their build side turns out small
    /// (see [`crate::adaptive`]); each one's probe stage waits for its build stage.
    pub broadcasts: Vec<BroadcastCandidate>,
    /// Stages that wait for a join's build stage, whose keys filter them before they run
    /// (runtime filters, see [`crate::adaptive`]).
    pub filter_waits: Vec<FilterWait>,
}

impl StageGraph {
    /// The stage graph as text: one block per stage with its output, tasks, inputs and
    /// operators.
    pub fn display(&self) -> String {
        self.render(None)
    }

    /// The stage graph after it ran, for `EXPLAIN ANALYZE`: each stage with what it did
    /// (`metrics`: time, rows, the adaptive decisions taken) and its operators with their
    /// metrics. A stage absorbed into a broadcast join says so.
    pub fn display_analyzed(&self, metrics: &QueryMetrics) -> String {
        self.render(Some(metrics))
    }

    fn render(&self, metrics: Option<&QueryMetrics>) -> String {
        let mut out = String::new();
        for stage in &self.stages {
            let output = match &stage.output {
                StageOutputKind::Shuffle(p) => format!("shuffle {p}"),
                StageOutputKind::PassThrough => "pass-through".to_string(),
                StageOutputKind::Result => "result".to_string(),
            };
            let inputs: Vec<String> = stage.inputs.iter().map(|i| i.to_string()).collect();
            let limit = stage
                .row_limit
                .map(|n| format!(", stops after {n} rows"))
                .unwrap_or_default();
            out.push_str(&format!(
                "Stage {} [{} tasks, output: {output}, reads: [{}]{limit}]\n",
                stage.id,
                stage.tasks(),
                inputs.join(", ")
            ));
            let ran = metrics.map(|m| m.stages.iter().find(|s| s.stage == stage.id.0));
            let plan = match ran {
                None => displayable(stage.plan.as_ref()).indent(true).to_string(),
                Some(None) => {
                    out.push_str("  (absorbed: a broadcast join reads its input directly)\n");
                    continue;
                }
                Some(Some(figures)) => {
                    out.push_str(&format!("  {}\n", figures.summary()));
                    DisplayableExecutionPlan::with_metrics(stage.plan.as_ref())
                        .indent(true)
                        .to_string()
                }
            };
            for line in plan.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        for candidate in &self.broadcasts {
            out.push_str(&format!(
                "Adaptive: stage {} runs after stage {}; if stage {}'s output turns out small, \
                 the join in stage {} broadcasts it and reads stage {}'s input directly\n",
                candidate.probe,
                candidate.build,
                candidate.build,
                candidate.join_stage,
                candidate.probe
            ));
        }
        for wait in &self.filter_waits {
            out.push_str(&format!(
                "Adaptive: stage {} runs after stage {}, whose join keys filter it for the join \
                 in stage {}\n",
                wait.probe, wait.build, wait.join_stage
            ));
        }
        out
    }

    /// The stages `stage` waits for besides those it reads: the probe side of a broadcast
    /// candidate waits for its build side, and so does a stage a runtime filter reaches.
    pub fn waits_for(&self, stage: StageId) -> impl Iterator<Item = StageId> + '_ {
        let broadcasts = self.broadcasts.iter().map(|c| (c.probe, c.build));
        let filters = self.filter_waits.iter().map(|w| (w.probe, w.build));
        broadcasts
            .chain(filters)
            .filter(move |(probe, _)| *probe == stage)
            .map(|(_, build)| build)
    }
}

/// Cuts `plan` into stages whose shuffle readers read from `store`.
pub fn plan_stages(
    plan: Arc<dyn ExecutionPlan>,
    store: &Arc<ShuffleStore>,
    sizing: &Sizing,
) -> Result<StageGraph> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut cut = |input: Arc<dyn ExecutionPlan>,
                   output: StageOutputKind,
                   equivalence: EquivalenceProperties| {
        cut_stage(&mut stages, store, (input, output), equivalence)
    };
    // A scalar subquery runs inside its `ScalarSubqueryExec` before that node's input does,
    // and a recursive query fills its work table while it runs; an exchange below either
    // would run too early, so their subtrees stay whole (`Jump`).
    let keep_whole = |node: Arc<dyn ExecutionPlan>| {
        let recursion = if node.downcast_ref::<ScalarSubqueryExec>().is_some()
            || node.downcast_ref::<RecursiveQueryExec>().is_some()
        {
            TreeNodeRecursion::Jump
        } else {
            TreeNodeRecursion::Continue
        };
        Ok(Transformed::new(node, false, recursion))
    };
    let root = plan
        .transform_down_up(keep_whole, |node| {
            if let Some(repartition) = node.downcast_ref::<RepartitionExec>()
                && !repartition.preserve_order()
            {
                let partitioning = match repartition.partitioning() {
                    Partitioning::Hash(exprs, n) => {
                        Partitioning::Hash(exprs.clone(), sizing.shuffle_partitions.unwrap_or(*n))
                    }
                    Partitioning::RoundRobinBatch(n) => {
                        Partitioning::RoundRobinBatch(sizing.shuffle_partitions.unwrap_or(*n))
                    }
                    other => other.clone(),
                };
                if matches!(
                    partitioning,
                    Partitioning::Hash(..) | Partitioning::RoundRobinBatch(_)
                ) {
                    let input = Arc::clone(repartition.input());
                    let equivalence = repartition.properties().equivalence_properties().clone();
                    return Ok(Transformed::yes(cut(
                        input,
                        StageOutputKind::Shuffle(partitioning),
                        equivalence,
                    )?));
                }
            }
            let gathers = node.downcast_ref::<CoalescePartitionsExec>().is_some()
                || node.downcast_ref::<SortPreservingMergeExec>().is_some();
            if gathers && let [child] = node.children().as_slice() {
                if child.downcast_ref::<ShuffleReaderExec>().is_some() {
                    return Ok(Transformed::no(node));
                }
                let equivalence = child.equivalence_properties().clone();
                let reader = cut(Arc::clone(child), StageOutputKind::PassThrough, equivalence)?;
                let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
                return Ok(Transformed::yes(
                    node.replace_children(vec![reader], options)?,
                ));
            }
            match sizing.join_build_budget {
                Some(budget) => GraceHashJoinExec::wrap(node, budget),
                None => Ok(Transformed::no(node)),
            }
        })?
        .data;
    let id = StageId(stages.len());
    stages.push(Stage {
        id,
        inputs: reader_stages(&root)?,
        plan: root,
        output: StageOutputKind::Result,
        row_limit: None,
        split_tasks: Vec::new(),
    });
    set_row_limits(&mut stages)?;
    let mut graph = StageGraph {
        stages,
        broadcasts: Vec::new(),
        filter_waits: Vec::new(),
    };
    if sizing.broadcast_threshold.is_some() {
        graph.broadcasts = broadcast_candidates(&graph.stages)?;
    }
    if sizing.runtime_filters {
        graph.filter_waits = filter_waits(&graph)?;
    }
    Ok(graph)
}

/// Makes `input` the next map stage of `stages`, its rows going to `output` through a
/// [`ShuffleWriterExec`] at its root; returns the reader of that output, which
/// `equivalence` holds of.
fn cut_stage(
    stages: &mut Vec<Stage>,
    store: &Arc<ShuffleStore>,
    (input, output): (Arc<dyn ExecutionPlan>, StageOutputKind),
    equivalence: EquivalenceProperties,
) -> Result<Arc<dyn ExecutionPlan>> {
    let id = StageId(stages.len());
    let inputs = reader_stages(&input)?;
    let sink = ShuffleWriterExec::try_new(input, id, output.clone(), Arc::clone(store))?;
    let stage = Stage {
        id,
        inputs,
        plan: Arc::new(sink),
        output,
        row_limit: None,
        split_tasks: Vec::new(),
    };
    let reader = ShuffleReaderExec::for_stage(&stage, Arc::clone(store), equivalence);
    stages.push(stage);
    Ok(Arc::new(reader))
}

/// Marks the pass-through stages whose reader needs only some rows, from any of its
/// partitions: under a `CoalescePartitionsExec` with a fetch, or under a
/// `GlobalLimitExec` over a plain `CoalescePartitionsExec`. (A `SortPreservingMergeExec`
/// with a fetch needs every partition's first rows, so its input is never limited.)
fn set_row_limits(stages: &mut [Stage]) -> Result<()> {
    let mut limits: Vec<(StageId, usize)> = Vec::new();
    for stage in stages.iter() {
        stage.plan.apply(|node| {
            let (coalesce, needed) = if let Some(limit) = node.downcast_ref::<GlobalLimitExec>() {
                match limit.fetch() {
                    Some(fetch) => (
                        Arc::clone(limit.input()),
                        limit.skip().saturating_add(fetch),
                    ),
                    None => return Ok(TreeNodeRecursion::Continue),
                }
            } else {
                match node.as_ref().fetch() {
                    Some(fetch) => (Arc::clone(node), fetch),
                    None => return Ok(TreeNodeRecursion::Continue),
                }
            };
            if coalesce.downcast_ref::<CoalescePartitionsExec>().is_some()
                && let [child] = coalesce.children().as_slice()
                && let Some(reader) = child.downcast_ref::<ShuffleReaderExec>()
            {
                limits.push((reader.stage(), needed));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    for (id, needed) in limits {
        let stage = &mut stages[id.0];
        if matches!(stage.output, StageOutputKind::PassThrough) {
            stage.row_limit = Some(stage.row_limit.map_or(needed, |l| l.min(needed)));
        }
    }
    Ok(())
}

/// The stages the shuffle readers in `plan` read.
pub(crate) fn reader_stages(plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<StageId>> {
    let mut ids = Vec::new();
    plan.apply(|node| {
        if let Some(reader) = node.downcast_ref::<ShuffleReaderExec>() {
            ids.push(reader.stage());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}
