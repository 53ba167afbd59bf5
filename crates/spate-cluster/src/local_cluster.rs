//! [`LocalCluster`]: a scheduler and executors on this machine, as child processes of the
//! `spate` binary (`spate cluster up`), for trying cluster mode and for tests.
//!
//! # Lifecycle
//! 1. Start `spate cluster scheduler --bind HOST:PORT` and read the `df://` URL it prints
//!    on standard output (with port 0 it names the port it got). Its later lines are its
//!    load reports (`--report-load`, when autoscaling) or are passed on to standard error.
//! 2. Start the executors through [`LocalProcesses`] (`spate cluster executor --scheduler
//!    HOST:PORT --bind HOST:0 --id executor-N`): each binds a free port of its own.
//! 3. Run until Ctrl-C or SIGTERM, or until the scheduler exits. With a fixed number of
//!    executors, one that exits is reported; autoscaling ([`crate::autoscaler`]) starts
//!    and stops executors from the scheduler's load reports, and restarts to the minimum.
//! 4. Stop: SIGTERM to the executors (they finish their running tasks), then to the
//!    scheduler; whatever still runs after a grace period gets SIGKILL. Dropping a
//!    `LocalCluster` kills what is left, so an early return or a panic leaves nothing
//!    running.
//!
//! The children run with `--watch-parent` ([`watch_parent`]): when this process dies
//! without stopping them (SIGKILL), they notice within a second and stop themselves.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Signal, kill_process};

use crate::autoscaler::{Autoscaler, Decision, ScalingPolicy};
use crate::cluster_load::ClusterLoad;
use crate::cluster_url::{ClusterUrl, HostPort};
use crate::config::FaultSettings;
use crate::error::{ClusterError, Result};
use crate::executor_provider::{
    ExecutorProvider, LocalExecutorSpec, LocalProcesses, STOP_GRACE, spawn, stop_all,
};
use crate::signals::shutdown_signal;

/// How long the scheduler may take to print its URL.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often children are checked.
const POLL: Duration = Duration::from_millis(200);

/// How many executors a local cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorCount {
    /// This many, always.
    Fixed(usize),
    /// Between the policy's bounds, by the scheduler's load.
    Scaled(ScalingPolicy),
}

/// What to start.
#[derive(Debug, Clone)]
pub struct LocalClusterOptions {
    /// The scheduler's address; port 0 picks a free port.
    pub bind: HostPort,
    /// How many executors.
    pub executors: ExecutorCount,
    /// Task slots per executor (`None`: each takes this machine's cores).
    pub threads: Option<usize>,
    /// The memory limit of each executor, in bytes (`None`: Ballista's default).
    pub memory_limit: Option<u64>,
    /// The scheduler's fault settings.
    pub faults: FaultSettings,
}

/// Something that happened to a running local cluster.
#[derive(Debug)]
pub enum LocalClusterEvent {
    /// An executor process ended on its own, or after it was stopped.
    ExecutorExited { id: String, status: String },
    /// The autoscaler started an executor because `pending` tasks waited.
    ExecutorStarted {
        id: String,
        pid: u32,
        pending: usize,
        running: usize,
    },
    /// The autoscaler stopped an executor idle for `idle`, which had run `tasks` tasks.
    ExecutorStopping {
        id: String,
        idle: Duration,
        tasks: usize,
        running: usize,
    },
}

/// A scheduler and executors running as child processes; see the module doc.
#[derive(Debug)]
pub struct LocalCluster {
    url: ClusterUrl,
    scheduler: Option<Child>,
    /// The scheduler's standard output after its URL.
    scheduler_lines: Option<mpsc::Receiver<String>>,
    executors: LocalProcesses,
    scaler: Option<Autoscaler>,
}

impl LocalCluster {
    /// Starts the scheduler and the executors with `program`, the `spate` binary.
    pub fn start(program: &Path, options: &LocalClusterOptions) -> Result<Self> {
        let mut scheduler = spawn(
            "the scheduler",
            Command::new(program)
                .args(scheduler_args(options))
                .stdout(Stdio::piped()),
        )?;
        let read = read_url(&mut scheduler);
        let (url, lines) = match read {
            Ok(read) => read,
            Err(err) => {
                let _ = scheduler.kill();
                let _ = scheduler.wait();
                return Err(err);
            }
        };
        // Clients and executors reach a scheduler bound to all interfaces through this
        // machine's loopback address.
        let url: ClusterUrl = if options.bind.host == "0.0.0.0" || options.bind.host == "[::]" {
            format!("df://127.0.0.1:{}", url.address().port).parse()?
        } else {
            url
        };
        let executors = LocalProcesses::new(LocalExecutorSpec {
            program: program.to_path_buf(),
            scheduler: url.address().clone(),
            host: options.bind.host.clone(),
            threads: options.threads,
            memory_limit: options.memory_limit,
        });
        let mut cluster = LocalCluster {
            url,
            scheduler: Some(scheduler),
            scheduler_lines: Some(lines),
            executors,
            scaler: None,
        };
        let initial = match options.executors {
            ExecutorCount::Fixed(n) => n,
            ExecutorCount::Scaled(policy) => {
                cluster.scaler = Some(Autoscaler::new(policy));
                policy.min
            }
        };
        for n in 1..=initial {
            let id = match &mut cluster.scaler {
                Some(scaler) => scaler.next_id(),
                None => format!("executor-{n}"),
            };
            cluster.executors.start(&id)?;
        }
        Ok(cluster)
    }

