//! Running Ballista's executor in this process ([`run_executor`]).
//!
//! An executor takes tasks from the scheduler when it has free slots (pull-based
//! scheduling, see [`crate::scheduler`]) and serves the shuffle output of its tasks, and
//! the final results, over Arrow Flight. spate binds the Flight listener itself, so port 0
//! gets a free port, and the port the executor tells the scheduler is the one it got.
//!
//! # Steps
//! 1. Bind the Flight listener; make the work directory (a temporary one, removed at the
//!    end, unless one is given).
//! 2. Wait for the scheduler: ask it for a job's status every two seconds until it answers,
//!    reporting why it does not; Ctrl-C or SIGTERM stops the wait.
//! 3. Run Ballista's executor process until Ctrl-C or SIGTERM: it then tells the scheduler
//!    it is terminating, lets its running tasks finish, and returns. Its tasks report
//!    which executor ran them, when, and what they wrote ([`crate::task_figures`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::error::BallistaError;
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_executor::ArrowFlightServerProvider;
use ballista_executor::execution_engine::DefaultExecutionEngine;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::shutdown::Shutdown;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::client::probe_scheduler;
use crate::cluster_url::HostPort;
use crate::error::{ClusterError, Result};
use crate::physical_codec::SpatePhysicalCodec;
use crate::server_runtime::{RegisterSettings, ServerRuntime};
use crate::signals::shutdown_signal;
use crate::task_figures::TaskFiguresEngine;

/// How long to wait between attempts to reach the scheduler.
const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// Report a scheduler that still does not answer every this many attempts (about 30 s).
const REPORT_EVERY: u32 = 15;

/// How to run an executor.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's address.
    pub scheduler: HostPort,
    /// Where to serve Arrow Flight (shuffle blocks, results); port 0 picks a free port.
    pub bind: HostPort,
    /// Task slots (tasks run at once); `None`: the cores of this machine.
    pub threads: Option<usize>,
    /// The memory all running tasks may use together (each gets its share of it); `None`:
    /// Ballista's default, a fraction of the machine's (or cgroup's) memory.
    pub memory_limit: Option<u64>,
    /// Where shuffle output and spill files go; `None`: a temporary directory, removed when
    /// the executor stops.
    pub work_dir: Option<PathBuf>,
    /// The id it registers under (unique among the scheduler's executors); `None`: a
    /// random one.
    pub id: Option<String>,
    /// Registers the settings extensions clients send (`spate::register_settings`).
    pub register_settings: RegisterSettings,
}

/// What an executor reports while it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorEvent {
    /// The scheduler does not answer yet; the executor keeps trying.
    Waiting {
        /// The scheduler's address.
        scheduler: String,
        /// Why it does not answer.
        reason: String,
    },
    /// The scheduler answered; the executor now takes tasks.
    Started {
        /// Where it serves Arrow Flight.
        flight: SocketAddr,
        /// Its task slots.
        slots: usize,
        /// Its work directory.
        work_dir: PathBuf,
    },
}

/// Runs an executor until Ctrl-C or SIGTERM, reporting its start through `on_event`.
pub async fn run_executor(
    options: &ExecutorOptions,
    on_event: impl Fn(ExecutorEvent),
) -> Result<()> {
    let (listener, flight) = options.bind.listen().await?;
    // The temporary directory is kept until the executor stops; dropping it removes it.
    let (work_dir, _temporary) = match &options.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| ClusterError::Process {
                what: format!("cannot make the work directory {}", dir.display()),
                reason: e.to_string(),
            })?;
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("spate-executor-")
                .tempdir()
                .map_err(|e| ClusterError::Process {
                    what: "cannot make a temporary work directory".into(),
                    reason: e.to_string(),
                })?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    if !wait_for_scheduler(&options.scheduler, &on_event).await {
        return Ok(());
    }
    let slots = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let config = process_config(options, flight, slots, work_dir.clone(), listener);
    on_event(ExecutorEvent::Started {
        flight,
        slots,
        work_dir,
    });
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Server {
            role: "the executor",
            reason: e.to_string(),
        })
}

