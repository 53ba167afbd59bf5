//! The Cymbal pipeline end to end, as the README runs it.

use super::common::*;

#[test]
fn the_daily_pipeline_prints_the_report_and_writes_the_invoices() {
    let dir = tempfile::tempdir().unwrap();
    let sql = repo().join("sql/cymbal/daily.sql");
    let result = run(spate(dir.path()).args([
        "run",
        sql.to_str().unwrap(),
        "--data",
        cymbal().to_str().unwrap(),
        "--param",
        "run_date=2026-11-23",
    ]));
    let (code, stdout, stderr) = &result;
    assert_eq!(*code, 0, "{stderr}");
    // Not a terminal: results as CSV with headers, reports silent.
    assert!(
        stdout.starts_with(
            "store_name,region,category,lines,units,gross_sales,discounts,net_sales\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "invoice_number,customer_name,lines,subtotal,discounts,tax,total\nINV-20261123-"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1 + 15 + 1 + 10);
    for file in ["daily_sales", "invoices", "invoice_lines"] {
        let path = dir.path().join(format!("out/2026-11-23/{file}.parquet"));
        assert!(path.is_file(), "{} missing", path.display());
    }
    // The invoices read back: one per customer who bought that day, totals consistent.
    let check = run(spate(dir.path()).args([
        "sql",
        "select count(*) = count(distinct customer_id) as one_per_customer, sum(lines) as lines, \
         sum(total) = sum(subtotal) - sum(discounts) + sum(tax) as consistent from invoices",
        "--table",
        "invoices=out/2026-11-23/invoices.parquet",
    ]));
    let lines = run(spate(dir.path()).args([
        "sql",
        "select count(*) from transactions where day = DATE '2026-11-23'",
        "--data",
        cymbal().to_str().unwrap(),
    ]));
    let expected_lines = lines.1.lines().nth(1).unwrap().to_string();
    assert_eq!(
        check.1,
        format!("one_per_customer,lines,consistent\ntrue,{expected_lines},true\n")
    );
}

#[test]
fn rerunning_a_day_replaces_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let sql = repo().join("sql/cymbal/daily.sql");
    for _ in 0..2 {
        let (code, _, stderr) = run(spate(dir.path()).args([
            "run",
            sql.to_str().unwrap(),
            "--data",
            cymbal().to_str().unwrap(),
            "--param",
            "run_date=2026-11-22",
            "--quiet",
        ]));
        assert_eq!(code, 0, "{stderr}");
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join("out/2026-11-22"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 3);
}
