//! [`SchedulerQueryPlanner`]: the scheduler's physical planner: DataFusion's, then spate's
//! changes that let the plan travel to executors intact ([`ship_csv_sinks`]) and its hash
//! joins run within the executors' memory ([`grace_joins`]), with the writing half of
//! Delta writes planned into Delta writers ([`DeltaWritePlanner`]). It is the
//! session's query planner rather than a physical optimizer rule because Ballista's
//! adaptive planner replaces the session's optimizer rules with its own, but keeps its
//! query planner.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

use crate::shipped_csv_sink::ship_csv_sinks;
use crate::shipped_delta_write::DeltaWritePlanner;
use crate::shipped_grace_join::grace_joins;

/// See the module doc.
pub(crate) struct SchedulerQueryPlanner {
    planner: DefaultPhysicalPlanner,
}

impl Default for SchedulerQueryPlanner {
    fn default() -> Self {
        SchedulerQueryPlanner {
            planner: DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(
                DeltaWritePlanner,
            )]),
        }
    }
}

impl std::fmt::Debug for SchedulerQueryPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchedulerQueryPlanner")
    }
}

#[async_trait::async_trait]
impl QueryPlanner for SchedulerQueryPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let physical = self.planner.create_physical_plan(plan, session).await?;
        grace_joins(ship_csv_sinks(physical)?)
    }
}
