//! Faults on a cluster: an executor killed in the middle of a query (TPC-H Q18 and Q21)
//! and of a Delta write, a scheduler killed while a statement runs, a job with no executor
//! at all.

use std::time::{Duration, Instant};

use super::super::common::*;
use super::delta::delta_rows;
use super::harness::*;

/// Executors that say which tasks they take and finish (Ballista logs them at info).
const TASK_LOG: &[(&str, &str)] = &[("RUST_LOG", "warn,ballista_executor=info")];

/// A TPC-H query runs on two single-threaded executors; once one of them has finished a
/// task (so it holds shuffle output the query still reads) and taken the next, it is
/// killed with SIGKILL. The scheduler drops it within 10 s, the lost work is redone on the
/// other, and the query returns the rows it returns locally.
#[test]
fn an_executor_killed_in_the_middle_of_tpch_q18_and_q21_changes_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    for query in [18, 21] {
        let local = run_tpch(dir.path(), &data, &[query], &[]);
        let mut cluster = TestCluster::with(
            dir.path(),
            &ClusterSpec {
                executors: 2,
                threads: "1",
                memory_limit: "512MiB",
                scheduler_args: &[],
                executor_env: TASK_LOG,
            },
        );
        let mut scheduler_log = cluster.scheduler.stderr_lines();
        drain(cluster.executors[0].0.stderr.take());
        let mut victim_log = cluster.executors[1].stderr_lines();
        let mut client = start_spate(
            dir.path(),
            &[
                "run",
                &tpch_query(query),
                "--data",
                data.to_str().unwrap(),
                "--threads",
                "2",
                "--quiet",
                "--cluster",
                &cluster.url,
            ],
            &[],
        );
        let (mut stdout, mut stderr) = (client.stdout_lines(), client.stderr_lines());
        victim_log.wait_for_text(Duration::from_secs(60), "Finished task");
        victim_log.wait_for_text(Duration::from_secs(60), "Received task");
        assert!(client.running(), "Q{query} ended before the kill");
        signal(cluster.executors[1].id(), "KILL");
        let killed = Instant::now();
        scheduler_log.wait_for_text(Duration::from_secs(30), "heartbeat timed out");
        let noticed = killed.elapsed();
        assert!(
            noticed <= Duration::from_secs(11),
            "Q{query}: noticed after {noticed:?}"
        );
        let code = client.exit_within(Duration::from_secs(120));
        let remote = stdout.rest();
        assert_eq!(code, Some(0), "Q{query}: {}", stderr.rest());
        assert!(
            first_difference(&local, &remote).is_none(),
            "Q{query}: cluster and local results differ: {}",
            first_difference(&local, &remote).unwrap_or_default()
        );
    }
}

/// The scheduler is killed while a `COPY` runs: the client fails within seconds with one
/// line naming the lost scheduler, exit code 1, and the file the statement was to write
/// is not there (its last stage never ran).
#[test]
fn a_lost_scheduler_fails_the_running_statement_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let mut cluster = TestCluster::with(
        dir.path(),
        &ClusterSpec {
            executors: 1,
            threads: "1",
            memory_limit: "512MiB",
            scheduler_args: &[],
            executor_env: TASK_LOG,
        },
    );
    drain(cluster.scheduler.0.stderr.take());
    let mut executor_log = cluster.executors[0].stderr_lines();
    let statement = "copy (select l_orderkey, sum(l_quantity) as q from lineitem \
                     group by l_orderkey order by q desc) to 'out/result.parquet'";
    let mut client = start_spate(
        dir.path(),
        &[
            "sql",
            statement,
            "--data",
            data.to_str().unwrap(),
            "--threads",
            "2",
            "--cluster",
            &cluster.url,
        ],
        &[],
    );
    let mut stderr = client.stderr_lines();
    drain(client.0.stdout.take());
    executor_log.wait_for_text(Duration::from_secs(60), "Received task");
    signal(cluster.scheduler.id(), "KILL");
    let killed = Instant::now();
    let code = client.exit_within(Duration::from_secs(30));
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "{:?}",
        killed.elapsed()
    );
    let said = stderr.rest();
    assert_eq!(code, Some(1), "{said}");
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    assert!(
        said.starts_with("error: ")
            && said.contains(&format!("lost the cluster's scheduler at {}", cluster.url)),
        "{said}"
    );
    assert!(!dir.path().join("out/result.parquet").exists());
}

