//! [`SpateQueryPlanner`]: the session's physical planner: DataFusion's, with the extension
//! planners of spate's own logical nodes ([`spate_delta::DeltaPlanner`] for `MERGE INTO`
//! a Delta table). Every statement, `EXPLAIN` included, is planned through it.

use std::sync::Arc;

use datafusion::catalog::Session as DfSession;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

/// DataFusion's planner with spate's extension planners.
pub(crate) struct SpateQueryPlanner {
    planner: DefaultPhysicalPlanner,
}

impl SpateQueryPlanner {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(SpateQueryPlanner {
            planner: DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(
                spate_delta::DeltaPlanner,
            )]),
        })
    }
}

impl std::fmt::Debug for SpateQueryPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpateQueryPlanner")
    }
}

#[async_trait::async_trait]
impl QueryPlanner for SpateQueryPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn DfSession,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.planner.create_physical_plan(plan, session).await
    }
}
