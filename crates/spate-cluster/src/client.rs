//! The client side: a session whose statements run on a cluster.
//!
//! This is what Ballista's `SessionContext::remote_with_state` does (Ballista's settings
//! on the session, Ballista's query planner), with spate's planner in front of Ballista's
//! ([`crate::cluster_planner`]). Nothing connects until a statement runs;
//! [`check_reachable`] tells quickly whether the scheduler answers.

use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::{
    BALLISTA_BROADCAST_JOIN_THRESHOLD_BYTES, BALLISTA_BROADCAST_JOIN_THRESHOLD_ROWS,
};
use ballista_core::execution_plans::{DistributedExplainAnalyzeExec, DistributedQueryExec};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::planner::BallistaQueryPlanner;
use ballista_core::serde::protobuf::GetJobStatusParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::execution::context::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::LogicalPlanNode;
use spate_connectors::object_stores::StoreRegistry;
use spate_delta::DeltaCommitExec;
use spate_executor::StageMetrics;
use tonic::transport::Endpoint;

use crate::cluster_planner::ClusterQueryPlanner;
use crate::cluster_url::ClusterUrl;
use crate::error::{ClusterError, Result};
use crate::job_metrics::job_stage_metrics;
use crate::logical_codec::SpateLogicalCodec;
use crate::shipped_stores::{ShippedStores, ship};

/// How long the scheduler has to answer [`check_reachable`].
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `config` with Ballista's settings (the `ballista.*` extension) and Ballista's defaults
/// for DataFusion on a cluster (no round-robin repartitioning, no dynamic filters across
/// stages), except for joins, planned to stay within the executors' memory: partitioned
/// hash joins rather than Ballista's sort-merge joins (the scheduler runs them as spate's
/// grace hash joins, which split a build side that does not fit, see
/// [`crate::shipped_grace_join`]), never DataFusion's collect-left joins (a build side it
/// misjudged would have to fit whole), and Ballista's broadcast joins only for build
/// sides under 1 MiB or, without a size, 128 Ki rows (DataFusion's defaults, not its
/// 128 MiB). And Ballista's static planner rather than its adaptive one (see below).
/// Apply it before the user's own settings, so those win.
///
/// ```
/// let config = spate_cluster::client_config(datafusion::prelude::SessionConfig::new());
/// assert!(config.options().optimizer.prefer_hash_join);
/// assert_eq!(config.options().optimizer.hash_join_single_partition_threshold, 0);
/// assert!(config.options().extensions.get::<ballista_core::config::BallistaConfig>().is_some());
/// ```
pub fn client_config(config: SessionConfig) -> SessionConfig {
    // Ballista's adaptive planner stalls when an executor holding shuffle output is lost
    // (the job never finishes); its static planner recomputes the lost output.
    let mut config = config
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        .set_usize(BALLISTA_BROADCAST_JOIN_THRESHOLD_BYTES, BROADCAST_BYTES)
        .set_usize(BALLISTA_BROADCAST_JOIN_THRESHOLD_ROWS, BROADCAST_ROWS);
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.prefer_hash_join = true;
    optimizer.hash_join_single_partition_threshold = 0;
    optimizer.hash_join_single_partition_threshold_rows = 0;
    config
}

/// The largest build side (bytes) Ballista turns into a broadcast join on a cluster:
/// DataFusion's own default for collect-left joins.
pub(crate) const BROADCAST_BYTES: usize = 1024 * 1024;

/// The most rows of a build side of unknown size Ballista broadcasts on a cluster:
/// DataFusion's own default for collect-left joins.
pub(crate) const BROADCAST_ROWS: usize = 128 * 1024;

/// `state` planning its statements onto the cluster at `url`; each statement carries the
/// settings of `stores` (the session's object stores), so the scheduler and the executors
/// build the same stores ([`crate::shipped_stores`]).
pub fn client_state(
    state: SessionState,
    url: &ClusterUrl,
    stores: Arc<StoreRegistry>,
) -> Result<SessionState> {
    let endpoint = url.scheduler_endpoint();
    let config = client_config(state.config().clone())
        .with_option_extension(ShippedStores::of_client(stores))
        .with_ballista_logical_extension_codec(Arc::new(SpateLogicalCodec::default()));
    let ballista = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
        endpoint.clone(),
        config.ballista_config(),
        config.ballista_logical_extension_codec(),
    );
    let config = config.with_ballista_query_planner(Arc::new(ClusterQueryPlanner::new(ballista)));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    Ok(state.upgrade_for_ballista(endpoint)?)
}

