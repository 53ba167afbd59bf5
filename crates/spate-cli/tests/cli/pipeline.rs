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
    for table in ["daily_sales", "invoices", "invoice_lines"] {
        let log = dir.path().join(format!("warehouse/{table}/_delta_log"));
        assert!(log.is_dir(), "{} missing", log.display());
    }
    // The invoices read back: one per customer who bought that day, totals consistent.
    let check = run(spate(dir.path()).args([
        "sql",
        "create external table invoices stored as delta location 'warehouse/invoices'; \
         select count(*) = count(distinct customer_id) as one_per_customer, sum(lines) as lines, \
         sum(total) = sum(subtotal) - sum(discounts) + sum(tax) as consistent from invoices",
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
fn rerunning_a_day_leaves_one_copy_of_that_day_in_the_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let sql = repo().join("sql/cymbal/daily.sql");
    let warehouse = dir.path().join("elsewhere");
    for day in ["2026-11-22", "2026-11-23", "2026-11-22"] {
        let (code, _, stderr) = run(spate(dir.path()).args([
            "run",
            sql.to_str().unwrap(),
            "--data",
            cymbal().to_str().unwrap(),
            "--param",
            &format!("run_date={day}"),
            "--param",
            &format!("warehouse={}", warehouse.display()),
            "--quiet",
        ]));
        assert_eq!(code, 0, "{stderr}");
    }
    assert!(!dir.path().join("warehouse").exists());
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        &format!(
            "create external table lines stored as delta location '{}/invoice_lines'; \
             select invoice_date, count(*) = count(distinct transaction_id) from lines group by 1 order by 1",
            warehouse.display()
        ),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "invoice_date,count(*) = count(DISTINCT lines.transaction_id)\n2026-11-22,true\n2026-11-23,true\n"
    );
    let transactions = run(spate(dir.path()).args([
        "sql",
        &format!(
            "create external table lines stored as delta location '{}/invoice_lines'; \
             select count(*) from lines where invoice_date = DATE '2026-11-22'",
            warehouse.display()
        ),
    ]));
    let expected = run(spate(dir.path()).args([
        "sql",
        "select count(*) from transactions where day = DATE '2026-11-22'",
        "--data",
        cymbal().to_str().unwrap(),
    ]));
    assert_eq!(transactions.1, expected.1);
}
