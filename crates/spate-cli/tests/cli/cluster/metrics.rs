//! `--metrics` on a cluster: the stage table says, per stage, which executors ran its
//! tasks, its rows, bytes read, shuffle bytes and time.

use super::super::common::*;
use super::harness::*;

/// One row of the cluster's stage table.
#[derive(Debug)]
pub struct StageRow {
    pub tasks: u64,
    pub rows_out: u64,
    pub bytes_read: u64,
    pub shuffle_bytes: u64,
    pub op_spill: u64,
    pub splits: u64,
    pub time: f64,
    pub task_time: f64,
    /// Executor and the tasks it ran.
    pub executors: Vec<(String, u64)>,
}

/// The rows of the (first) stage table in `stderr`, after its header.
pub fn stage_rows(stderr: &str) -> Vec<StageRow> {
    let mut lines = stderr.lines();
    let header = lines.by_ref().find(|l| l.contains("executors (tasks)"));
    assert!(
        header.is_some_and(|h| h.split_whitespace().take(4).collect::<Vec<_>>()
            == ["stage", "tasks", "rows", "out"]),
        "{stderr}"
    );
    lines
        .take_while(|line| line.starts_with(' '))
        .map(|line| {
            let (figures, executors) = line.rsplit_once("s  ").expect(line);
            let cells: Vec<&str> = figures.split_whitespace().collect();
            assert_eq!(cells.len(), 9, "{line}");
            let number = |i: usize| cells[i].parse::<u64>().expect(line);
            let secs = |cell: &str| cell.trim_end_matches('s').parse::<f64>().expect(line);
            let executors = executors
                .trim()
                .split(", ")
                .map(|ran| {
                    let (id, tasks) = ran.trim_end_matches(')').split_once(" (").expect(line);
                    (id.to_string(), tasks.parse::<u64>().expect(line))
                })
                .collect();
            StageRow {
                tasks: number(1),
                rows_out: number(2),
                bytes_read: number(3),
                shuffle_bytes: number(4),
                op_spill: number(5),
                splits: number(6),
                time: secs(cells[7]),
                task_time: secs(cells[8]),
                executors,
            }
        })
        .collect()
}

/// TPC-H Q3 (scans, two joins, an aggregation, a sort with a limit) on two executors:
/// every stage names executors of the cluster whose task counts add up to its tasks;
/// the scans' stages read bytes, every stage but the last wrote shuffle bytes, and the
/// last one's rows are the rows the query printed; the executors together ran tasks of
/// both; time and task time are there.
#[test]
fn metrics_on_a_cluster_show_each_stage_executors_rows_bytes_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let cluster = TestCluster::start(dir.path(), 2, "1");
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "run",
        &tpch_query(3),
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "--metrics",
        "--quiet",
        "--cluster",
        &cluster.url,
    ]));
    assert_eq!(code, 0, "{stderr}");
    let stages = stage_rows(&stderr);
    assert!(stages.len() >= 4, "{stderr}");
    for stage in &stages {
        assert!(stage.tasks > 0, "{stage:?}");
        assert_eq!(
            stage.executors.iter().map(|(_, n)| n).sum::<u64>(),
            stage.tasks,
            "{stage:?}"
        );
        assert!(
            stage
                .executors
                .iter()
                .all(|(id, _)| id == "executor-0" || id == "executor-1"),
            "{stage:?}"
        );
    }
    assert!(
        stages.iter().any(|s| s.time > 0.0 && s.task_time > 0.0),
        "{stderr}"
    );
    assert!(
        stages.iter().filter(|s| s.bytes_read > 0).count() >= 3,
        "the scans of lineitem, orders and customer read bytes: {stderr}"
    );
    let (last, maps) = stages.split_last().unwrap();
    assert!(maps.iter().all(|s| s.shuffle_bytes > 0), "{stderr}");
    let printed = stdout.lines().count() as u64 - 1;
    assert_eq!(last.rows_out, printed, "{stderr}");
    let mut ran: Vec<&str> = stages
        .iter()
        .flat_map(|s| s.executors.iter().map(|(id, _)| id.as_str()))
        .collect();
    ran.sort();
    ran.dedup();
    assert_eq!(ran, ["executor-0", "executor-1"], "{stderr}");
}
