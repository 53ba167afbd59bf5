//! Delta tables written by the `spate` binary: a writer killed mid-write, and two
//! processes appending at once.

use std::path::Path;
use std::time::{Duration, Instant};

use super::common::*;

/// `COPY` of `rows` ids from `start` appended to the Delta table at `table`.
fn append_sql(table: &Path, start: u64, rows: u64) -> String {
    format!(
        "COPY (SELECT value AS id, md5(CAST(value AS VARCHAR)) AS digest FROM range({start}, {})) \
         TO '{}' STORED AS DELTA OPTIONS ('mode' 'append', 'targetFileSize' '1MiB')",
        start + rows,
        table.display()
    )
}

/// (rows, distinct ids) of the table, read by a fresh process.
fn count(dir: &Path, table: &Path) -> String {
    let (code, stdout, stderr) = run(spate(dir).args([
        "sql",
        &format!(
            "create external table t stored as delta location '{}'; \
             select count(*), count(distinct id) from t",
            table.display()
        ),
    ]));
    assert_eq!(code, 0, "{stderr}");
    stdout.lines().nth(1).unwrap_or_default().to_string()
}

fn data_files(table: &Path) -> usize {
    std::fs::read_dir(table)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_writer_killed_mid_write_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("events");
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", &append_sql(&table, 0, 1000)]));
    assert_eq!(code, 0, "{stderr}");
    let before = data_files(&table);

    let mut writer = std::process::Command::new(assert_cmd::cargo::cargo_bin("spate"))
        .current_dir(dir.path())
        .args(["sql", &append_sql(&table, 1000, 200_000_000)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has finished some data files of the new version, mid-write.
    let deadline = Instant::now() + Duration::from_secs(120);
    while data_files(&table) < before + 2 {
        assert!(
            Instant::now() < deadline,
            "the writer wrote no file in time"
        );
        assert!(
            writer.try_wait().unwrap().is_none(),
            "the writer ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.kill().unwrap(); // SIGKILL
    writer.wait().unwrap();
    assert!(data_files(&table) > before, "partial files are on disk");

    let log: Vec<_> = std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(log, ["00000000000000000000.json"]);
    assert_eq!(count(dir.path(), &table), "1000,1000");
    // The table takes writes again.
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", &append_sql(&table, 1000, 10)]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(dir.path(), &table), "1010,1010");
}

#[test]
fn two_processes_appending_at_once_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("events");
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", &append_sql(&table, 0, 10)]));
    assert_eq!(code, 0, "{stderr}");
    let spawn = |start: u64| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("spate"))
            .current_dir(dir.path())
            .args(["sql", &append_sql(&table, start, 300_000)])
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn(1_000_000));
        let b = s.spawn(|| spawn(2_000_000));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for (output, start) in [(a, 1_000_000), (b, 2_000_000)] {
        if output.status.success() {
            continue;
        }
        // The loser of a real conflict gets one clear error, and its retry lands.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("conflicting concurrent transaction"),
            "{stderr}"
        );
        let (code, _, stderr) =
            run(spate(dir.path()).args(["sql", &append_sql(&table, start, 300_000)]));
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(count(dir.path(), &table), "600010,600010");
}

#[test]
fn explain_shows_delta_writes_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let sql = repo().join("sql/cymbal/daily.sql");
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "explain",
        sql.to_str().unwrap(),
        "--data",
        cymbal().to_str().unwrap(),
        "--param",
        "run_date=2026-11-23",
        "--format",
        "csv",
    ]));
    assert_eq!(code, 0, "{stderr}");
    // Each of the three COPYs explains the plan that runs: the commit at the root of its
    // physical plan, over the writers (the stage graph shows them again). Tables are named
    // by their absolute location (relative to the directory the command ran in).
    let warehouse = format!("{}/warehouse/", dir.path().display());
    let commit = format!("DeltaCommitExec: table={warehouse}");
    let writer = format!("DeltaWriterExec: table={warehouse}");
    assert_eq!(
        stdout.matches(&format!("physical_plan,\"{commit}")).count(),
        3,
        "{stdout}"
    );
    for table in ["daily_sales", "invoices", "invoice_lines"] {
        assert!(
            stdout.contains(&format!("{commit}{table}, mode=Overwrite")),
            "{stdout}"
        );
    }
    assert_eq!(
        stdout.matches(&writer).count(),
        stdout.matches(&commit).count(),
        "{stdout}"
    );
    assert!(!dir.path().join("warehouse").exists());
}
