//! [`ExecutorProvider`]: how `spate cluster up` starts and stops executors, and
//! [`LocalProcesses`], the provider that runs them as child processes of this machine.
//!
//! The autoscaler ([`crate::autoscaler`]) only names executors and asks for them to be
//! started or stopped; a provider for Kubernetes pods or cloud machines would implement
//! the same four methods, starting `spate cluster executor --scheduler HOST:PORT --id ID`
//! where it runs.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::cluster_url::HostPort;
use crate::error::{ClusterError, Result};

/// How long a stopped executor may take to finish its tasks before it is killed.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(15);

/// Starts and stops executors of one scheduler.
pub trait ExecutorProvider: Send {
    /// Starts an executor that joins the scheduler under `id`.
    fn start(&mut self, id: &str) -> Result<()>;
    /// Asks executor `id` to stop: it finishes its running tasks, then exits.
    fn stop(&mut self, id: &str) -> Result<()>;
    /// The executors started and neither stopped nor exited, oldest first.
    fn running(&self) -> Vec<String>;
    /// The executors that ended since the last call, with how they ended; stopped ones
    /// that overran their grace period are killed here.
    fn reap(&mut self) -> Vec<(String, String)>;
}

/// How each local executor is started.
#[derive(Debug, Clone)]
pub struct LocalExecutorSpec {
    /// The `spate` binary.
    pub program: PathBuf,
    /// The scheduler's address.
    pub scheduler: HostPort,
    /// The host executors serve Arrow Flight on (each a free port of its own).
    pub host: String,
    /// Task slots of each (`None`: the machine's cores).
    pub threads: Option<usize>,
    /// The memory limit of each, in bytes (`None`: Ballista's default).
    pub memory_limit: Option<u64>,
}

/// Executors as child processes (`spate cluster executor ... --watch-parent`).
#[derive(Debug)]
pub struct LocalProcesses {
    spec: LocalExecutorSpec,
    running: Vec<(String, Child)>,
    stopping: Vec<(String, Child, Instant)>,
}

impl LocalProcesses {
    pub fn new(spec: LocalExecutorSpec) -> Self {
        LocalProcesses {
            spec,
            running: Vec::new(),
            stopping: Vec::new(),
        }
    }

    /// The process ids of the running executors.
    pub fn pids(&self) -> Vec<u32> {
        self.running.iter().map(|(_, child)| child.id()).collect()
    }

    /// The process id of executor `id`, while it runs.
    pub fn pid(&self, id: &str) -> Option<u32> {
        self.running
            .iter()
            .find(|(name, _)| name == id)
            .map(|(_, child)| child.id())
    }

    /// Stops every executor: SIGTERM, then SIGKILL to those still running after the grace
    /// period.
    pub fn stop_all(&mut self) {
        let children = self
            .running
            .drain(..)
            .map(|(_, child)| child)
            .chain(self.stopping.drain(..).map(|(_, child, _)| child))
            .collect();
        stop_all(children);
    }
}

impl ExecutorProvider for LocalProcesses {
    fn start(&mut self, id: &str) -> Result<()> {
        let spec = &self.spec;
        let mut command = Command::new(&spec.program);
        command
            .args([
                "cluster",
                "executor",
                "--scheduler",
                &spec.scheduler.to_string(),
            ])
            .args(["--bind", &format!("{}:0", spec.host), "--id", id])
            .arg("--watch-parent")
            .stdout(Stdio::null());
        if let Some(threads) = spec.threads {
            command.args(["--threads", &threads.to_string()]);
        }
        if let Some(limit) = spec.memory_limit {
            command.args(["--memory-limit", &limit.to_string()]);
        }
        let child = spawn(&format!("executor {id}"), &mut command)?;
        self.running.push((id.to_string(), child));
        Ok(())
    }

    fn stop(&mut self, id: &str) -> Result<()> {
        let Some(at) = self.running.iter().position(|(name, _)| name == id) else {
            return Ok(());
        };
        let (name, child) = self.running.remove(at);
        terminate(&child);
        self.stopping
            .push((name, child, Instant::now() + STOP_GRACE));
        Ok(())
    }

    fn running(&self) -> Vec<String> {
        self.running.iter().map(|(id, _)| id.clone()).collect()
    }

    fn reap(&mut self) -> Vec<(String, String)> {
        let mut ended = Vec::new();
        self.running
            .retain_mut(|(id, child)| match child.try_wait() {
                Ok(Some(status)) => {
                    ended.push((id.clone(), status.to_string()));
                    false
                }
                _ => true,
            });
        let now = Instant::now();
        self.stopping.retain_mut(|(id, child, deadline)| {
            if let Ok(Some(status)) = child.try_wait() {
                ended.push((id.clone(), format!("stopped, {status}")));
                return false;
            }
            if now < *deadline {
                return true;
            }
            let _ = child.kill();
            let _ = child.wait();
            ended.push((
                id.clone(),
                "killed: its tasks did not finish in time".into(),
            ));
            false
        });
        ended
    }
}

impl Drop for LocalProcesses {
    fn drop(&mut self) {
        for mut child in self
            .running
            .drain(..)
            .map(|(_, child)| child)
            .chain(self.stopping.drain(..).map(|(_, child, _)| child))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `command` with no standard input.
pub(crate) fn spawn(what: &str, command: &mut Command) -> Result<Child> {
    command
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| ClusterError::Process {
            what: format!("cannot start {what} ({})", command.get_program().display()),
            reason: e.to_string(),
        })
}

/// SIGTERM to `child`.
pub(crate) fn terminate(child: &Child) {
    if let Some(pid) = Pid::from_raw(child.id() as i32) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// SIGTERM to every child, then SIGKILL to those still running after the grace period.
pub(crate) fn stop_all(mut children: Vec<Child>) {
    children.iter().for_each(terminate);
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
