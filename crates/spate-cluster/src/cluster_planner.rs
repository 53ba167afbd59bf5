//! [`ClusterQueryPlanner`]: the client session's query planner in cluster mode.
//!
//! It checks that the statement can run on a cluster ([`crate::support`]), prepares its
//! `COPY` targets (absolute paths, options in the format), and hands it to Ballista's
//! query planner, whose physical plan is one `DistributedQueryExec`: running it submits
//! the logical plan to the scheduler, waits for the job, and streams the result
//! partitions from the executors. A Delta write is that job under a commit made here
//! ([`crate::cluster_delta_write`]). Statements that only
//! read the catalog (`information_schema`, `DESCRIBE`) are planned and run locally: they
//! describe this session, which the scheduler does not have.

use std::sync::Arc;

use ballista_core::planner::{BallistaQueryPlanner, scans_only_information_schema};
use datafusion::catalog::Session;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion_proto::protobuf::LogicalPlanNode;

use crate::cluster_delta_write::plan_delta_write;
use crate::support::{check_plan, prepare_copies};

/// Plans statements onto the cluster; see the module doc.
pub(crate) struct ClusterQueryPlanner {
    ballista: BallistaQueryPlanner<LogicalPlanNode>,
    local: DefaultPhysicalPlanner,
}

impl std::fmt::Debug for ClusterQueryPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterQueryPlanner")
            .field("ballista", &self.ballista)
            .finish_non_exhaustive()
    }
}

impl ClusterQueryPlanner {
    pub fn new(ballista: BallistaQueryPlanner<LogicalPlanNode>) -> Self {
        ClusterQueryPlanner {
            ballista,
            local: DefaultPhysicalPlanner::default(),
        }
    }
}

#[async_trait::async_trait]
impl QueryPlanner for ClusterQueryPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if matches!(plan, LogicalPlan::DescribeTable(_)) || scans_only_information_schema(plan)? {
            return self.local.create_physical_plan(plan, session).await;
        }
        if let Some(write) = plan_delta_write(plan, session, &self.local, &self.ballista).await? {
            return Ok(write);
        }
        check_plan(plan)?;
        let plan = prepare_copies(plan.clone(), session)?;
        self.ballista.create_physical_plan(&plan, session).await
    }
}
