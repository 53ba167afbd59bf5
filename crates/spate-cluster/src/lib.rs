//! spate on a cluster of machines, on Apache DataFusion Ballista: the same SQL, run by
//! Ballista's scheduler and executors.
//!
//! - [`client_state`] turns a session into a client of a cluster: its statements are
//!   checked ([`support`](crate::support)), then planned by Ballista's query planner into a
//!   `DistributedQueryExec` that submits them to the scheduler and streams back the
//!   results (for a Delta write, under the commit the client makes); [`collect`] runs
//!   such a plan and reads back what each stage of its job did
//!   (its executors, rows, bytes, time). [`check_reachable`] tells fast whether a
//!   scheduler answers at a URL.
//! - [`Scheduler`] and [`run_executor`] embed Ballista's scheduler and executor in this
//!   process (`spate cluster scheduler`, `spate cluster executor`), with free ports when
//!   asked for port 0, spate's object stores, and pull-based scheduling.
//! - [`FaultSettings`] decide how fast the scheduler drops a lost executor and how long a
//!   job waits when there is none; [`LoadObserver`] reads the scheduler's load
//!   ([`ClusterLoad`]: waiting tasks, what each executor runs).
//! - [`LocalCluster`] runs a scheduler and executors as child processes of the `spate`
//!   binary (`spate cluster up`) and stops them all; with a [`ScalingPolicy`] it starts and
//!   stops executors by the load, through an [`ExecutorProvider`] ([`LocalProcesses`]).
//!
//! It depends on DataFusion, Ballista, `spate-connectors`, `spate-delta` (Delta tables
//! read and written on a cluster: its scan's files, its writer, its commit) and `spate-executor` (its stage figures), never on the `spate`
//! library.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod autoscaler;
mod client;
mod cluster_delta_table;
mod cluster_delta_write;
mod cluster_load;
mod cluster_planner;
mod cluster_url;
mod config;
mod error;
mod executor;
mod executor_provider;
mod executor_wait;
mod job_metrics;
mod local_cluster;
mod logical_codec;
mod physical_codec;
mod scheduler;
mod scheduler_planner;
mod server_runtime;
mod shipped_csv_sink;
mod shipped_delta_write;
mod shipped_grace_join;
mod shipped_stores;
mod signals;
mod support;
mod task_figures;

pub use autoscaler::ScalingPolicy;
pub use client::{check_reachable, client_config, client_state, collect};
pub use cluster_load::{ClusterLoad, ExecutorLoad, LoadObserver};
pub use cluster_url::{ClusterUrl, DEFAULT_SCHEDULER_PORT, HostPort};
pub use config::FaultSettings;
pub use error::{ClusterError, Result};
pub use executor::{ExecutorEvent, ExecutorOptions, run_executor};
pub use executor_provider::{ExecutorProvider, LocalExecutorSpec, LocalProcesses};
pub use local_cluster::{
    ExecutorCount, LocalCluster, LocalClusterEvent, LocalClusterOptions, watch_parent,
};
pub use scheduler::{Scheduler, SchedulerOptions};
pub use server_runtime::RegisterSettings;
pub use signals::shutdown_signal;
