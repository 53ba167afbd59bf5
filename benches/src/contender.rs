//! The contenders of `tpch run` and their worker processes.
//!
//! Every contender runs as a worker process speaking [`crate::protocol`]: spate's and
//! DataFusion's executors as `tpch worker` (this binary again), DuckDB and Polars as
//! `benches/peers/runner.py` under Python. `tpch run` starts a fresh worker per contender
//! and query, so the process's peak resident set — `VmHWM` in `/proc/<pid>/status`, which
//! the harness reads after every reply — is that query's (warm-up included, on top of what
//! the process holds once started), and no query inherits memory that an earlier one left
//! in an allocator or a cache. Start-up and imports are not timed: a worker times its own
//! runs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::compare::Agreement;
use crate::protocol::{Reply, Request};
use crate::report::Statistic;
use crate::runner::RunOptions;

/// How the peers are installed; named in every error about a missing peer.
const SETUP: &str = "benches/setup.sh";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// spate's or DataFusion's executor, or spate on a cluster (`spate`, `spate-b`,
    /// `datafusion`, `spate-faults`, `cluster`, `cluster-b`).
    DataFusionPlanned,
    /// A peer under Python: `duckdb` or `polars`.
    Peer,
}

/// One contender of `tpch run`, by the name given to `--executors`.
#[derive(Debug, Clone)]
pub struct Contender {
    pub name: String,
    engine: Engine,
}

impl Contender {
    /// The contenders of `--executors`, e.g. `spate,datafusion,duckdb,polars`.
    pub fn parse_list(text: &str) -> Result<Vec<Contender>, String> {
        let contenders: Vec<Contender> = text
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|name| {
                let engine = match name {
                    "spate" | "spate-b" | "datafusion" | "spate-faults" | "cluster"
                    | "cluster-b" => Engine::DataFusionPlanned,
                    "duckdb" | "polars" => Engine::Peer,
                    other => {
                        return Err(format!(
                            "unknown executor '{other}': expected spate, spate-b, datafusion, \
                             spate-faults, cluster, cluster-b, duckdb or polars"
                        ));
                    }
                };
                Ok(Contender {
                    name: name.to_string(),
                    engine,
                })
            })
            .collect::<Result<_, _>>()?;
        if contenders.is_empty() {
            return Err(format!("no executors in '{text}'"));
        }
        Ok(contenders)
    }

    /// What the report shows of this contender's timed runs: the median for spate and
    /// DataFusion, the best for the peers (as the benchmark's protocol has it).
    pub fn statistic(&self) -> Statistic {
        match self.engine {
            Engine::DataFusionPlanned => Statistic::Median,
            Engine::Peer => Statistic::Best,
        }
    }

    /// Whether this contender reports a memory pool and spills.
    pub fn pooled(&self) -> bool {
        self.engine == Engine::DataFusionPlanned
    }

    /// How this contender's rows must agree with `other`'s: exactly between engines
    /// DataFusion plans, at the coarser printed scale when a peer is involved.
    pub fn agreement(&self, other: &Contender) -> Agreement {
        match (self.engine, other.engine) {
            (Engine::DataFusionPlanned, Engine::DataFusionPlanned) => Agreement::Exact,
            _ => Agreement::Rounded,
        }
    }

    /// Starts this contender's worker and waits for its greeting.
    pub fn start(&self, options: &RunOptions, threads: usize) -> Result<Worker, String> {
        let mut command = self.command(options, threads)?;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| match self.engine {
                Engine::Peer => format!(
                    "{}: cannot start {}: {e} (install the peers with {SETUP}, or pass --python)",
                    self.name, options.python
                ),
                Engine::DataFusionPlanned => format!("{}: cannot start a worker: {e}", self.name),
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(format!("{}: the worker has no pipes", self.name));
        };
        let (sender, replies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut worker = Worker {
            name: self.name.clone(),
            pid: child.id(),
            child,
            stdin: Some(stdin),
            replies,
            timeout: Duration::from_secs(options.query_timeout.max(1)),
            peak_rss: None,
            start_rss: None,
            version: String::new(),
        };
        let greeting = worker
            .receive()
            .map_err(|e| format!("{}: {e}", self.name))?;
        match (greeting.ready, greeting.error) {
            (_, Some(error)) => Err(format!("{}: {error}", self.name)),
            (Some(version), None) => {
                worker.version = version;
                worker.start_rss = status_bytes(worker.pid, "VmRSS:");
                Ok(worker)
            }
            (None, None) => Err(format!("{}: the worker did not greet", self.name)),
        }
    }

    fn command(&self, options: &RunOptions, threads: usize) -> Result<Command, String> {
        let mut command = match self.engine {
            Engine::DataFusionPlanned => {
                let exe = std::env::current_exe().map_err(|e| format!("this program: {e}"))?;
                let mut command = Command::new(exe);
                command.args(["worker", "--executor", &self.name]);
                command.args(["--inject-task-failures", &options.inject_task_failures]);
                if let Some(url) = &options.cluster {
                    command.args(["--cluster", url]);
                }
                if let Some(limit) = &options.memory_limit {
                    command.args(["--memory-limit", limit]);
                }
                if let Some(n) = options.shuffle_partitions {
                    command.args(["--shuffle-partitions", &n.to_string()]);
                }
                if let Some(adaptive) = options.adaptive {
                    command.args(["--adaptive", if adaptive { "on" } else { "off" }]);
                }
                if self.name.ends_with("-b") {
                    for setting in &options.config_b {
                        command.args(["--config", setting]);
                    }
                }
                command
            }
            Engine::Peer => {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/runner.py");
                let mut command = Command::new(&options.python);
                command.args([script, "--engine", &self.name]);
                if let Some(limit) = &options.memory_limit {
                    let limit: spate::ByteSize = limit.parse().map_err(|e| format!("{e}"))?;
                    command.args(["--memory-limit-bytes", &limit.0.to_string()]);
                }
                command
            }
        };
        command
            .arg("--data")
            .arg(&options.data)
            .args(["--threads", &threads.to_string()]);
        Ok(command)
    }
}

