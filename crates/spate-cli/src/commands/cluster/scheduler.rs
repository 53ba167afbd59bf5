//! `spate cluster scheduler [--bind HOST:PORT] [--executor-timeout D] [--executor-wait D]`:
//! prints the URL clients use on standard output (one line, `df://HOST:PORT`), how to
//! connect on standard error, then serves until Ctrl-C or SIGTERM. With `--report-load`
//! (set by `spate cluster up`), a load line follows on standard output twice a second.

use std::io::Write;
use std::time::Duration;

use spate_cluster::{
    FaultSettings, LoadObserver, Scheduler, SchedulerOptions, shutdown_signal, watch_parent,
};

use super::{block_on, host_port, server_failure};
use crate::exit::Failure;

/// How often the load is reported.
const REPORT_EVERY: Duration = Duration::from_millis(500);

pub fn run(
    bind: &str,
    faults: FaultSettings,
    exit_with_parent: bool,
    report_load: bool,
) -> Result<(), Failure> {
    let bind = host_port("--bind", bind)?;
    if exit_with_parent {
        watch_parent();
    }
    block_on(async {
        let scheduler = Scheduler::bind(&SchedulerOptions {
            bind,
            faults,
            register_settings: spate::register_settings,
        })
        .await
        .map_err(server_failure)?;
        let url = scheduler.url().clone();
        print_line(&url.to_string());
        eprintln!(
            "spate scheduler listening on {}; run statements with --cluster {url}, start \
             executors with: spate cluster executor --scheduler {}",
            scheduler.local_addr(),
            url.address()
        );
        if report_load {
            tokio::spawn(report(scheduler.load_observer()));
        }
        tokio::select! {
            served = scheduler.serve() => served.map_err(server_failure),
            _ = shutdown_signal() => {
                eprintln!("spate scheduler stopped");
                Ok(())
            }
        }
    })
}

/// Prints the load every [`REPORT_EVERY`].
async fn report(mut observer: LoadObserver) {
    let mut ticker = tokio::time::interval(REPORT_EVERY);
    loop {
        ticker.tick().await;
        print_line(&observer.observe().await.to_string());
    }
}

fn print_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
