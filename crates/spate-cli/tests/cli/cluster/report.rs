//! `--report` and `--report-json` on a cluster: the stage graph (each stage's operators,
//! the stages it read) and the task timeline, its lanes the slots of each executor, of a
//! join and an aggregation on two executors; the HTML page draws them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::super::common::*;
use super::super::report::{SQL, check_page, check_statement, read_report, stages, tasks, u};
use super::harness::*;

/// Slots of each executor.
const SLOTS: usize = 2;

#[test]
fn a_cluster_report_has_the_stage_graph_and_a_lane_per_executor_slot() {
    let dir = tempfile::tempdir().unwrap();
    let data = cymbal();
    let cluster = TestCluster::start(dir.path(), 2, &SLOTS.to_string());
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        SQL,
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "--cluster",
        &cluster.url,
        "--report",
        "job.html",
        "--report-json",
        "job.json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report = read_report(&dir.path().join("job.json"));
    let statement = &report["statements"][0];
    assert_eq!(
        statement["output_rows"].as_u64(),
        Some(stdout.lines().count() as u64 - 1)
    );
    check_statement(statement, 2 * SLOTS);
    for stage in stages(statement) {
        let operators = strings(&stage["operators"]);
        assert!(!operators.is_empty(), "{stage}");
        assert!(
            !operators.iter().any(|o| o.ends_with("ShuffleWriterExec")),
            "the writer at the root is left out: {stage}"
        );
        let reads = operators.contains(&"ShuffleReaderExec");
        assert_eq!(
            reads,
            !stage["inputs"].as_array().unwrap().is_empty(),
            "{stage}"
        );
    }
    assert!(
        stages(statement).any(|s| !s["inputs"].as_array().unwrap().is_empty()),
        "a stage reads a shuffle: {statement}"
    );

    // Each executor's lanes are its slots, named after it.
    let labels = strings(&statement["lane_labels"]);
    assert_eq!(labels.len() as u64, u(&statement["lanes"]), "{labels:?}");
    let mut executors = BTreeSet::new();
    for task in tasks(statement) {
        let executor = task["executor"].as_str().unwrap();
        executors.insert(executor);
        let label = labels[u(&task["lane"]) as usize];
        let slot = label
            .strip_prefix(&format!("{executor} / slot "))
            .unwrap_or_else(|| panic!("{task} in lane {label}"));
        assert!(slot.parse::<usize>().unwrap() < SLOTS, "{label}");
    }
    assert_eq!(
        executors.into_iter().collect::<Vec<_>>(),
        ["executor-0", "executor-1"]
    );
    check_page(&dir.path().join("job.html"), &report);
}

/// The strings of a JSON array.
fn strings(array: &Value) -> Vec<&str> {
    let items = array.as_array().unwrap().iter();
    items.map(|item| item.as_str().unwrap()).collect()
}
