//! Files and directories as tables: formats, Hive partitions, schema merging, and the
//! errors for bad locations and bad files.

use spate::SpateError;
use spate::arrow::datatypes::DataType;

use super::common::*;

#[tokio::test]
async fn a_directory_of_parquet_files_is_one_table() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path().join("t/a.parquet"),
        &people(&[1, 2], &["a", "b"]),
    );
    write_parquet(&dir.path().join("t/b.parquet"), &people(&[3], &["c"]));
    write_text(&dir.path().join("t/_SUCCESS"), "");
    let session = session();
    session.register("t", dir.path().join("t")).await.unwrap();
    assert_eq!(
        query(&session, "select count(*), sum(id) from t").await,
        ["3|6"]
    );
}

#[tokio::test]
async fn hive_partition_directories_become_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sales");
    write_text(
        &root.join("day=2026-11-22/store=1/p.csv"),
        "amount\n10\n20\n",
    );
    write_text(&root.join("day=2026-11-23/store=1/p.csv"), "amount\n5\n");
    write_text(&root.join("day=2026-11-23/store=12/p.csv"), "amount\n7\n");
    let session = session();
    session.register("sales", &root).await.unwrap();
    let df = session.sql("select * from sales").await.unwrap();
    let schema = df.schema();
    assert_eq!(
        schema.field_with_name("day").unwrap().data_type(),
        &DataType::Date32
    );
    assert_eq!(
        schema.field_with_name("store").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        query(
            &session,
            "select day, store, sum(amount) from sales where day = DATE '2026-11-23' group by 1, 2 order by 2"
        )
        .await,
        ["2026-11-23|1|5", "2026-11-23|12|7"]
    );
}

#[tokio::test]
async fn files_with_compatible_schemas_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("t/a.parquet"), &people(&[1], &["a"]));
    let only_id = people(&[2], &["x"]).project(&[0]).unwrap();
    write_parquet(&dir.path().join("t/b.parquet"), &only_id);
    let session = session();
    session.register("t", dir.path().join("t")).await.unwrap();
    assert_eq!(
        query(&session, "select id, name from t order by id").await,
        ["1|a", "2|NULL"]
    );
}

#[tokio::test]
async fn a_schema_conflict_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("t/a.parquet"), &people(&[1], &["a"]));
    let swapped = people(&[1], &["a"]);
    let renamed = spate::arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(spate::arrow::datatypes::Schema::new(vec![
            spate::arrow::datatypes::Field::new("id", DataType::Utf8, true),
        ])),
        vec![swapped.column(1).clone()],
    )
    .unwrap();
    write_parquet(&dir.path().join("t/b.parquet"), &renamed);
    let err = session()
        .register("t", dir.path().join("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::SchemaConflict { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("b.parquet"), "{msg}");
    assert!(msg.contains("table `t`"), "{msg}");
}

#[tokio::test]
async fn a_truncated_parquet_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("t/good.parquet"), &people(&[1], &["a"]));
    let bad = dir.path().join("t/bad.parquet");
    write_parquet(&bad, &people(&[1, 2, 3], &["a", "b", "c"]));
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let err = session()
        .register("t", dir.path().join("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::BadFile { .. }), "{err:?}");
    assert!(err.to_string().contains("bad.parquet"), "{err}");
}

#[tokio::test]
async fn missing_and_empty_locations_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();
    let err = session
        .register("t", dir.path().join("nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::PathNotFound { .. }), "{err:?}");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let err = session
        .register("t", dir.path().join("empty"))
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::NoDataFiles { .. }), "{err:?}");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[tokio::test]
async fn mixed_formats_need_an_explicit_format() {
    let dir = tempfile::tempdir().unwrap();
    write_text(&dir.path().join("t/a.csv"), "x\n1\n");
    write_text(&dir.path().join("t/b.json"), "{\"x\": 1}\n");
    let err = session()
        .register("t", dir.path().join("t"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("mixes formats (csv, json)"),
        "{err}"
    );
}

#[tokio::test]
async fn ragged_csv_rows_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ragged.csv");
    write_text(&path, "a,b\n1,2\n3,4,5\n");
    let session = session();
    let result = match session.register("ragged", &path).await {
        Ok(()) => session
            .sql("select * from ragged")
            .await
            .unwrap()
            .collect()
            .await
            .map(|_| ()),
        Err(err) => Err(err),
    };
    let msg = result.unwrap_err().to_string();
    assert!(
        msg.contains("ragged.csv") || msg.contains("fields"),
        "{msg}"
    );
}

#[tokio::test]
async fn data_directories_register_every_entry_lazily() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(
        &dir.path().join("LineItem.parquet"),
        &people(&[1, 2], &["a", "b"]),
    );
    write_parquet(
        &dir.path().join("orders/part-0.parquet"),
        &people(&[7], &["o"]),
    );
    write_text(&dir.path().join("notes.md"), "not a table");
    // A broken table only fails the queries that use it.
    write_text(&dir.path().join("broken.parquet"), "not parquet at all");
    let session = session();
    let names = session.register_directory(dir.path()).unwrap();
    assert_eq!(names, ["broken", "lineitem", "orders"]);
    assert_eq!(
        query(&session, "select count(*) from lineitem").await,
        ["2"]
    );
    assert_eq!(query(&session, "select name from orders").await, ["o"]);
    let msg = query_error(&session, "select * from broken").await;
    assert!(msg.contains("broken.parquet"), "{msg}");
}

#[tokio::test]
async fn create_external_table_types_partitions_like_data_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("events");
    write_text(&root.join("year=2025/e.csv"), "kind\nclick\n");
    write_text(&root.join("year=2026/e.csv"), "kind\nview\nclick\n");
    let session = session();
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE events STORED AS CSV LOCATION '{}/'",
            root.display()
        ))
        .await
        .unwrap();
    assert_eq!(
        query(
            &session,
            "select year + 1, count(*) from events group by 1 order by 1"
        )
        .await,
        ["2026|1", "2027|2"]
    );
}

#[tokio::test]
async fn csv_reader_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rates.psv");
    write_text(&path, "EUR|1.5\nGBP|2.5\n");
    let session = session();
    let df = session
        .read()
        .format("csv")
        .option("delimiter", "|")
        .option("header", "false")
        .load(&path)
        .await
        .unwrap();
    let batches = df.collect().await.unwrap();
    assert_eq!(rows(&batches), ["EUR|1.5", "GBP|2.5"]);
}

#[tokio::test]
async fn a_memory_limit_too_small_names_the_limit() {
    let session = spate::Session::builder()
        .threads(2)
        .memory_limit(spate::ByteSize::mib(1))
        .build()
        .unwrap();
    let msg = query_error(
        &session,
        // One join key for every row: splitting the build side cannot make it fit.
        "select count(*) from (select value % 1 as k, value as v from range(300000)) a \
         join (select value % 1 as k, value as w from range(300000)) b on a.k = b.k and a.v < b.w",
    )
    .await;
    assert!(msg.contains("1.0 MiB memory limit"), "{msg}");
    assert!(msg.contains("spate.memory_limit"), "{msg}");
}
