//! Hash joins that cannot run out of memory on executors: spate's grace hash join
//! (`spate_executor::grace`), shipped through spate's physical codec.
//!
//! Ballista's hash join holds a partition's whole build side in memory and fails the task
//! when it does not fit the executor's memory pool. On a cluster spate plans hash joins
//! (not Ballista's default sort-merge joins, see [`crate::client_config`]) and the
//! scheduler's planner ([`grace_joins`]) wraps every partitioned hash join in a
//! `GraceHashJoinExec`, the rewrite spate's own planner applies locally
//! (`GraceHashJoinExec::wrap`): a partition whose build side does not fit is split into
//! buckets on disk and joined bucket by bucket.
//!
//! The scheduler does not know the memory of the executors that will run the join, so
//! the budget travels as nothing: the node says only "a grace join over this hash join"
//! ([`GraceJoinNode`]), and each executor, decoding a task's plan, sets the budget from
//! its task's memory pool (Ballista gives each task slot an equal share of the
//! executor's `--memory-limit`) as spate's own executor does for a task
//! (`Sizing::join_build_budget_of`). An executor without a memory limit runs the hash
//! join as it is.

use std::sync::Arc;

use datafusion::common::tree_node::TreeNode;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::physical_plan::ExecutionPlan;
use spate_executor::Sizing;
use spate_executor::grace::GraceHashJoinExec;

/// The encoded form of a grace hash join: its one input is the hash join it runs.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GraceJoinNode {}

/// `plan` with every partitioned hash join wrapped in a grace hash join (the scheduler's
/// planner runs it on every physical plan). The budget set here is a placeholder: each
/// executor sets its own ([`decode`]).
pub(crate) fn grace_joins(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| GraceHashJoinExec::wrap(node, usize::MAX))
        .map(|rewritten| rewritten.data)
}

/// The node of `plan` when it is a grace hash join.
pub(crate) fn encode(plan: &Arc<dyn ExecutionPlan>) -> Option<GraceJoinNode> {
    plan.downcast_ref::<GraceHashJoinExec>()
        .map(|_| GraceJoinNode {})
}

/// The grace hash join over `inputs` (the hash join), with the budget of a task of this
/// executor; the hash join alone when the task's memory is not limited.
pub(crate) fn decode(
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
) -> Result<Arc<dyn ExecutionPlan>> {
    let [join] = inputs else {
        return Err(DataFusionError::Internal(format!(
            "a grace hash join from spate with {} inputs instead of one",
            inputs.len()
        )));
    };
    match ctx.memory_pool().memory_limit() {
        MemoryLimit::Finite(task_memory) => Ok(Arc::new(GraceHashJoinExec::try_new(
            Arc::clone(join),
            Sizing::join_build_budget_of(task_memory, 1),
        )?)),
        MemoryLimit::Infinite | MemoryLimit::Unknown => Ok(Arc::clone(join)),
    }
}
