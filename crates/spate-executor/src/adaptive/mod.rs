//! Re-planning a running query from the sizes its stages actually produced.
//!
//! - [`broadcast`]: a partitioned join whose build side turns out small becomes a
//!   broadcast join, and its probe side is never shuffled (or, when the join's output
//!   must stay partitioned by its key, shuffled after the join).
//! - [`reads`]: when a stage is about to run, the reduce partitions it reads are
//!   coalesced toward a target size, skewed join partitions are split, and partitions a
//!   join can prove empty are skipped.
//!
//! - [`runtime_filter`]: when a join's build stage is done, its keys' range (and the
//!   keys themselves, when few) filter the join's probe side in its scan.
//!
//! All rewrite a stage's plan only when DataFusion's own checks accept the result
//! ([`is_executable`]), and rebuild the readers downstream when the stage's task count
//! changed ([`refresh_downstream`]).

mod broadcast;
mod key_carry;
mod probe_path;
mod reads;
mod runtime_filter;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::config::OptimizerOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::sanity_checker::check_plan_sanity;
use datafusion::physical_plan::{Distribution, ExecutionPlan, ExecutionPlanProperties};

pub use broadcast::BroadcastCandidate;
pub(crate) use broadcast::{Switch, broadcast_candidates, switch_to_broadcast};
pub use reads::ReadDecision;
pub(crate) use reads::adapt_reads;
pub use runtime_filter::FilterWait;
pub(crate) use runtime_filter::{add_runtime_filters, filter_waits};

use crate::shuffle::{ShuffleReaderExec, ShuffleStore};
use crate::stage::{Stage, StageOutputKind};

/// Whether every operator of `plan` gets the distribution and order it needs, and the
/// inputs it needs co-partitioned have equal partition counts.
pub(crate) fn is_executable(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    let options = OptimizerOptions::default();
    let mut valid = true;
    plan.apply(|node| {
        let requirements = node.input_distribution_requirements();
        let co_partitioned: Vec<usize> = requirements
            .per_child_distributions()
            .zip(node.children())
            .filter(|(required, _)| {
                !matches!(
                    required,
                    Distribution::UnspecifiedDistribution | Distribution::SinglePartition
                )
            })
            .map(|(_, child)| child.output_partitioning().partition_count())
            .collect();
        valid = check_plan_sanity(node, &options).is_ok()
            && co_partitioned.windows(2).all(|pair| pair[0] == pair[1]);
        Ok(if valid {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(valid)
}

/// Whether `rewritten` still delivers the output order `original` promised.
pub(crate) fn keeps_order(
    original: &Arc<dyn ExecutionPlan>,
    rewritten: &Arc<dyn ExecutionPlan>,
) -> Result<bool> {
    match original.output_ordering() {
        None => Ok(true),
        Some(ordering) => rewritten
            .equivalence_properties()
            .ordering_satisfy(ordering.clone()),
    }
}

/// `plan` with its readers of `stage` rebuilt for the stage's current plan.
fn refresh_readers(
    plan: &Arc<dyn ExecutionPlan>,
    stage: &Stage,
    store: &Arc<ShuffleStore>,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(Arc::clone(plan)
        .transform_up(|node| {
            if node
                .downcast_ref::<ShuffleReaderExec>()
                .is_some_and(|reader| reader.stage() == stage.id)
            {
                let equivalence = stage.body().equivalence_properties().clone();
                let reader = ShuffleReaderExec::for_stage(stage, Arc::clone(store), equivalence);
                return Ok(Transformed::yes(Arc::new(reader) as Arc<dyn ExecutionPlan>));
            }
            Ok(Transformed::no(node))
        })?
        .data)
}

/// After `stage`'s plan changed its task count, rebuilds the readers of its output in
/// the stages downstream (a pass-through output has one reduce partition per task).
pub(crate) fn refresh_downstream(
    stages: &mut [Stage],
    stage: usize,
    store: &Arc<ShuffleStore>,
) -> Result<()> {
    if !matches!(stages[stage].output, StageOutputKind::PassThrough) {
        return Ok(());
    }
    let stage = stages[stage].clone();
    for downstream in stages.iter_mut() {
        if downstream.inputs.contains(&stage.id) {
            let body = refresh_readers(downstream.body(), &stage, store)?;
            downstream.set_body(body);
        }
    }
    Ok(())
}