/// Runs a plan of a session from [`client_state`] to completion, and returns its batches
/// and what each stage of its job did on the cluster (empty for a plan that ran here).
/// The plan is Ballista's `DistributedQueryExec` (the statement, sent to the scheduler),
/// or a plan of the session's own catalog that runs here, or a Delta write's commit over
/// the job that writes its files ([`crate::cluster_delta_write`]). Any other plan that
/// would run part of a statement here, around the part on the cluster, is refused, and so
/// is an unreachable scheduler, before anything runs; a scheduler lost while it ran is
/// named as such. The statement carries the session's object-store settings.
pub async fn collect(
    url: &ClusterUrl,
    plan: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
) -> datafusion::error::Result<(Vec<RecordBatch>, Vec<StageMetrics>)> {
    let distributed = |node: &Arc<dyn ExecutionPlan>| {
        node.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
            .is_some()
            || node
                .downcast_ref::<DistributedExplainAnalyzeExec<LogicalPlanNode>>()
                .is_some()
    };
    let commits_here = plan.downcast_ref::<DeltaCommitExec>().is_some();
    if !distributed(&plan) && !commits_here && plan.exists(|node| Ok(distributed(node)))? {
        return Err(ClusterError::Unsupported {
            part: plan.name().to_string(),
            reason: "it would run in this process, around the part of the statement that \
                     runs on the cluster"
                .into(),
        }
        .into());
    }
    check_reachable(url).await?;
    match datafusion::physical_plan::collect(Arc::clone(&plan), ship(context)).await {
        Ok(batches) => Ok((batches, stage_metrics(url, &plan).await)),
        // A failure because the scheduler went away says so in one line, rather than
        // as the transport error of the client's next status request.
        Err(err) => match check_reachable(url).await {
            Err(ClusterError::Unreachable { reason, .. }) => Err(ClusterError::SchedulerLost {
                url: url.to_string(),
                reason,
            }
            .into()),
            _ => Err(err),
        },
    }
}

/// What each stage of the job of `plan` (its `DistributedQueryExec`, which ran) did;
/// none when the plan ran here, or when the scheduler cannot tell (that is logged: the
/// statement itself succeeded).
async fn stage_metrics(url: &ClusterUrl, plan: &Arc<dyn ExecutionPlan>) -> Vec<StageMetrics> {
    let mut job = None;
    let found = plan.apply(|node| {
        job = node
            .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
            .and_then(|exec| exec.job_id());
        Ok(match job {
            Some(_) => TreeNodeRecursion::Stop,
            None => TreeNodeRecursion::Continue,
        })
    });
    let Some(job) = job.filter(|_| found.is_ok()) else {
        return Vec::new();
    };
    job_stage_metrics(&url.scheduler_endpoint(), job.as_str())
        .await
        .unwrap_or_else(|reason| {
            log::warn!("no stage metrics for job {job} from {url}: {reason}");
            Vec::new()
        })
}

/// Fails within seconds, saying why, when the scheduler at `url` does not answer.
pub async fn check_reachable(url: &ClusterUrl) -> Result<()> {
    probe_scheduler(&url.scheduler_endpoint())
        .await
        .map_err(|reason| ClusterError::Unreachable {
            url: url.to_string(),
            reason,
        })
}

/// Asks the scheduler at `endpoint` (`http://HOST:PORT`) for the status of a job that
/// does not exist: any answer shows a Ballista scheduler listens there.
pub(crate) async fn probe_scheduler(endpoint: &str) -> std::result::Result<(), String> {
    let probe = async {
        let endpoint = Endpoint::from_shared(endpoint.to_string())
            .map_err(|e| innermost(&e))?
            .connect_timeout(PROBE_TIMEOUT);
        let channel = endpoint.connect().await.map_err(|e| innermost(&e))?;
        SchedulerGrpcClient::new(channel)
            .get_job_status(GetJobStatusParams {
                job_id: "spate-probe".into(),
            })
            .await
            .map(|_| ())
            .map_err(|status| {
                format!(
                    "something answers there, but not a spate scheduler ({})",
                    status.message()
                )
            })
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {} seconds",
                PROBE_TIMEOUT.as_secs()
            ))
        })
}

/// The deepest cause of an error: transport errors say "transport error" on top and
/// "Connection refused" at the bottom.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = err;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}
