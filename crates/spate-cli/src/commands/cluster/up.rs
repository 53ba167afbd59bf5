//! `spate cluster up [--bind HOST:PORT] [--executors N | --min-executors A --max-executors
//! B]`: a scheduler and executors as child processes of this `spate` binary; prints the
//! URL for `--cluster` on standard output and runs until Ctrl-C or SIGTERM, then stops
//! them all. With bounds, executors are started and stopped by the scheduler's load, and
//! each change is reported on standard error.

use std::io::Write;

use spate_cluster::{
    ExecutorCount, FaultSettings, LocalCluster, LocalClusterEvent, LocalClusterOptions,
};

use super::{block_on, host_port, memory_limit, server_failure, threads};
use crate::exit::Failure;

/// The flags of `spate cluster up`, checked.
pub struct UpArgs {
    pub bind: String,
    pub executors: ExecutorCount,
    pub threads: Option<usize>,
    pub memory_limit: Option<String>,
    pub faults: FaultSettings,
}

pub fn run(args: UpArgs) -> Result<(), Failure> {
    let options = LocalClusterOptions {
        bind: host_port("--bind", &args.bind)?,
        executors: args.executors,
        threads: threads(args.threads)?,
        memory_limit: memory_limit(args.memory_limit.as_deref())?,
        faults: args.faults,
    };
    let program = std::env::current_exe()
        .map_err(|e| Failure::statement(format!("cannot find the spate binary: {e}")))?;
    block_on(async {
        let cluster = LocalCluster::start(&program, &options).map_err(server_failure)?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", cluster.url());
        let _ = stdout.flush();
        drop(stdout);
        let executors = match options.executors {
            ExecutorCount::Fixed(n) => format!("{n} executors"),
            ExecutorCount::Scaled(policy) => format!(
                "{} executors (scaled between {} and {} by the load)",
                policy.min, policy.min, policy.max
            ),
        };
        eprintln!(
            "spate cluster up: a scheduler and {executors} (processes {}); run statements \
             with --cluster {}; Ctrl-C stops them all",
            cluster
                .pids()
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            cluster.url()
        );
        cluster
            .run_until_stopped(report)
            .await
            .map_err(server_failure)?;
        eprintln!("spate cluster up: stopped");
        Ok(())
    })
}

fn report(event: LocalClusterEvent) {
    match event {
        LocalClusterEvent::ExecutorExited { id, status } => {
            eprintln!("spate cluster up: {id} exited ({status})")
        }
        LocalClusterEvent::ExecutorStarted {
            id,
            pid,
            pending,
            running,
        } => eprintln!(
            "spate cluster up: started {id} (process {pid}): {pending} tasks waiting; \
             {running} executors"
        ),
        LocalClusterEvent::ExecutorStopping {
            id,
            idle,
            tasks,
            running,
        } => eprintln!(
            "spate cluster up: stopping {id}, idle for {} s after {tasks} tasks; {running} \
             executors",
            idle.as_secs()
        ),
    }
}
