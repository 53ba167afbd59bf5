//! Fault injection through the environment and flags: same answer, retries shown by
//! `--metrics`, bad values rejected with one clear error.

use super::common::{assert_error, run, spate};

const SQL: &str =
    "select k, count(*) as n from (select value % 13 as k from range(20000)) group by k order by k";

#[test]
fn injected_faults_from_the_environment_change_nothing_but_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (code, clean, stderr) = run(spate(dir.path()).args(["sql", SQL, "--threads", "2"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, faulty, stderr) = run(spate(dir.path())
        .args(["sql", SQL, "--threads", "2", "--metrics"])
        .env("SPATE_INJECT_TASK_FAILURES", "0.3")
        .env("SPATE_INJECT_SHUFFLE_CORRUPTION", "0.1")
        .env("SPATE_INJECT_SEED", "4"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faulty, clean);
    assert!(
        stderr.contains("task attempts failed and were retried"),
        "{stderr}"
    );
    assert!(stderr.contains("retried"), "{stderr}");
}

#[test]
fn a_flag_wins_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(spate(dir.path())
        .args([
            "sql",
            SQL,
            "--inject-task-failures",
            "1",
            "--task-retries",
            "1",
        ])
        .env("SPATE_INJECT_TASK_FAILURES", "0"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("failed 2 times (retries: 1)"), "{stderr}");
}

#[test]
fn bad_fault_settings_are_usage_errors_naming_the_variable_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("SPATE_INJECT_TASK_FAILURES", "abc"),
        ("SPATE_INJECT_TASK_FAILURES", "1.5"),
        ("SPATE_INJECT_SHUFFLE_CORRUPTION", "-0.1"),
        ("SPATE_INJECT_SEED", "x"),
    ] {
        assert_error(
            &run(spate(dir.path()).args(["sql", "select 1"]).env(var, value)),
            2,
            &format!("invalid {var} '{value}'"),
        );
    }
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--inject-task-failures", "2"])),
        2,
        "invalid --inject-task-failures '2': expected a fraction between 0 and 1",
    );
}
