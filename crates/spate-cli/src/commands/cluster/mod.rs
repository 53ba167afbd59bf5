//! `spate cluster ...`: run a scheduler, an executor, or both on this machine. The work
//! is in `spate-cluster`; these modules turn flags into its options and print what
//! happens. Servers stop on Ctrl-C or SIGTERM with exit code 0.

mod executor;
mod scheduler;
mod up;

use std::future::Future;

use spate_cluster::{ClusterError, HostPort};

use crate::cli::ClusterCommand;
use crate::exit::Failure;

/// `spate cluster COMMAND`
pub fn run(command: ClusterCommand) -> Result<(), Failure> {
    match command {
        ClusterCommand::Scheduler { bind, watch_parent } => scheduler::run(&bind, watch_parent),
        ClusterCommand::Executor(args) => executor::run(args),
        ClusterCommand::Up {
            bind,
            executors,
            threads,
            memory_limit,
        } => up::run(&bind, executors, threads, memory_limit.as_deref()),
    }
}

/// Runs `work` on a multi-threaded runtime.
fn block_on<F: Future<Output = Result<(), Failure>>>(work: F) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::statement(format!("cannot start the runtime: {e}")))?
        .block_on(work)
}

/// Parses `text`, given as `flag`, as HOST:PORT; a bad one is a usage error.
fn host_port(flag: &str, text: &str) -> Result<HostPort, Failure> {
    text.parse()
        .map_err(|e: ClusterError| Failure::usage(format!("{flag}: {e}")))
}

/// `--threads` must be at least 1.
fn threads(value: Option<usize>) -> Result<Option<usize>, Failure> {
    match value {
        Some(0) => Err(Failure::usage("invalid --threads '0': must be at least 1")),
        other => Ok(other),
    }
}

/// Parses `--memory-limit` into bytes.
fn memory_limit(value: Option<&str>) -> Result<Option<u64>, Failure> {
    value
        .map(|text| {
            text.parse::<spate::ByteSize>()
                .map(spate::ByteSize::bytes)
                .map_err(|_| {
                    Failure::usage(format!(
                        "invalid --memory-limit '{text}': expected a size such as 512MiB or 2GiB"
                    ))
                })
        })
        .transpose()
}

/// A failure of a server: a port that cannot be bound is the command line's fault.
fn server_failure(err: ClusterError) -> Failure {
    match err {
        ClusterError::InvalidAddress { .. } | ClusterError::Bind { .. } => {
            Failure::usage(err.to_string())
        }
        other => Failure::statement(other.to_string()),
    }
}
