//! `spate cluster executor --scheduler HOST:PORT [--threads N] [--memory-limit SIZE]
//! [--work-dir DIR]`: waits for the scheduler (saying so while it does not answer), then
//! runs tasks until Ctrl-C or SIGTERM, letting running tasks finish.

use spate_cluster::{ExecutorEvent, ExecutorOptions, run_executor, watch_parent};

use super::{block_on, host_port, memory_limit, server_failure, threads};
use crate::cli::ExecutorArgs;
use crate::exit::Failure;

pub fn run(flags: ExecutorArgs) -> Result<(), Failure> {
    let scheduler = host_port("--scheduler", &flags.scheduler)?;
    if scheduler.port == 0 {
        return Err(Failure::usage(format!(
            "invalid --scheduler '{scheduler}': the port must be the scheduler's, not 0"
        )));
    }
    let options = ExecutorOptions {
        scheduler,
        bind: host_port("--bind", &flags.bind)?,
        threads: threads(flags.threads)?,
        memory_limit: memory_limit(flags.memory_limit.as_deref())?,
        work_dir: flags.work_dir,
        id: flags.id,
        register_settings: spate::register_settings,
    };
    if flags.watch_parent {
        watch_parent();
    }
    block_on(async {
        run_executor(&options, report)
            .await
            .map_err(server_failure)?;
        eprintln!("spate executor stopped");
        Ok(())
    })
}

fn report(event: ExecutorEvent) {
    match event {
        ExecutorEvent::Waiting { scheduler, reason } => eprintln!(
            "spate executor: the scheduler at {scheduler} does not answer ({reason}); \
             retrying every 2 s (Ctrl-C stops)"
        ),
        ExecutorEvent::Started {
            flight,
            slots,
            work_dir,
        } => eprintln!(
            "spate executor: {slots} task slots, serving results on {flight}, work \
             directory {}",
            work_dir.display()
        ),
    }
}
