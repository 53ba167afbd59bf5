//! `spate cluster ...`: run a scheduler, an executor, or both on this machine. The work
//! is in `spate-cluster`; these modules turn flags into its options and print what
//! happens. Servers stop on Ctrl-C or SIGTERM with exit code 0.

mod executor;
mod scheduler;
mod up;

use std::future::Future;
use std::time::Duration;

use spate_cluster::{ClusterError, ExecutorCount, FaultSettings, HostPort, ScalingPolicy};

use crate::cli::{ClusterCommand, FaultArgs, ScalingArgs};
use crate::exit::Failure;

/// `spate cluster COMMAND`
pub fn run(command: ClusterCommand) -> Result<(), Failure> {
    match command {
        ClusterCommand::Scheduler {
            bind,
            faults,
            watch_parent,
            report_load,
        } => scheduler::run(&bind, fault_settings(&faults)?, watch_parent, report_load),
        ClusterCommand::Executor(args) => executor::run(args),
        ClusterCommand::Up {
            bind,
            executors,
            scaling,
            threads,
            memory_limit,
            faults,
        } => up::run(up::UpArgs {
            bind,
            executors: executor_count(executors, &scaling)?,
            threads,
            memory_limit,
            faults: fault_settings(&faults)?,
        }),
    }
}

/// The fault settings of `flags`; a timeout shorter than a busy executor's check-in
/// interval would drop healthy executors.
fn fault_settings(flags: &FaultArgs) -> Result<FaultSettings, Failure> {
    if flags.executor_timeout < Duration::from_secs(6) {
        return Err(Failure::usage(format!(
            "invalid --executor-timeout '{:?}': at least 6s (busy executors check in every 5 s)",
            flags.executor_timeout
        )));
    }
    Ok(FaultSettings {
        executor_timeout: flags.executor_timeout,
        executor_wait: flags.executor_wait,
    })
}

/// `--executors N` or `--min-executors A --max-executors B` (clap makes them exclusive).
fn executor_count(fixed: Option<usize>, scaling: &ScalingArgs) -> Result<ExecutorCount, Failure> {
    let (min, max) = match (scaling.min_executors, scaling.max_executors) {
        (Some(min), Some(max)) => (min, max),
        _ => {
            return match fixed.unwrap_or(2) {
                0 => Err(Failure::usage(
                    "invalid --executors '0': a cluster needs at least one executor",
                )),
                n => Ok(ExecutorCount::Fixed(n)),
            };
        }
    };
    if min == 0 || max < min {
        return Err(Failure::usage(format!(
            "invalid --min-executors {min} --max-executors {max}: need 1 <= A <= B"
        )));
    }
    Ok(ExecutorCount::Scaled(ScalingPolicy {
        min,
        max,
        scale_up_after: scaling.scale_up_after,
        scale_down_after: scaling.scale_down_after,
    }))
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
