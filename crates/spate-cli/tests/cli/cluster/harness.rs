//! Processes of the cluster tests: `spate cluster ...` children killed when their guard
//! drops (also when a test fails), their output read line by line in threads of their
//! own, and the TPC-H data the tests share.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::super::common::*;

/// A process started by a test, killed and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Its standard output, line by line.
    pub fn stdout_lines(&mut self) -> Lines {
        Lines::of(self.0.stdout.take().unwrap())
    }

    /// Its standard error, line by line.
    pub fn stderr_lines(&mut self) -> Lines {
        Lines::of(self.0.stderr.take().unwrap())
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("still running after {limit:?}");
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

/// `spate ARGS...` as a child process in `dir` with its standard output and error piped
/// (read them with [`Process::stdout_lines`], [`Process::stderr_lines`], or [`drain`]
/// them) and `env` set.
pub fn start_spate(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
    let child = Command::new(assert_cmd::cargo::cargo_bin("spate"))
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SPATE_THREADS")
        .env_remove("SPATE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Process(child)
}

/// `spate cluster ARGS...`; see [`start_spate`].
pub fn start(dir: &Path, args: &[&str]) -> Process {
    let mut all = vec!["cluster"];
    all.extend_from_slice(args);
    start_spate(dir, &all, &[])
}

/// The first line of the process's standard output (the `df://` URL of a scheduler or of
/// `cluster up`); the rest is drained.
pub fn first_line(process: &mut Process) -> String {
    let stdout = process.0.stdout.take().unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).unwrap();
    drain(Some(reader));
    assert!(line.starts_with("df://"), "expected a URL, got {line:?}");
    line.trim().to_string()
}

/// Reads what is left of a stream in a thread of its own, so the process never blocks
/// writing to a full pipe.
pub fn drain(stream: Option<impl Read + Send + 'static>) {
    if let Some(mut stream) = stream {
        std::thread::spawn(move || std::io::copy(&mut stream, &mut std::io::sink()));
    }
}

/// The lines of a stream, read by a thread of its own (so the process never blocks on a
/// full pipe), and those already seen.
pub struct Lines {
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub fn of(stream: impl Read + Send + 'static) -> Self {
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `limit` for a line that `matches`; the line. Panics, with the lines
    /// seen, when the stream ends or the time is up.
    pub fn wait_for(&mut self, limit: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no such line within {limit:?}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the stream ended; seen:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// The lines not read yet, up to the end of the stream (call once the process ended).
    pub fn rest(&mut self) -> String {
        let mut text = String::new();
        for line in self.lines.iter() {
            self.seen.push(line.clone());
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// Waits for a line containing `needle`.
    pub fn wait_for_text(&mut self, limit: Duration, needle: &str) -> String {
        self.wait_for(limit, |line| line.contains(needle))
    }
}

/// Sends `signal` (`INT`, `TERM`, `KILL`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// A scheduler and executors, each a process of its own, on free ports of 127.0.0.1; the
/// executors' ids are `executor-0`, `executor-1`, ...
pub struct TestCluster {
    pub url: String,
    pub scheduler: Process,
    pub executors: Vec<Process>,
}

/// How to start a [`TestCluster`].
pub struct ClusterSpec<'a> {
    pub executors: usize,
    pub threads: &'a str,
    /// `--memory-limit` of each executor.
    pub memory_limit: &'a str,
    /// More flags of the scheduler.
    pub scheduler_args: &'a [&'a str],
    /// Environment of the executors (`RUST_LOG`).
    pub executor_env: &'a [(&'a str, &'a str)],
}

impl TestCluster {
    /// A scheduler and `executors` executors of `threads` slots; their output drained.
    pub fn start(dir: &Path, executors: usize, threads: &str) -> Self {
        let mut cluster = Self::with(
            dir,
            &ClusterSpec {
                executors,
                threads,
                memory_limit: "512MiB",
                scheduler_args: &[],
                executor_env: &[],
            },
        );
        drain(cluster.scheduler.0.stderr.take());
        for executor in &mut cluster.executors {
            drain(executor.0.stderr.take());
        }
        cluster
    }

    /// A cluster as `spec` says; the standard errors are left to the test (read or drain
    /// them).
    pub fn with(dir: &Path, spec: &ClusterSpec) -> Self {
        let mut args = vec!["scheduler", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(spec.scheduler_args);
        let mut scheduler = start(dir, &args);
        let url = first_line(&mut scheduler);
        let address = url.trim_start_matches("df://").to_string();
        let executors = (0..spec.executors)
            .map(|n| {
                // In the test's directory, so that killed executors leave nothing behind.
                let work = dir.join(format!("executor-{n}"));
                let id = format!("executor-{n}");
                let mut executor = start_spate(
                    dir,
                    &[
                        "cluster",
                        "executor",
                        "--scheduler",
                        &address,
                        "--bind",
                        "127.0.0.1:0",
                        "--threads",
                        spec.threads,
                        "--memory-limit",
                        spec.memory_limit,
                        "--work-dir",
                        work.to_str().unwrap(),
                        "--id",
                        &id,
                    ],
                    spec.executor_env,
                );
                drain(executor.0.stdout.take());
                executor
            })
            .collect();
        TestCluster {
            url,
            scheduler,
            executors,
        }
    }
}

/// TPC-H at SF 0.1 in Parquet, generated once (by `tpchgen-cli`, which the test script
/// installs) into cargo's temporary directory for integration tests and kept there.
pub fn tpch_sf01() -> PathBuf {
    static GENERATED: OnceLock<Mutex<PathBuf>> = OnceLock::new();
    let guard = GENERATED
        .get_or_init(|| {
            let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tpch-sf0.1");
            if !data.join("complete").is_file() {
                let _ = std::fs::remove_dir_all(&data);
                let generated = Command::new("tpchgen-cli")
                    .args(["parquet", "-s", "0.1", "--output-dir"])
                    .arg(&data)
                    .status()
                    .expect("tpchgen-cli is needed (scripts/test.sh installs it)");
                assert!(generated.success());
                std::fs::write(data.join("complete"), "").unwrap();
            }
            Mutex::new(data)
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.clone()
}

/// The path of TPC-H query `n` of the repository's benchmark.
pub fn tpch_query(n: usize) -> String {
    repo()
        .join(format!("benches/queries/tpch/q{n:02}.sql"))
        .display()
        .to_string()
}

/// The first line where two outputs differ, for messages.
pub fn first_difference(a: &str, b: &str) -> Option<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        return Some(format!("line {}: {:?} vs {:?}", i + 1, a[i], b[i]));
    }
    (a.len() != b.len()).then(|| format!("{} lines vs {} lines", a.len(), b.len()))
}

/// Runs TPC-H queries `queries` over `data` with `extra` flags, in `dir`; their output.
pub fn run_tpch(dir: &Path, data: &Path, queries: &[usize], extra: &[&str]) -> String {
    let paths: Vec<String> = queries.iter().map(|n| tpch_query(*n)).collect();
    let (code, stdout, stderr) = run(spate(dir)
        .arg("run")
        .args(&paths)
        .args([
            "--data",
            data.to_str().unwrap(),
            "--threads",
            "2",
            "--quiet",
        ])
        .args(extra));
    assert_eq!(code, 0, "{extra:?}: {stderr}");
    stdout
}
