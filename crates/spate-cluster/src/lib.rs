//! spate on a cluster of machines, on Apache DataFusion Ballista: the same SQL, run by
//! Ballista's scheduler and executors.
//!
//! - [`client_state`] turns a session into a client of a cluster: its statements are
//!   checked ([`support`](crate::support)), then planned by Ballista's query planner into a
//!   `DistributedQueryExec` that submits them to the scheduler and streams back the
//!   results. [`check_reachable`] tells fast whether a scheduler answers at a URL.
//! - [`Scheduler`] and [`run_executor`] embed Ballista's scheduler and executor in this
//!   process (`spate cluster scheduler`, `spate cluster executor`), with free ports when
//!   asked for port 0, spate's object stores, and pull-based scheduling.
//! - [`LocalCluster`] runs a scheduler and executors as child processes of the `spate`
//!   binary (`spate cluster up`) and stops them all.
//!
//! It depends on DataFusion, Ballista, `spate-connectors` and `spate-delta` (to name Delta
//! tables in errors), never on the `spate` library.

mod client;
mod cluster_planner;
mod cluster_url;
mod error;
mod executor;
mod local_cluster;
mod logical_codec;
mod physical_codec;
mod scheduler;
mod scheduler_planner;
mod server_runtime;
mod shipped_csv_sink;
mod signals;
mod support;

pub use client::{check_reachable, client_config, client_state, collect};
pub use cluster_url::{ClusterUrl, DEFAULT_SCHEDULER_PORT, HostPort};
pub use error::{ClusterError, Result};
pub use executor::{ExecutorEvent, ExecutorOptions, run_executor};
pub use local_cluster::{LocalCluster, LocalClusterEvent, LocalClusterOptions, watch_parent};
pub use scheduler::{Scheduler, SchedulerOptions};
pub use signals::shutdown_signal;