/// A scheduler no executor joined fails a job after `--executor-wait`, not later, and the
/// client says so in one line (not Ballista's "Cancelled").
#[test]
fn a_job_without_executors_fails_after_the_executor_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut scheduler = start(
        dir.path(),
        &[
            "scheduler",
            "--bind",
            "127.0.0.1:0",
            "--executor-wait",
            "2s",
        ],
    );
    let url = first_line(&mut scheduler);
    drain(scheduler.0.stderr.take());
    let started = Instant::now();
    let result = run(spate(dir.path()).args([
        "sql",
        "select count(*) from transactions",
        "--data",
        cymbal().to_str().unwrap(),
        "--cluster",
        &url,
    ]));
    let waited = started.elapsed();
    // The job fails, in one line saying why and how to start an executor.
    assert_error(
        &result,
        1,
        "no executor registered with the scheduler within 2 s",
    );
    assert!(
        result
            .2
            .contains("spate cluster executor --scheduler 127.0.0.1:"),
        "{}",
        result.2
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

/// A Delta write (an overwrite of a whole table with TPC-H's `lineitem`) runs on two
/// single-threaded executors, one writing task each; once one of them has taken its task
/// it is killed with SIGKILL. The statement then either succeeds, its task having run
/// again on the other executor, and the table holds the complete new version; or it fails
/// with one line, and the table holds the previous version. Never part of the new rows:
/// files written by the killed task are named by no commit.
#[test]
fn an_executor_killed_during_a_delta_write_leaves_the_old_version_or_all_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let write = |select: &str, extra: &[&str]| {
        let statement =
            format!("copy ({select}) to 'lake/items' stored as delta options ('mode' 'overwrite')");
        let args = [
            "sql",
            &statement,
            "--data",
            data.to_str().unwrap(),
            "--threads",
            "2",
        ];
        start_spate(dir.path(), &[&args[..], extra].concat(), &[])
    };
    let mut first = write("select * from lineitem where l_orderkey <= 1000", &[]);
    assert_eq!(first.exit_within(Duration::from_secs(120)), Some(0));
    let table = dir.path().join("lake/items");
    let before = delta_rows(&table);
    assert!(
        before.starts_with("version 0, "),
        "{}",
        before.lines().next().unwrap_or_default()
    );
    let mut cluster = TestCluster::with(
        dir.path(),
        &ClusterSpec {
            executors: 2,
            threads: "1",
            memory_limit: "512MiB",
            scheduler_args: &[],
            executor_env: TASK_LOG,
        },
    );
    drain(cluster.scheduler.0.stderr.take());
    drain(cluster.executors[0].0.stderr.take());
    let mut victim_log = cluster.executors[1].stderr_lines();
    let mut client = write("select * from lineitem", &["--cluster", &cluster.url]);
    let mut stderr = client.stderr_lines();
    drain(client.0.stdout.take());
    victim_log.wait_for_text(Duration::from_secs(60), "Received task");
    assert!(client.running(), "the write ended before the kill");
    signal(cluster.executors[1].id(), "KILL");
    let code = client.exit_within(Duration::from_secs(120));
    let said = stderr.rest();
    let after = delta_rows(&table);
    match code {
        Some(0) => {
            // The new version, whole: every row of lineitem, as a local write makes it.
            let local_dir = dir.path().join("local");
            std::fs::create_dir_all(&local_dir).unwrap();
            let statement = format!(
                "copy (select * from lineitem) to '{}' stored as delta",
                local_dir.join("items").display()
            );
            let (code, _, stderr) =
                run(spate(dir.path()).args(["sql", &statement, "--data", data.to_str().unwrap()]));
            assert_eq!(code, 0, "{stderr}");
            let whole = delta_rows(&local_dir.join("items"));
            assert!(
                after.starts_with("version 1, "),
                "{}",
                after.lines().next().unwrap_or_default()
            );
            assert!(
                after.lines().skip(1).eq(whole.lines().skip(1)),
                "the new version holds exactly lineitem's rows"
            );
        }
        Some(1) => {
            assert_eq!(said.lines().count(), 1, "one line: {said}");
            assert!(said.starts_with("error: "), "{said}");
            assert_eq!(after, before, "the previous version, untouched");
        }
        other => panic!("exit {other:?}: {said}"),
    }
}
