//! Cluster mode: a scheduler and executors started as separate `spate cluster` processes
//! on free ports of 127.0.0.1 (they bind port 0 and the scheduler prints the URL it got),
//! the same statements run there and locally, and the bad-input cases. Every process a
//! test starts is killed when its guard drops, also when the test fails.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

/// How long a process may take to exit or to be gone; only a hung test waits this long.
const HANG: Duration = Duration::from_secs(120);

/// A process started by a test, killed and reaped when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `spate cluster ARGS...` as a child process with its standard output and error piped
/// (read them with [`first_line`] and [`wait_for_stderr`], or [`drain`] them).
fn start(dir: &Path, args: &[&str]) -> Process {
    let child = Command::new(assert_cmd::cargo::cargo_bin("spate"))
        .current_dir(dir)
        .arg("cluster")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Process(child)
}

/// The first line of the process's standard output (the `df://` URL of a scheduler or of
/// `cluster up`).
fn first_line(process: &mut Process) -> String {
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
fn drain(stream: Option<impl std::io::Read + Send + 'static>) {
    if let Some(mut stream) = stream {
        std::thread::spawn(move || std::io::copy(&mut stream, &mut std::io::sink()));
    }
}

/// A scheduler and `executors` executors, each a process of its own.
struct TestCluster {
    url: String,
    _processes: Vec<Process>,
}

impl TestCluster {
    fn start(dir: &Path, executors: usize, threads: &str) -> Self {
        let mut scheduler = start(dir, &["scheduler", "--bind", "127.0.0.1:0"]);
        let url = first_line(&mut scheduler);
        drain(scheduler.0.stderr.take());
        let address = url.trim_start_matches("df://").to_string();
        let mut processes = vec![scheduler];
        for n in 0..executors {
            // In the test's directory, so that killed executors leave nothing behind.
            let work = dir.join(format!("executor-{n}"));
            let mut executor = start(
                dir,
                &[
                    "executor",
                    "--scheduler",
                    &address,
                    "--bind",
                    "127.0.0.1:0",
                    "--threads",
                    threads,
                    "--memory-limit",
                    "512MiB",
                    "--work-dir",
                    work.to_str().unwrap(),
                ],
            );
            drain(executor.0.stdout.take());
            drain(executor.0.stderr.take());
            processes.push(executor);
        }
        TestCluster {
            url,
            _processes: processes,
        }
    }
}

/// The first line where two outputs differ, for messages.
fn first_difference(a: &str, b: &str) -> Option<String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        return Some(format!("line {}: {:?} vs {:?}", i + 1, a[i], b[i]));
    }
    (a.len() != b.len()).then(|| format!("{} lines vs {} lines", a.len(), b.len()))
}

