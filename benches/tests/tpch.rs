//! TPC-H at a small scale factor: every query returns the same rows under spate's executor
//! and DataFusion's, with shuffles forced to 1, 2 and 7 partitions and with a memory limit
//! small enough to make shuffles spill, with adaptive re-planning (broadcast switches) on
//! and off, and each executor's worker process reports its peak resident set. Runs the
//! real `tpch` binary; data comes from `tpchgen-cli`, which the test script installs. The
//! peers (DuckDB, Polars) are not installed by the tests: only the error a missing one
//! gives is tested here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

use std::path::Path;
use std::process::Command;

fn tpch(args: &[&str]) -> (bool, String) {
    tpch_with_env(args, &[])
}

fn tpch_with_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tpch"))
        .args(args)
        .envs(env.iter().copied())
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
            "--warmup",
            "0",
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
        for executor in ["spate", "datafusion"] {
            let rss = column(&report, &format!("{executor} RSS MiB"));
            assert!(
                rss.len() == 22 && rss.iter().all(|mib| mib.parse::<u64>().unwrap() > 0),
                "{executor}'s peak RSS per query: {rss:?}"
            );
        }
    }
}

/// The cells of the report's column `name`, one per query.
fn column(report: &str, name: &str) -> Vec<String> {
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = report
        .lines()
        .find(|l| l.starts_with("| query |"))
        .unwrap_or_else(|| panic!("no table in\n{report}"));
    let index = cells(header)
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header}"));
    report
        .lines()
        .filter(|l| l.starts_with("| q") && !l.starts_with("| query"))
        .map(|l| cells(l)[index].clone())
        .collect()
}

/// The peers run under a Python that has their modules (`benches/setup.sh` installs them;
/// the tests do not). Under a Python without them, `tpch run` stops with one error that
/// names the module and the set-up command.
#[test]
fn a_peer_without_its_python_module_is_one_error_naming_the_setup() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("bare-python");
    let status = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success(), "python3 -m venv failed");
    let python = venv.join("bin/python");
    for peer in ["duckdb", "polars"] {
        let (ok, text) = tpch(&[
            "run",
            "--data",
            dir.path().to_str().unwrap(),
            "--queries",
            "1",
            "--executors",
            peer,
            "--python",
            python.to_str().unwrap(),
        ]);
        assert!(!ok, "{peer} ran without its module: {text}");
        assert!(
            text.contains(&format!(
                "error: {peer}: the Python module {peer} is not installed"
            )) && text.contains("benches/setup.sh"),
            "{text}"
        );
    }
}

/// With 20% of task attempts failing and 5% of shuffle blocks corrupted (through the
/// environment variables the library reads), every query still returns DataFusion's rows,
/// and the faults really happened: attempts were retried, map tasks recomputed and
/// stages with coupled partitions run again whole.
#[test]
fn all_22_queries_match_datafusion_with_failing_tasks_and_corrupt_shuffle_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sf001");
    generate(&data);
    let (ok, report) = tpch_with_env(
        &[
            "run",
            "--data",
            data.to_str().unwrap(),
            "--iterations",
            "1",
            "--threads",
            "2",
            "--shuffle-partitions",
            "3",
            "--memory-limit",
            "24MiB",
        ],
        &[
            ("SPATE_INJECT_TASK_FAILURES", "0.2"),
            ("SPATE_INJECT_SHUFFLE_CORRUPTION", "0.05"),
            ("SPATE_INJECT_SEED", "17"),
            // At 20%, 6 retries: see RETRIES in crates/spate/tests/integration/faults.rs.
            ("SPATE_TASK_RETRIES", "6"),
        ],
    );
    assert!(ok, "{report}");
    let compared = report
        .lines()
        .filter(|l| l.starts_with("| q") && l.ends_with("| yes |"))
        .count();
    assert_eq!(compared, 22, "every query compared equal:\n{report}");
    let faults = report
        .lines()
        .find(|l| l.starts_with("faults: "))
        .unwrap_or_else(|| panic!("no faults line:\n{report}"));
    let numbers: Vec<u64> = faults
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        numbers.len() == 2 && numbers.iter().all(|n| *n > 0),
        "retries and recomputations: {faults}"
    );
    // Q4, Q13, Q16, Q21 and Q22 have stages with coupled partitions (a collect-left join
    // returning build-side rows), which run again whole when one of their tasks fails.
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("stages with coupled partitions run again whole: ")),
        "some coupled stage ran again:\n{report}"
    );
}

/// Spark's own SQL suite (the golden files of SQLQueryTestSuite, `../shared/spark-sql-tests`
/// beside the repository or `$SPATE_SPARK_SQL_TESTS`) in the Spark dialect: no file of
/// the 199 core files of Spark 3.5 passes fewer queries than
/// `benches/spark-sql-baseline.json` records. When files pass
/// more, the run prints the command that records the new counts.
#[test]
fn spark_sql_suite_passes_no_fewer_queries_than_the_baseline() {
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR")).join("spark-sql-baseline.json");
    let markdown = tempfile::NamedTempFile::new().unwrap();
    let (ok, report) = tpch(&[
        "spark-sql",
        "--suite",
        "3.5",
        "--group",
        "core",
        "--baseline",
        baseline.to_str().unwrap(),
        "--markdown",
        markdown.path().to_str().unwrap(),
    ]);
    assert!(ok, "{report}");
    // The run really compared queries: the totals name the 3.5 core files.
    assert!(report.contains("| 3.5 core | 199 |"), "{report}");
    let tables = std::fs::read_to_string(markdown.path()).unwrap();
    assert!(tables.contains("| 3.5 group-by.sql |"), "{tables}");
}

/// The levers that are off by default (runtime filters across stages, late
/// materialization in Parquet scans), on under `spate-b`: every query returns DataFusion's
/// rows, with the plan's partitions and with 3 under a 24 MiB pool.
#[test]
fn all_22_queries_match_datafusion_with_runtime_filters_and_late_materialization() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sf001");
    generate(&data);
    for (partitions, memory) in [("2", "1GiB"), ("3", "24MiB")] {
        let (ok, report) = tpch(&[
            "run",
            "--data",
            data.to_str().unwrap(),
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--threads",
            "2",
            "--shuffle-partitions",
            partitions,
            "--memory-limit",
            memory,
            "--executors",
            "spate-b,datafusion",
            "--config-b",
            "spate.runtime_filters=true",
            "--config-b",
            "datafusion.execution.parquet.pushdown_filters=true",
            "--config-b",
            "datafusion.execution.parquet.reorder_filters=true",
        ]);
        assert!(ok, "{partitions} partitions, {memory}: {report}");
        let compared = report
            .lines()
            .filter(|l| l.starts_with("| q") && l.ends_with("| yes |"))
            .count();
        assert_eq!(
            compared, 22,
            "{partitions} partitions, {memory}: every query compared equal:\n{report}"
        );
    }
}
