//! `spate cluster scheduler [--bind HOST:PORT]`: prints the URL clients use on standard
//! output (one line, `df://HOST:PORT`), how to connect on standard error, then serves until
//! Ctrl-C or SIGTERM.

use std::io::Write;

use spate_cluster::{Scheduler, SchedulerOptions, shutdown_signal, watch_parent};

use super::{block_on, host_port, server_failure};
use crate::exit::Failure;

pub fn run(bind: &str, exit_with_parent: bool) -> Result<(), Failure> {
    let bind = host_port("--bind", bind)?;
    if exit_with_parent {
        watch_parent();
    }
    block_on(async {
        let scheduler = Scheduler::bind(&SchedulerOptions { bind })
            .await
            .map_err(server_failure)?;
        let url = scheduler.url().clone();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{url}");
        let _ = stdout.flush();
        drop(stdout);
        eprintln!(
            "spate scheduler listening on {}; run statements with --cluster {url}, start \
             executors with: spate cluster executor --scheduler {}",
            scheduler.local_addr(),
            url.address()
        );
        tokio::select! {
            served = scheduler.serve() => served.map_err(server_failure),
            _ = shutdown_signal() => {
                eprintln!("spate scheduler stopped");
                Ok(())
            }
        }
    })
}
