//! `spate demo generate`.

use super::common::*;

#[test]
fn generates_a_queryable_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "demo",
        "generate",
        "--transactions",
        "5000",
        "--days",
        "2",
        "--out",
        "gen",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("generated 5000 transactions"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        "select day, count(*) from transactions t join stores s using (store_id) group by day order by day",
        "--data",
        "gen",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "day,count(*)\n2026-11-17,2500\n2026-11-18,2500\n");
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let result =
        run(spate(dir.path()).args(["demo", "generate", "--transactions", "0", "--out", "gen"]));
    assert_eq!(result.0, 2, "{}", result.2);
    assert!(result.2.contains("transactions"), "{}", result.2);
    assert!(!dir.path().join("gen").exists());
}
