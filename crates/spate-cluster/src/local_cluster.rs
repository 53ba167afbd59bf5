//! [`LocalCluster`]: a scheduler and executors on this machine, as child processes of the
//! `spate` binary (`spate cluster up`), for trying cluster mode and for tests.
//!
//! # Lifecycle
//! 1. Start `spate cluster scheduler --bind HOST:PORT` and read the `df://` URL it prints
//!    on standard output (with port 0 it names the port it got).
//! 2. Start each executor with `spate cluster executor --scheduler HOST:PORT --bind HOST:0`:
//!    each binds a free port of its own.
//! 3. Wait for Ctrl-C or SIGTERM, or for the scheduler to exit.
//! 4. Stop: SIGTERM to the executors (they finish their running tasks), then to the
//!    scheduler; whatever still runs after a grace period gets SIGKILL. Dropping a
//!    `LocalCluster` kills what is left, so an early return or a panic leaves nothing
//!    running.
//!
//! The children run with `--watch-parent` ([`watch_parent`]): when this process dies
//! without stopping them (SIGKILL), they notice within a second and stop themselves.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::cluster_url::{ClusterUrl, HostPort};
use crate::error::{ClusterError, Result};
use crate::signals::shutdown_signal;

/// How long the scheduler may take to print its URL.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long stopped processes may take to finish before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How often children are checked.
const POLL: Duration = Duration::from_millis(200);

/// What to start.
#[derive(Debug, Clone)]
pub struct LocalClusterOptions {
    /// The scheduler's address; port 0 picks a free port.
    pub bind: HostPort,
    /// How many executors.
    pub executors: usize,
    /// Task slots per executor (`None`: each takes this machine's cores).
    pub threads: Option<usize>,
    /// The memory limit of each executor, in bytes (`None`: Ballista's default).
    pub memory_limit: Option<u64>,
}

/// Something that happened to a running local cluster.
#[derive(Debug)]
pub enum LocalClusterEvent {
    /// An executor process ended on its own; the others go on.
    ExecutorExited { pid: u32, status: ExitStatus },
}

/// A scheduler and executors running as child processes; see the module doc.
#[derive(Debug)]
pub struct LocalCluster {
    url: ClusterUrl,
    scheduler: Option<Child>,
    executors: Vec<Child>,
}

impl LocalCluster {
    /// Starts the scheduler and the executors with `program`, the `spate` binary.
    pub fn start(program: &Path, options: &LocalClusterOptions) -> Result<Self> {
        let mut cluster = LocalCluster {
            url: "df://127.0.0.1".parse()?,
            scheduler: None,
            executors: Vec::new(),
        };
        let bind = options.bind.to_string();
        let mut scheduler = spawn(
            "the scheduler",
            Command::new(program)
                .args(["cluster", "scheduler", "--bind", &bind, "--watch-parent"])
                .stdout(Stdio::piped()),
        )?;
        let url = read_url(&mut scheduler);
        cluster.scheduler = Some(scheduler);
        let url = url?;
        // Clients and executors reach a scheduler bound to all interfaces through this
        // machine's loopback address.
        cluster.url = if options.bind.host == "0.0.0.0" || options.bind.host == "[::]" {
            format!("df://127.0.0.1:{}", url.address().port).parse()?
        } else {
            url
        };
        let scheduler_address = cluster.url.address().to_string();
        for _ in 0..options.executors {
            let mut command = Command::new(program);
            command
                .args(["cluster", "executor", "--scheduler", &scheduler_address])
                .args(["--bind", &format!("{}:0", options.bind.host)])
                .arg("--watch-parent")
                .stdout(Stdio::null());
            if let Some(threads) = options.threads {
                command.args(["--threads", &threads.to_string()]);
            }
            if let Some(limit) = options.memory_limit {
                command.args(["--memory-limit", &limit.to_string()]);
            }
            cluster.executors.push(spawn("an executor", &mut command)?);
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
            .chain(&self.executors)
            .map(Child::id)
            .collect()
    }

    /// Runs until Ctrl-C or SIGTERM (`Ok`) or until the scheduler exits (an error), then
    /// stops every process. Executors that end on their own are reported to `on_event`.
    pub async fn run_until_stopped(mut self, on_event: impl Fn(LocalClusterEvent)) -> Result<()> {
        let outcome = tokio::select! {
            _ = shutdown_signal() => Ok(()),
            failure = self.watch(&on_event) => Err(failure),
        };
        self.stop();
        outcome
    }

    /// Completes with an error when the scheduler exits.
    async fn watch(&mut self, on_event: &impl Fn(LocalClusterEvent)) -> ClusterError {
        loop {
            tokio::time::sleep(POLL).await;
            self.executors.retain_mut(|child| match child.try_wait() {
                Ok(Some(status)) => {
                    on_event(LocalClusterEvent::ExecutorExited {
                        pid: child.id(),
                        status,
                    });
                    false
                }
                _ => true,
            });
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

    /// Stops the executors, then the scheduler: SIGTERM, then SIGKILL after the grace period.
    pub fn stop(&mut self) {
        stop_all(std::mem::take(&mut self.executors));
        stop_all(self.scheduler.take().into_iter().collect());
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for mut child in self
            .scheduler
            .take()
            .into_iter()
            .chain(self.executors.drain(..))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn(what: &str, command: &mut Command) -> Result<Child> {
    command
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| ClusterError::Process {
            what: format!("cannot start {what} ({})", command.get_program().display()),
            reason: e.to_string(),
        })
}

/// The `df://` URL the scheduler prints first on its standard output. Later lines are
/// passed on to this process's standard error.
fn read_url(scheduler: &mut Child) -> Result<ClusterUrl> {
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
            if sender.send(line.clone()).is_err() {
                eprintln!("{line}");
            }
        }
    });
    let line = lines
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| failed("see its error above".into()))?;
    drop(lines);
    line.trim()
        .parse()
        .map_err(|e: ClusterError| failed(e.to_string()))
}

/// SIGTERM to every child, then SIGKILL to those still running after the grace period.
fn stop_all(mut children: Vec<Child>) {
    for child in &children {
        if let Some(pid) = Pid::from_raw(child.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    while !children.is_empty() && Instant::now() < deadline {
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        std::thread::sleep(Duration::from_millis(50));
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
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
