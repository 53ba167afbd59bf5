//! Bad input: one clear line, the right exit code, nothing written.

use super::common::*;

#[test]
fn a_missing_sql_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &run(spate(dir.path()).args(["run", "nope.sql"])),
        2,
        "cannot read nope.sql",
    );
}

#[test]
fn a_missing_data_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--data", "nowhere"])),
        2,
        "--data nowhere: directory not found",
    );
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--table", "t=nowhere.parquet"])),
        2,
        "path not found: nowhere.parquet",
    );
}

#[test]
fn an_empty_data_table_names_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/empty")).unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select * from empty", "--data", "data"])),
        1,
        "no data files in",
    );
}

#[test]
fn a_syntax_error_names_the_file_and_line_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "COPY (SELECT 1 AS x) TO 'written.csv' STORED AS CSV;\n\n-- oops\nSELEC 1 FROM t;\n",
    )
    .unwrap();
    assert_error(
        &run(spate(dir.path()).args(["run", "job.sql"])),
        1,
        "job.sql:4: SQL syntax error",
    );
    assert!(!dir.path().join("written.csv").exists());
}

#[test]
fn unknown_tables_and_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("q.sql"),
        "select 1;\nselect nothing from (values (1)) t(x);\n",
    )
    .unwrap();
    assert_error(
        &run(spate(dir.path()).args(["run", "q.sql"])),
        1,
        "q.sql:2: ",
    );
    assert_error(
        &run(spate(dir.path()).args(["sql", "select * from ghosts"])),
        1,
        "table 'datafusion.public.ghosts' not found",
    );
}

#[test]
fn an_unknown_parameter_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.sql"),
        "select 1;\nselect '${run_date}';\n",
    )
    .unwrap();
    assert_error(
        &run(spate(dir.path()).args(["run", "p.sql"])),
        2,
        "p.sql:2: unknown parameter ${run_date}",
    );
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--param", "novalue"])),
        2,
        "expected NAME=VALUE",
    );
}

#[test]
fn output_into_a_missing_directory_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--output", "missing/r.csv"])),
        2,
        "directory missing does not exist",
    );
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn output_needs_exactly_one_query() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1; select 2", "--output", "r.csv"])),
        2,
        "takes the result of one query, but the SQL has 2",
    );
    assert!(!dir.path().join("r.csv").exists());
}

#[test]
fn a_failing_script_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    // The query succeeds, a later statement fails: the result is not written.
    let result = run(spate(dir.path()).args([
        "sql",
        "select 1 as x; create view v as select * from missing_table",
        "--output",
        "r.csv",
    ]));
    assert_eq!(result.0, 1, "{}", result.2);
    assert!(!dir.path().join("r.csv").exists());
}

#[test]
fn a_truncated_parquet_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/t")).unwrap();
    make_parquet(dir.path(), "data/t/good.parquet", 10);
    make_parquet(dir.path(), "data/t/bad.parquet", 1000);
    let bad = dir.path().join("data/t/bad.parquet");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() - 100]).unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select count(*) from t", "--data", "data"])),
        1,
        "bad.parquet",
    );
}

#[test]
fn a_schema_conflict_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/t")).unwrap();
    make_parquet(dir.path(), "data/t/a.parquet", 3);
    let (code, _, stderr) =
        run(spate(dir.path()).args(["sql", "select 'x' as id", "--output", "data/t/b.parquet"]));
    assert_eq!(code, 0, "{stderr}");
    assert_error(
        &run(spate(dir.path()).args(["sql", "select * from t", "--data", "data"])),
        1,
        "schema conflict in table `t`",
    );
}

#[test]
fn ragged_csv_rows_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Caught while inferring the schema.
    std::fs::write(dir.path().join("small.csv"), "a,b\n1,2\n3,4,5\n").unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select * from r", "--table", "r=small.csv"])),
        1,
        "small.csv",
    );
    // Caught while scanning, far past the rows inference reads.
    let mut text = String::from("a,b\n");
    for i in 0..5000 {
        text.push_str(&format!("{i},{i}\n"));
    }
    text.push_str("1,2,3\n");
    std::fs::write(dir.path().join("big.csv"), text).unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select sum(a) from r", "--table", "r=big.csv"])),
        1,
        "big.csv: Csv error: incorrect number of fields for line 5002",
    );
}

#[test]
fn a_memory_limit_too_small_says_which_limit_to_raise() {
    let dir = tempfile::tempdir().unwrap();
    assert_error(
        &run(spate(dir.path()).args([
            "sql",
            // One join key for every row: the grace join cannot split it small enough.
            "select count(*) from (select value % 1 as k, value as v from range(400000)) a \
             join (select value % 1 as k, value as w from range(400000)) b on a.k = b.k and a.v < b.w",
            "--memory-limit",
            "2MiB",
        ])),
        1,
        "raise --memory-limit",
    );
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--memory-limit", "lots"])),
        2,
        "invalid --memory-limit 'lots'",
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(spate(dir.path()).args(["sql", "select 1", "--format", "xml"]));
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = run(spate(dir.path()).args(["frobnicate"]));
    assert_eq!(code, 2);
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--executor", "spark"])),
        2,
        "invalid --executor 'spark'",
    );
}

#[test]
fn object_store_settings_and_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spate.toml"),
        "[[stores]]\nprefix = \"s3://\"\nendpiont = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let result = run(spate(dir.path()).args(["sql", "select 1"]));
    assert_error(&result, 2, "spate.toml");
    assert!(result.2.contains("endpiont"), "{}", result.2);
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--config", "missing.toml"])),
        2,
        "missing.toml",
    );
    std::fs::remove_file(dir.path().join("spate.toml")).unwrap();
    assert_error(
        &run(spate(dir.path()).args(["sql", "select 1", "--table", "t=ftp://host/x/"])),
        1,
        "unsupported URL scheme 'ftp'",
    );
}
