//! `spate cluster up [--bind HOST:PORT] [--executors N]`: a scheduler and executors as
//! child processes of this `spate` binary; prints the URL for `--cluster` on standard
//! output and runs until Ctrl-C or SIGTERM, then stops them all.

use std::io::Write;

use spate_cluster::{LocalCluster, LocalClusterEvent, LocalClusterOptions};

use super::{block_on, host_port, memory_limit, server_failure, threads};
use crate::exit::Failure;

pub fn run(
    bind: &str,
    executors: usize,
    threads_each: Option<usize>,
    memory_limit_each: Option<&str>,
) -> Result<(), Failure> {
    if executors == 0 {
        return Err(Failure::usage(
            "invalid --executors '0': a cluster needs at least one executor",
        ));
    }
    let options = LocalClusterOptions {
        bind: host_port("--bind", bind)?,
        executors,
        threads: threads(threads_each)?,
        memory_limit: memory_limit(memory_limit_each)?,
    };
    let program = std::env::current_exe()
        .map_err(|e| Failure::statement(format!("cannot find the spate binary: {e}")))?;
    block_on(async {
        let cluster = LocalCluster::start(&program, &options).map_err(server_failure)?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", cluster.url());
        let _ = stdout.flush();
        drop(stdout);
        eprintln!(
            "spate cluster up: a scheduler and {executors} executors (processes {}); run \
             statements with --cluster {}; Ctrl-C stops them all",
            cluster
                .pids()
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            cluster.url()
        );
        cluster
            .run_until_stopped(|event| match event {
                LocalClusterEvent::ExecutorExited { pid, status } => {
                    eprintln!("spate cluster up: executor {pid} exited ({status})")
                }
            })
            .await
            .map_err(server_failure)?;
        eprintln!("spate cluster up: stopped");
        Ok(())
    })
}