/// TPC-H at SF 0.1 (from `tpchgen-cli`, which the test script installs): all 22 queries
/// on a cluster of two single-threaded executors return what they return locally.
#[test]
fn tpch_on_two_executors_returns_the_local_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tpch");
    let generated = Command::new("tpchgen-cli")
        .args(["parquet", "-s", "0.1", "--output-dir"])
        .arg(&data)
        .status()
        .expect("tpchgen-cli is needed (scripts/test.sh installs it)");
    assert!(generated.success());
    let queries: Vec<String> = (1..=22)
        .map(|n| {
            repo()
                .join(format!("benches/queries/tpch/q{n:02}.sql"))
                .display()
                .to_string()
        })
        .collect();
    let run_all = |extra: &[&str]| {
        let mut cmd = spate(dir.path());
        cmd.arg("run")
            .args(&queries)
            .args([
                "--data",
                data.to_str().unwrap(),
                "--threads",
                "2",
                "--quiet",
            ])
            .args(extra);
        let (code, stdout, stderr) = run(&mut cmd);
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        stdout
    };
    let local = run_all(&[]);
    let cluster = TestCluster::start(dir.path(), 2, "1");
    let remote = run_all(&["--cluster", &cluster.url]);
    // The queries ran as Ballista jobs: the scheduler explains their stages.
    let (code, explained, stderr) = run(spate(dir.path()).args([
        "explain",
        &queries[2],
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "--cluster",
        &cluster.url,
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        explained.contains("distributed_plan") && explained.contains("ShuffleWriterExec"),
        "{explained}"
    );
    assert!(local.lines().count() > 22 * 2, "every query printed rows");
    assert!(
        first_difference(&local, &remote).is_none(),
        "cluster and local results differ: {}",
        first_difference(&local, &remote).unwrap_or_default()
    );
}

/// A pipeline script: `${param}`s, a Hive-partitioned table from `--data`, CREATE EXTERNAL
/// TABLE, COPY to Parquet and CSV at relative paths (resolved against the client's
/// directory, not the executors'), INSERT into a file table and a read-back.
#[test]
fn a_script_with_copy_and_insert_runs_on_the_cluster_as_locally() {
    let dir = tempfile::tempdir().unwrap();
    let script = "\
        create external table days stored as parquet location '${data}/transactions';\n\
        copy (select store_id, count(*) as n from days where day = DATE '${day}' group by store_id)\n\
          to 'out/by_store.parquet';\n\
        copy (select day, count(*) as n from transactions group by day) to 'out/by_day/' stored as csv;\n\
        create external table by_day stored as csv location 'out/by_day/' options ('format.has_header' 'true');\n\
        insert into by_day select day, count(*) from transactions where day > DATE '${day}' group by day;\n\
        create external table by_store stored as parquet location 'out/by_store.parquet';\n\
        select count(*) as stores, sum(n) as lines from by_store;\n\
        select count(*) as files_rows, sum(n) as lines from by_day;\n";
    std::fs::write(dir.path().join("job.sql"), script).unwrap();
    let run_in = |work: &Path, extra: &[&str]| {
        let (code, stdout, stderr) = run(spate(work)
            .args(["run", dir.path().join("job.sql").to_str().unwrap()])
            .args(["--data", cymbal().to_str().unwrap()])
            .args(["--param", &format!("data={}", cymbal().display())])
            .args(["--param", "day=2026-11-20", "--quiet"])
            .args(extra));
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        stdout
    };
    let (local_dir, cluster_dir) = (dir.path().join("local"), dir.path().join("cluster"));
    std::fs::create_dir_all(&local_dir).unwrap();
    std::fs::create_dir_all(&cluster_dir).unwrap();
    let local = run_in(&local_dir, &[]);
    let cluster = TestCluster::start(dir.path(), 2, "2");
    let remote = run_in(&cluster_dir, &["--cluster", &cluster.url]);
    assert_eq!(local, remote);
    assert!(local.starts_with("stores,lines\n"), "{local}");
    // 7 days, 3 of them after the 20th inserted again: 10 rows.
    assert!(local.contains("files_rows,lines\n10,"), "{local}");
    assert!(cluster_dir.join("out/by_store.parquet").is_file());
    assert!(cluster_dir.join("out/by_day").is_dir());
}

/// What cannot run on a cluster yet fails before anything runs, with one line naming it.
#[test]
fn delta_tables_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(spate(dir.path()).args(["sql", "copy (select 1 as x) to 'lake/t' stored as delta"]));
    assert_eq!(code, 0, "{stderr}");
    let cluster = TestCluster::start(dir.path(), 1, "1");
    let read = run(spate(dir.path()).args([
        "sql",
        "create external table t stored as delta location 'lake/t'; select * from t",
        "--cluster",
        &cluster.url,
    ]));
    assert_error(
        &read,
        1,
        "table 't' (a Delta table) cannot run on a cluster yet",
    );
    let write = run(spate(dir.path()).args([
        "sql",
        "copy (select 2 as x) to 'lake/u' stored as delta",
        "--cluster",
        &cluster.url,
    ]));
    assert_error(
        &write,
        1,
        "COPY ... STORED AS DELTA cannot run on a cluster yet",
    );
    assert!(!dir.path().join("lake/u").exists(), "nothing was written");
    let function = run(spate(dir.path()).args([
        "sql",
        "select count(*) from range(10)",
        "--cluster",
        &cluster.url,
    ]));
    assert_error(&function, 1, "cannot run on a cluster yet");
}

