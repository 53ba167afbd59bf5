//! [`Scheduler`]: Ballista's scheduler, embedded, set up for spate.
//!
//! Clients submit statements to it as DataFusion logical plans; it plans them into stages
//! and hands their tasks to the executors that registered with it. spate runs it with:
//! - pull-based scheduling: executors ask for tasks when they have free slots (their polls
//!   are their heartbeats), so an executor needs no port of its own besides its Arrow
//!   Flight one, and that one can be picked freely;
//! - its own listener, bound before the server starts, so port 0 gets a free port that is
//!   known (and printed) before anyone connects;
//! - spate's object stores, built from the settings each statement's client sends, no
//!   listing cache, and the settings extensions clients send registered
//!   ([`crate::server_runtime`]);
//! - fault settings from [`FaultSettings`] (see [`crate::config`]): executors dropped
//!   after `executor_timeout` without a heartbeat, checked every second; jobs left without
//!   any executor failed after `executor_wait` ([`crate::executor_wait`]).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::cluster::{BallistaCluster, JobState};
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;

use crate::cluster_load::LoadObserver;
use crate::cluster_url::{ClusterUrl, HostPort};
use crate::config::{EXPIRE_CHECK_INTERVAL, FaultSettings, STAGE_MAX_ATTEMPTS, TASK_MAX_ATTEMPTS};
use crate::error::{ClusterError, Result};
use crate::executor_wait::fail_jobs_without_executors;
use crate::logical_codec::SpateLogicalCodec;
use crate::physical_codec::SpatePhysicalCodec;
use crate::server_runtime::{RegisterSettings, ServerRuntime};

/// How to run a scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Where to listen; port 0 picks a free port.
    pub bind: HostPort,
    /// How fast lost executors are noticed and how long jobs wait for one.
    pub faults: FaultSettings,
    /// Registers the settings extensions clients send (`spate::register_settings`).
    pub register_settings: RegisterSettings,
}

/// A scheduler listening on its address, not serving yet.
pub struct Scheduler {
    listener: TcpListener,
    address: SocketAddr,
    url: ClusterUrl,
    server: SchedulerServer<LogicalPlanNode, PhysicalPlanNode>,
    jobs: Arc<dyn JobState>,
    faults: FaultSettings,
}

impl Scheduler {
    /// Binds the scheduler's address and starts its event loop.
    pub async fn bind(options: &SchedulerOptions) -> Result<Self> {
        let (listener, local) = options.bind.listen().await?;
        let runtime = ServerRuntime::new(options.register_settings);
        let faults = options.faults;
        let timeout = faults.executor_timeout.as_secs().max(1);
        let config = SchedulerConfig {
            bind_host: local.ip().to_string(),
            bind_port: local.port(),
            external_host: options.bind.host.clone(),
            scheduling_policy: TaskSchedulingPolicy::PullStaged,
            override_session_builder: Some(runtime.session_builder()),
            override_config_producer: Some(runtime.config_producer()),
            override_logical_codec: Some(Arc::new(SpateLogicalCodec::default())),
            override_physical_codec: Some(Arc::new(SpatePhysicalCodec::default())),
            executor_timeout_seconds: timeout,
            expire_dead_executor_interval_seconds: EXPIRE_CHECK_INTERVAL.as_secs(),
            // A stopping executor (SIGTERM) is dropped this long after it said so, unless
            // it exits sooner; its tasks meanwhile finish and report.
            executor_termination_grace_period: timeout,
            // Ballista's own wait after the last executor is lost; the watchdog of
            // `executor_wait` covers that case too, and jobs that never saw one.
            no_executors_grace_period_seconds: faults.executor_wait.as_secs().max(timeout),
            task_max_failures: TASK_MAX_ATTEMPTS,
            stage_max_failures: STAGE_MAX_ATTEMPTS,
            ..SchedulerConfig::default()
        };
        config.validate().map_err(server_error)?;
        let config = Arc::new(config);
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(server_error)?;
        let jobs = cluster.job_state();
        let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
            .await
            .map_err(server_error)?;
        let host = advertised_host(&options.bind.host);
        Ok(Scheduler {
            listener,
            address: local,
            url: format!("df://{host}:{}", local.port()).parse()?,
            server,
            jobs,
            faults,
        })
    }

    /// The address it listens on (with the port it got when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The URL clients use: the bound host (this machine's name when bound to every
    /// interface) and port.
    pub fn url(&self) -> &ClusterUrl {
        &self.url
    }

    /// What reads this scheduler's load (its queue and executors), for `--report-load`.
    pub fn load_observer(&self) -> LoadObserver {
        LoadObserver::new(Arc::clone(&self.server.state), self.faults.executor_timeout)
    }

    /// Serves clients and executors until the future is dropped or the server fails.
    pub async fn serve(self) -> Result<()> {
        let hint = format!(
            "start one with: spate cluster executor --scheduler {}",
            self.url.address()
        );
        let watchdog = tokio::spawn(fail_jobs_without_executors(
            self.server.clone(),
            self.jobs,
            self.faults.executor_wait,
            self.faults.executor_timeout,
            hint,
        ));
        let served = start_grpc_service_with_listener(self.listener, self.server)
            .await
            .map_err(server_error);
        watchdog.abort();
        served
    }
}

/// The host to tell clients: the one bound, or this machine's name for `0.0.0.0`.
fn advertised_host(bind_host: &str) -> String {
    if bind_host != "0.0.0.0" && bind_host != "[::]" {
        return bind_host.to_string();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn server_error(err: ballista_core::error::BallistaError) -> ClusterError {
    ClusterError::Server {
        role: "the scheduler",
        reason: err.to_string(),
    }
}
