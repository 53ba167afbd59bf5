//! TPC-H at a small scale factor: every query returns the same rows under spate's executor
//! and DataFusion's, with shuffles forced to 1, 2 and 7 partitions and with a memory limit
//! small enough to make shuffles spill, with adaptive re-planning (broadcast switches) on
//! and off. Runs the real `tpch` binary; data comes from
//! `tpchgen-cli`, which the test script installs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn tpch(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tpch"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn generate(dir: &Path) {
    let (ok, text) = tpch(&[
        "generate",
        "--scale",
        "0.01",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "tpch generate failed: {text}");
}

#[test]
fn all_22_queries_match_datafusion_under_forced_partitions_and_small_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sf001");
    generate(&data);
    for (partitions, memory, adaptive) in [
        ("1", "1GiB", "on"),
        ("2", "1GiB", "off"),
        ("7", "1GiB", "on"),
        ("3", "24MiB", "on"),
        ("3", "24MiB", "off"),
    ] {
        let (ok, report) = tpch(&[
            "run",
            "--data",
            data.to_str().unwrap(),
            "--iterations",
            "1",
            "--threads",
            "2",
            "--shuffle-partitions",
            partitions,
            "--memory-limit",
            memory,
            "--adaptive",
            adaptive,
        ]);
        assert!(
            ok,
            "{partitions} partitions, {memory}, adaptive {adaptive}: {report}"
        );
        let compared = report
            .lines()
            .filter(|l| l.starts_with("| q") && l.ends_with("| yes |"))
            .count();
        assert_eq!(
            compared, 22,
            "{partitions} partitions, {memory}, adaptive {adaptive}: every query compared equal:\n{report}"
        );
    }
}
