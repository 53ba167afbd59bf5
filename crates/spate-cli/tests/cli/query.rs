//! `spate sql` and `spate run`: tables from flags, formats, output files, parameters.

use super::common::*;

#[test]
fn formats_csv_json_ndjson_table() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "select * from (values (1, 'a'), (2, NULL)) t(id, name) order by id";
    let csv = run(spate(dir.path()).args(["sql", sql]));
    assert_eq!(csv.1, "id,name\n1,a\n2,\n");
    let json = run(spate(dir.path()).args(["sql", sql, "--format", "json"]));
    assert_eq!(json.1, "[{\"id\":1,\"name\":\"a\"},{\"id\":2}]\n");
    let ndjson = run(spate(dir.path()).args(["sql", sql, "--format", "ndjson"]));
    assert_eq!(ndjson.1, "{\"id\":1,\"name\":\"a\"}\n{\"id\":2}\n");
    let table = run(spate(dir.path()).args(["sql", sql, "--format", "table"]));
    assert!(table.1.contains("| id | name |"), "{}", table.1);
}

#[test]
fn sql_from_standard_input_with_several_statements() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(spate(dir.path())
        .args(["sql", "-", "--param", "n=3"])
        .write_stdin(
            "create view v as select value from range(${n});\nselect sum(value) as s from v;",
        ));
    assert_eq!(result.0, 0, "{}", result.2);
    assert_eq!(result.1, "s\n3\n");
}

#[test]
fn data_directories_and_tables_from_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/orders")).unwrap();
    make_parquet(dir.path(), "data/orders/part-0.parquet", 5);
    make_parquet(dir.path(), "data/customers.parquet", 3);
    make_parquet(dir.path(), "extra.parquet", 2);
    let result = run(spate(dir.path()).args([
        "sql",
        "select (select count(*) from orders) as o, (select count(*) from customers) as c, (select count(*) from x) as x",
        "--data",
        "data",
        "--table",
        "x=extra.parquet",
    ]));
    assert_eq!(result.0, 0, "{}", result.2);
    assert_eq!(result.1.lines().nth(1), Some("5,3,2"));
}

#[test]
fn output_files_take_their_format_from_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (name, check) in [
        ("r.csv", "id,name\n0,n0\n"),
        ("r.json", "[{\"id\":0,\"name\":\"n0\"}]\n"),
        ("r.ndjson", "{\"id\":0,\"name\":\"n0\"}\n"),
    ] {
        let result = run(spate(dir.path()).args([
            "sql",
            "select value as id, 'n' || value as name from range(1)",
            "--output",
            name,
        ]));
        assert_eq!(result.0, 0, "{}", result.2);
        assert_eq!(result.1, "", "results go to the file, not stdout");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            check
        );
    }
    make_parquet(dir.path(), "r.parquet", 7);
    let back =
        run(spate(dir.path()).args(["sql", "select count(*) from r", "--table", "r=r.parquet"]));
    assert_eq!(back.1.lines().nth(1), Some("7"));
}

#[test]
fn help_shows_examples_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(spate(dir.path()).arg("--help"));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Examples:") && stdout.contains("spate run sql/cymbal/daily.sql"),
        "{stdout}"
    );
    let (code, stdout, _) = run(spate(dir.path()).args(["run", "--help"]));
    assert_eq!(code, 0);
    for flag in [
        "--data",
        "--table",
        "--param",
        "--format",
        "--output",
        "--memory-limit",
        "--threads",
        "--quiet",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from run --help");
    }
}

#[test]
fn the_datafusion_executor_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "select store_id, sum(quantity * unit_price) from transactions group by 1 order by 1";
    let data = cymbal();
    let a = run(spate(dir.path()).args(["sql", sql, "--data", data.to_str().unwrap()]));
    let b = run(spate(dir.path()).args([
        "sql",
        sql,
        "--data",
        data.to_str().unwrap(),
        "--executor",
        "datafusion",
        "--threads",
        "1",
    ]));
    assert_eq!(a.0, 0, "{}", a.2);
    assert_eq!(a.1, b.1);
    assert!(a.1.lines().count() > 10);
}

#[test]
fn explain_shows_spates_stages_and_runs_no_writes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "CREATE VIEW v AS SELECT store_id, count(*) AS n FROM transactions GROUP BY store_id;\n\
         COPY (SELECT * FROM v) TO 'never.parquet' STORED AS PARQUET;\n\
         SELECT * FROM v ORDER BY n DESC LIMIT 3;\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        run(spate(dir.path()).args(["explain", "job.sql", "--data", cymbal().to_str().unwrap()]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("spate_stages"), "{stdout}");
    assert!(
        stdout.contains("Stage 0 [") && stdout.contains("ShuffleReaderExec: stage=0"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("never.parquet").exists(),
        "explain must not write"
    );
}

#[test]
fn metrics_print_per_stage_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        "select store_id, count(*) from transactions group by 1 order by 1 limit 2",
        "--data",
        cymbal().to_str().unwrap(),
        "--metrics",
        "--shuffle-partitions",
        "3",
        // Adaptive reads would coalesce the 3 small partitions into one task.
        "--adaptive",
        "off",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stderr.contains("peak memory") && stderr.contains("stage  tasks"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with("1      3")),
        "3 shuffle partitions: {stderr}"
    );
}
