//! SQL scripts through the library: parameters, line numbers, what each statement reports.

use spate::{Session, SpateError, StatementKind};

use super::common::*;

#[tokio::test]
async fn a_script_runs_in_order_and_reports_each_statement() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("copy.parquet");
    let session = Session::builder().param("limit", "2").build().unwrap();
    let script = format!(
        "CREATE TABLE nums AS SELECT * FROM (VALUES (1), (2), (3)) t(n);\n\
         INSERT INTO nums VALUES (4), (5);\n\
         CREATE VIEW big AS SELECT n FROM nums WHERE n > ${{limit}};\n\
         SET datafusion.execution.batch_size = 1024;\n\
         COPY (SELECT * FROM big) TO '{}' STORED AS PARQUET;\n\
         SELECT count(*) AS c FROM big;\n\
         DROP VIEW big;",
        out.display()
    );
    let results = session.run_script(&script).await.unwrap();
    let kinds: Vec<StatementKind> = results.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            StatementKind::CreateTable,
            StatementKind::Insert,
            StatementKind::CreateView,
            StatementKind::Set,
            StatementKind::Copy,
            StatementKind::Query,
            StatementKind::Drop,
        ]
    );
    assert_eq!(results[1].rows_written, Some(2));
    assert_eq!(results[1].message, "inserted 2 rows into nums");
    assert_eq!(results[4].rows_written, Some(3));
    assert_eq!(rows(&results[5].batches), ["3"]);
    assert_eq!(results[5].line, 6);
    assert!(out.is_file());
}

#[tokio::test]
async fn a_syntax_error_stops_the_script_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.csv");
    let session = session();
    let script = format!(
        "COPY (SELECT 1) TO '{}' STORED AS CSV;\n\n-- the typo\nSELEC 2;",
        out.display()
    );
    let err = session.run_script(&script).await.unwrap_err();
    assert!(
        matches!(err, SpateError::Statement { line: 4, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 4, column 1"), "{err}");
    assert!(
        !out.exists(),
        "nothing may run before the whole script parses"
    );
}

#[tokio::test]
async fn a_failing_statement_names_its_line() {
    let session = session();
    let err = session
        .run_script("select 1;\nselect\n  missing_column\nfrom (values (1)) t(x);")
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("<sql>:2: "), "{err}");
    assert!(err.to_string().contains("missing_column"), "{err}");
}

#[tokio::test]
async fn unknown_parameters_are_errors_with_their_line() {
    let session = session();
    let err = session
        .prepare_script("job.sql", "select 1;\n\nselect '${day}'")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "job.sql:3: unknown parameter ${day}: no value given"
    );
}
