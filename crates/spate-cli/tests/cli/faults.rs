//! Fault injection through flags and `spate.toml`: same answer, retries shown by
//! `--metrics`, bad values rejected with one clear error, and the environment ignored (a
//! stray variable cannot make a normal run's tasks fail).

use super::common::{assert_error, run, spate};

const SQL: &str =
    "select k, count(*) as n from (select value % 13 as k from range(20000)) group by k order by k";

#[test]
fn injected_faults_change_nothing_but_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (code, clean, stderr) = run(spate(dir.path()).args(["sql", SQL, "--threads", "2"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, faulty, stderr) = run(spate(dir.path()).args([
        "sql",
        SQL,
        "--threads",
        "2",
        "--metrics",
        "--inject-task-failures",
        "0.3",
        "--inject-shuffle-corruption",
        "0.1",
        "--inject-seed",
        "4",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faulty, clean);
    assert!(
        stderr.contains("task attempts failed and were retried"),
        "{stderr}"
    );
}

#[test]
fn the_environment_injects_no_faults() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(spate(dir.path())
        .args(["sql", SQL, "--task-retries", "0", "--metrics"])
        .env("SPATE_INJECT_TASK_FAILURES", "1")
        .env("SPATE_INJECT_SHUFFLE_CORRUPTION", "1")
        .env("SPATE_INJECT_SEED", "x"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("task attempts failed and were retried"),
        "{stderr}"
    );
}

#[test]
fn a_flag_wins_over_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spate.toml"),
        "[spate]\ninject_task_failures = 1\ntask_retries = 0\n",
    )
    .unwrap();
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", SQL]));
    assert_eq!(code, 1, "the file's settings apply: {stderr}");
    assert!(stderr.contains("injected failure"), "{stderr}");
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", SQL, "--task-retries", "1"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("failed 2 times (retries: 1)"), "{stderr}");
    let (code, _, stderr) =
        run(spate(dir.path()).args(["sql", SQL, "--inject-task-failures", "0"]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_fault_settings_are_usage_errors_naming_the_flag_or_key() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--inject-task-failures", "abc"),
        ("--inject-task-failures", "1.5"),
        ("--inject-shuffle-corruption", "-0.1"),
        ("--inject-seed", "x"),
    ] {
        assert_error(
            &run(spate(dir.path()).args(["sql", "select 1", &format!("{flag}={value}")])),
            2,
            &format!("invalid {flag} '{value}'"),
        );
    }
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--inject-task-failures", "2"])),
        2,
        "invalid --inject-task-failures '2': expected a fraction between 0 and 1",
    );
    std::fs::write(dir.path().join("spate.toml"), "[spate]\ninject_seed = -3\n").unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1"])),
        2,
        "invalid spate.inject_seed '-3'",
    );
}