    /// The URL clients use: `--cluster df://HOST:PORT`.
    pub fn url(&self) -> &ClusterUrl {
        &self.url
    }

    /// The process ids of the scheduler and the executors.
    pub fn pids(&self) -> Vec<u32> {
        self.scheduler
            .iter()
            .map(Child::id)
            .chain(self.executors.pids())
            .collect()
    }

    /// Runs until Ctrl-C or SIGTERM (`Ok`) or until the scheduler exits (an error), then
    /// stops every process. What happens to executors is reported to `on_event`.
    pub async fn run_until_stopped(mut self, on_event: impl Fn(LocalClusterEvent)) -> Result<()> {
        let outcome = tokio::select! {
            _ = shutdown_signal() => Ok(()),
            failure = self.watch(&on_event) => Err(failure),
        };
        self.stop();
        outcome
    }

    /// Watches the children and scales; completes with an error when the scheduler exits
    /// or an executor cannot be started.
    async fn watch(&mut self, on_event: &impl Fn(LocalClusterEvent)) -> ClusterError {
        loop {
            tokio::time::sleep(POLL).await;
            for (id, status) in self.executors.reap() {
                on_event(LocalClusterEvent::ExecutorExited { id, status });
            }
            let load = self.latest_load();
            if let (Some(scaler), Some(load)) = (&mut self.scaler, load) {
                let decisions = scaler.decide(&load, Instant::now(), &self.executors.running());
                for decision in decisions {
                    if let Err(err) = apply(&mut self.executors, decision, on_event) {
                        return err;
                    }
                }
            }
            if let Some(scheduler) = &mut self.scheduler
                && let Ok(Some(status)) = scheduler.try_wait()
            {
                self.scheduler = None;
                return ClusterError::Process {
                    what: "the scheduler exited".into(),
                    reason: status.to_string(),
                };
            }
        }
    }

    /// The last load report the scheduler printed since the previous call; its other
    /// lines go to standard error.
    fn latest_load(&mut self) -> Option<ClusterLoad> {
        let lines = self.scheduler_lines.as_ref()?;
        let mut latest = None;
        for line in lines.try_iter() {
            match line.parse::<ClusterLoad>() {
                Ok(load) => latest = Some(load),
                Err(_) => eprintln!("{line}"),
            }
        }
        latest
    }

    /// Stops the executors, then the scheduler: SIGTERM, then SIGKILL after the grace period.
    pub fn stop(&mut self) {
        self.executors.stop_all();
        stop_all(self.scheduler.take().into_iter().collect());
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // The executors are killed when `self.executors` drops.
        if let Some(mut scheduler) = self.scheduler.take() {
            let _ = scheduler.kill();
            let _ = scheduler.wait();
        }
    }
}

/// Carries out one decision of the autoscaler.
fn apply(
    executors: &mut LocalProcesses,
    decision: Decision,
    on_event: &impl Fn(LocalClusterEvent),
) -> Result<()> {
    match decision {
        Decision::Start { id, pending } => {
            executors.start(&id)?;
            on_event(LocalClusterEvent::ExecutorStarted {
                pid: executors.pid(&id).unwrap_or(0),
                id,
                pending,
                running: executors.running().len(),
            });
        }
        Decision::Stop { id, idle, tasks } => {
            executors.stop(&id)?;
            on_event(LocalClusterEvent::ExecutorStopping {
                id,
                idle,
                tasks,
                running: executors.running().len(),
            });
        }
    }
    Ok(())
}

/// `spate cluster scheduler ...` for `options`.
fn scheduler_args(options: &LocalClusterOptions) -> Vec<String> {
    let mut args: Vec<String> = ["cluster", "scheduler", "--bind"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(options.bind.to_string());
    args.push("--watch-parent".into());
    args.push("--executor-timeout".into());
    args.push(format!("{}s", options.faults.executor_timeout.as_secs()));
    args.push("--executor-wait".into());
    args.push(format!("{}s", options.faults.executor_wait.as_secs()));
    if matches!(options.executors, ExecutorCount::Scaled(_)) {
        args.push("--report-load".into());
    }
    args
}

/// The `df://` URL the scheduler prints first on its standard output, and a channel of
/// its later lines.
fn read_url(scheduler: &mut Child) -> Result<(ClusterUrl, mpsc::Receiver<String>)> {
    let failed = |reason: String| ClusterError::Process {
        what: "the scheduler did not start".into(),
        reason,
    };
    let stdout = scheduler
        .stdout
        .take()
        .ok_or_else(|| failed("its output is not readable".into()))?;
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::io::Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let line = lines
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| failed("see its error above".into()))?;
    let url = line
        .trim()
        .parse()
        .map_err(|e: ClusterError| failed(e.to_string()))?;
    Ok((url, lines))
}

/// Stops this process (SIGTERM to itself, so it shuts down as on Ctrl-C) when its parent
/// dies: the children of `spate cluster up` call it, so that killing `up` with SIGKILL
/// leaves nothing running. Checks once a second.
pub fn watch_parent() {
    let parent = std::os::unix::process::parent_id();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if std::os::unix::process::parent_id() != parent {
                let _ = kill_process(rustix::process::getpid(), Signal::TERM);
                std::thread::sleep(STOP_GRACE);
                std::process::exit(1);
            }
        }
    });
}
