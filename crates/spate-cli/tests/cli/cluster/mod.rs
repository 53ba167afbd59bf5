//! Cluster mode: a scheduler and executors started as separate `spate cluster` processes
//! on free ports of 127.0.0.1 (they bind port 0 and the scheduler prints the URL it got),
//! the same statements run there and locally, and the bad-input cases; lost executors and
//! schedulers ([`faults`]); autoscaling ([`scaling`]); object stores ([`stores`]); Delta
//! tables ([`delta`]); `--metrics` ([`metrics`]); job reports ([`report`]); joins bigger
//! than the executors' memory ([`memory`]). Every process a test starts is killed when its
//! guard drops, also when the test fails ([`harness`]).

mod delta;
mod faults;
pub(super) mod harness;
mod memory;
mod metrics;
mod report;
mod scaling;
mod stores;

use std::path::Path;
use std::time::{Duration, Instant};

use super::common::*;
use harness::*;

/// How long a process may take to exit or to be gone; only a hung test waits this long.
const HANG: Duration = Duration::from_secs(120);

/// TPC-H at SF 0.1: all 22 queries on a cluster of two single-threaded executors return
/// what they return locally.
#[test]
fn tpch_on_two_executors_returns_the_local_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let all: Vec<usize> = (1..=22).collect();
    let local = run_tpch(dir.path(), &data, &all, &[]);
    let cluster = TestCluster::start(dir.path(), 2, "1");
    let remote = run_tpch(dir.path(), &data, &all, &["--cluster", &cluster.url]);
    // The queries ran as Ballista jobs: the scheduler explains their stages.
    let (code, explained, stderr) = run(spate(dir.path()).args([
        "explain",
        &tpch_query(3),
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

/// What cannot run on a cluster yet fails before anything runs, with one line naming it:
/// MERGE into a Delta table (COPY and INSERT into one run, see [`delta`]), EXPLAIN of a
/// Delta write, and table functions.
#[test]
fn merge_explained_delta_writes_and_table_functions_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(spate(dir.path()).args(["sql", "copy (select 1 as x) to 'lake/t' stored as delta"]));
    assert_eq!(code, 0, "{stderr}");
    let cluster = TestCluster::start(dir.path(), 1, "1");
    let merge = run(spate(dir.path()).args([
        "sql",
        "create external table t stored as delta location 'lake/t'; \
         create view changes as select 2 as x; \
         merge into t using changes s on t.x = s.x when not matched then insert (x) values (s.x)",
        "--cluster",
        &cluster.url,
    ]));
    assert_error(&merge, 1, "cannot run on a cluster yet");
    assert!(merge.2.contains("MERGE"), "{}", merge.2);
    let explain = run(spate(dir.path()).args([
        "sql",
        "explain copy (select 2 as x) to 'lake/u' stored as delta",
        "--cluster",
        &cluster.url,
    ]));
    assert_error(
        &explain,
        1,
        "STORED AS DELTA inside another statement cannot run on a cluster yet",
    );
    assert!(!dir.path().join("lake/u").exists(), "nothing was written");
    let versions = std::fs::read_dir(dir.path().join("lake/t/_delta_log"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(versions, 1, "the refused MERGE committed nothing");
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

#[test]
fn fault_and_scaling_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(spate(dir.path()).args(["cluster", "scheduler", "--executor-timeout", "2s"]));
    assert_error(&result, 2, "invalid --executor-timeout '2s': at least 6s");
    let result = run(spate(dir.path()).args([
        "cluster",
        "up",
        "--min-executors",
        "3",
        "--max-executors",
        "2",
    ]));
    assert_error(&result, 2, "need 1 <= A <= B");
    let (code, _, stderr) = run(spate(dir.path()).args([
        "cluster",
        "up",
        "--executors",
        "2",
        "--min-executors",
        "1",
        "--max-executors",
        "2",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let (code, help, _) = run(spate(dir.path()).args(["cluster", "up", "--help"]));
    assert_eq!(code, 0);
    for shown in [
        "--scale-up-after",
        "[default: 1s]",
        "[default: 30s]",
        "--executor-wait",
    ] {
        assert!(help.contains(shown), "{shown} in {help}");
    }
}

#[test]
fn an_executor_without_a_scheduler_keeps_trying_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut executor = start(dir.path(), &["executor", "--scheduler", "127.0.0.1:1"]);
    let said = executor.stderr_lines().wait_for_text(
        Duration::from_secs(30),
        "the scheduler at 127.0.0.1:1 does not answer",
    );
    assert!(said.contains("retrying"), "{said}");
    signal(executor.id(), "INT");
    assert_eq!(executor.exit_within(HANG), Some(0));
}

/// The child process ids `spate cluster up` lists on its standard error, which is then
/// read by the lines returned.
pub fn children_of_up(up: &mut Process) -> (Vec<u32>, Lines) {
    let mut lines = up.stderr_lines();
    let said = lines.wait_for_text(Duration::from_secs(60), "Ctrl-C stops them all");
    let list = said
        .split("(processes ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no process list: {said}"));
    let pids = list.split(", ").map(|p| p.parse().unwrap()).collect();
    (pids, lines)
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
        let (children, _lines) = children_of_up(&mut up);
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
        signal(up.id(), stop);
        let code = up.exit_within(HANG);
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