/// A running worker of one contender.
pub struct Worker {
    name: String,
    pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    timeout: Duration,
    peak_rss: Option<u64>,
    /// The resident set once started (data registered, nothing run), in bytes.
    pub start_rss: Option<u64>,
    /// The engine and its version, from the greeting.
    pub version: String,
}

impl Worker {
    /// Runs `sql` once; the rows come back when `rows` is set.
    pub fn run(&mut self, sql: &str, rows: bool) -> Result<Reply, String> {
        let request = Request {
            sql: sql.to_string(),
            rows,
        };
        let line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("the {} worker is closed", self.name))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("the {} worker stopped reading: {e}", self.name))?;
        let reply = self.receive()?;
        match reply.error {
            Some(error) => Err(error),
            None => Ok(reply),
        }
    }

    /// The next reply, within the timeout; a worker that takes longer is stopped.
    fn receive(&mut self) -> Result<Reply, String> {
        let reply = match self.replies.recv_timeout(self.timeout) {
            Ok(line) => serde_json::from_str(&line)
                .map_err(|e| format!("unreadable reply from the worker ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => {
                self.peak_rss = status_bytes(self.pid, "VmHWM:").or(self.peak_rss);
                self.stop();
                return Err(format!("timed out after {} s", self.timeout.as_secs()));
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stdin = None;
                let status = self.child.wait().map_err(|e| e.to_string())?;
                return Err(format!("the worker exited ({status})"));
            }
        };
        self.peak_rss = status_bytes(self.pid, "VmHWM:").or(self.peak_rss);
        reply
    }

    /// Ends the worker; returns its peak resident set in bytes, where /proc tells it.
    pub fn finish(mut self) -> Option<u64> {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop();
        self.peak_rss
    }

    fn stop(&mut self) {
        self.stdin = None;
        if matches!(self.child.try_wait(), Ok(None)) {
            // Already exiting when this fails; the wait below reaps it either way.
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A size from `/proc/<pid>/status` (`VmHWM:` the peak resident set, `VmRSS:` the
/// current one), in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}