#[test]
fn an_unreachable_cluster_fails_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1: nothing listens there. 192.0.2.1 (TEST-NET-1): nothing answers there.
    for url in ["df://127.0.0.1:1", "df://192.0.2.1:50050"] {
        let started = Instant::now();
        let result = run(spate(dir.path()).args(["sql", "select 1", "--cluster", url]));
        assert_error(
            &result,
            1,
            &format!("cannot reach the cluster's scheduler at {url}"),
        );
        // The probe gives up after 5 s; without it a connection to TEST-NET-1 would hang
        // for about two minutes (the kernel's SYN retries).
        assert!(started.elapsed() < Duration::from_secs(60), "{url}");
    }
}

#[test]
fn a_malformed_cluster_url_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["127.0.0.1:50050", "http://127.0.0.1:50050", "df://h:port"] {
        let result = run(spate(dir.path()).args(["sql", "select 1", "--cluster", url]));
        assert_error(&result, 2, &format!("invalid cluster URL '{url}'"));
    }
    let result = run(spate(dir.path()).args(["cluster", "executor", "--scheduler", "sched"]));
    assert_error(&result, 2, "invalid address 'sched'");
}

/// Reads `process`'s standard error until a line contains `needle`; the lines read.
fn wait_for_stderr(process: &mut Process, needle: &str) -> String {
    let stderr = process.0.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("the process ended before saying {needle:?}: {seen}");
        }
        seen.push_str(&line);
        if line.contains(needle) {
            drain(Some(reader));
            return seen;
        }
    }
}

/// Sends `signal` (`INT`, `TERM`, `KILL`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for the process to exit; its exit code. Fails the test after [`HANG`].
fn exit_code(process: &mut Process) -> Option<i32> {
    let started = Instant::now();
    while started.elapsed() < HANG {
        if let Some(status) = process.0.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("still running after {HANG:?}");
}

#[test]
fn an_executor_without_a_scheduler_keeps_trying_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut executor = start(dir.path(), &["executor", "--scheduler", "127.0.0.1:1"]);
    let said = wait_for_stderr(
        &mut executor,
        "the scheduler at 127.0.0.1:1 does not answer",
    );
    assert!(said.contains("retrying"), "{said}");
    signal(executor.0.id(), "INT");
    assert_eq!(exit_code(&mut executor), Some(0));
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// The child process ids `spate cluster up` lists on its standard error.
fn children_of_up(up: &mut Process) -> Vec<u32> {
    let said = wait_for_stderr(up, "Ctrl-C stops them all");
    let list = said
        .split("(processes ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no process list: {said}"));
    list.split(", ").map(|p| p.parse().unwrap()).collect()
}

#[test]
fn cluster_up_runs_statements_and_leaves_nothing_running_after_sigterm_or_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let query = "select count(*) as n, count(distinct store_id) as stores from transactions";
    let local = run(spate(dir.path()).args(["sql", query, "--data", cymbal().to_str().unwrap()]));
    for stop in ["TERM", "KILL"] {
        let mut up = start(
            dir.path(),
            &[
                "up",
                "--bind",
                "127.0.0.1:0",
                "--executors",
                "2",
                "--threads",
                "1",
            ],
        );
        let url = first_line(&mut up);
        let children = children_of_up(&mut up);
        assert_eq!(children.len(), 3, "a scheduler and two executors");
        let remote = run(spate(dir.path()).args([
            "sql",
            query,
            "--data",
            cymbal().to_str().unwrap(),
            "--cluster",
            &url,
        ]));
        assert_eq!(remote, local);
        signal(up.0.id(), stop);
        let code = exit_code(&mut up);
        if stop == "TERM" {
            assert_eq!(code, Some(0));
        }
        let started = Instant::now();
        while !children.iter().all(|pid| gone(*pid)) {
            assert!(
                started.elapsed() < HANG,
                "after SIG{stop}, still running: {children:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