/// Waits until the scheduler answers (`true`) or a stop signal comes (`false`).
async fn wait_for_scheduler(scheduler: &HostPort, on_event: &impl Fn(ExecutorEvent)) -> bool {
    let endpoint = format!("http://{scheduler}");
    let mut attempt = 0u32;
    loop {
        match probe_scheduler(&endpoint).await {
            Ok(()) => return true,
            Err(reason) => {
                if attempt.is_multiple_of(REPORT_EVERY) {
                    on_event(ExecutorEvent::Waiting {
                        scheduler: scheduler.to_string(),
                        reason,
                    });
                }
            }
        }
        attempt += 1;
        tokio::select! {
            _ = tokio::time::sleep(RETRY_INTERVAL) => {}
            _ = shutdown_signal() => return false,
        }
    }
}

/// Ballista's executor settings: pull-based, serving Flight on `listener`.
fn process_config(
    options: &ExecutorOptions,
    flight: SocketAddr,
    slots: usize,
    work_dir: PathBuf,
    listener: TcpListener,
) -> ExecutorProcessConfig {
    let defaults = ExecutorProcessConfig::default();
    let (max_encoding, max_decoding) = (
        defaults.grpc_max_encoding_message_size as usize,
        defaults.grpc_max_decoding_message_size as usize,
    );
    let runtime = ServerRuntime::new(options.register_settings);
    let executor_id = options.id.clone().unwrap_or(defaults.executor_id.clone());
    // Ballista's engine without its shuffle client pool (its type is private to Ballista):
    // each shuffle fetch opens its own connection.
    let engine =
        TaskFiguresEngine::new(Arc::new(DefaultExecutionEngine::new()), executor_id.clone());
    ExecutorProcessConfig {
        executor_id,
        bind_host: flight.ip().to_string(),
        port: flight.port(),
        // Pull-based executors serve no gRPC of their own.
        grpc_port: 0,
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        vcores: slots,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        memory_pool_size: options.memory_limit,
        override_runtime_producer: Some(runtime.runtime_producer(work_dir)),
        override_config_producer: Some(runtime.config_producer()),
        // Ballista would keep one runtime (and its object stores) per client session; a
        // session's store settings change when it creates a table with options, so each
        // task builds its runtime from the settings it came with (its stores are shared
        // by those settings, see `ServerRuntime`).
        session_runtime_cache_capacity: 0,
        override_physical_codec: Some(Arc::new(SpatePhysicalCodec::default())),
        override_execution_engine: Some(Arc::new(engine)),
        override_arrow_flight_service: Some(flight_service(listener, max_encoding, max_decoding)),
        ..defaults
    }
}

/// Ballista's Flight service, served on a listener bound beforehand (Ballista would bind
/// the configured port itself, which cannot be 0: the scheduler must learn the real one).
fn flight_service(
    listener: TcpListener,
    max_encoding: usize,
    max_decoding: usize,
) -> Arc<ArrowFlightServerProvider> {
    let listener = Mutex::new(Some(listener));
    Arc::new(
        move |work_dir: String,
              _address: SocketAddr,
              mut shutdown: Shutdown,
              grpc: GrpcServerConfig| {
            let listener = listener.lock().ok().and_then(|mut l| l.take());
            tokio::spawn(async move {
                let listener = listener.ok_or_else(|| {
                    BallistaError::General("the Flight listener was already served".into())
                })?;
                let service = FlightServiceServer::new(BallistaFlightService::new(work_dir))
                    .max_encoding_message_size(max_encoding)
                    .max_decoding_message_size(max_decoding);
                create_grpc_server(&grpc)
                    .add_service(service)
                    .serve_with_incoming_shutdown(
                        TcpIncoming::from(listener).with_nodelay(Some(true)),
                        shutdown.recv(),
                    )
                    .await
                    .map_err(BallistaError::TonicError)
            })
        },
    )
}
