//! S3 tables against moto.

use spate::SaveMode;
use spate_connectors::object_stores::StoreConfig;

use super::super::common::*;
use super::super::emulators::{ClosedPort, Moto};
use super::dead_endpoint_fails_fast;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_partitioned_parquet_and_csv_round_trip() {
    let moto = Moto::start(&["lake"]);
    let session = session_with(moto.config());
    session
        .run_script(
            "COPY (SELECT value AS id, value % 3 AS part, 'x' || value AS label FROM range(300))
               TO 's3://lake/nums/' STORED AS PARQUET PARTITIONED BY (part);
             COPY (SELECT value AS id FROM range(10)) TO 's3a://lake/csv/ten.csv' STORED AS CSV;
             CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION 's3://lake/nums/';
             CREATE EXTERNAL TABLE ten STORED AS CSV LOCATION 's3a://lake/csv/';",
        )
        .await
        .unwrap();
    assert_eq!(
        query(
            &session,
            "select arrow_typeof(part), count(*), sum(id) from nums group by 1"
        )
        .await,
        ["Int64|300|44850"]
    );
    assert_eq!(
        query(
            &session,
            "select part, count(*) from nums where part = 2 group by part"
        )
        .await,
        ["2|100"]
    );
    assert_eq!(query(&session, "select sum(id) from ten").await, ["45"]);
    // Each statement reports its requests and bytes per store; credentials never show.
    let results = session
        .run_script("select sum(id) from nums where part = 1")
        .await
        .unwrap();
    let io = &results[0].metrics.store_io;
    assert!(
        io.iter()
            .any(|s| s.store == "s3://lake" && s.gets > 0 && s.bytes_read > 0 && s.puts == 0),
        "{io:?}"
    );
    // `--data s3://lake/`: each subdirectory is a table.
    let data = session_with(moto.config());
    let tables = data.register_remote_directory("s3a://lake").await.unwrap();
    assert_eq!(tables, ["csv", "nums"]);
    assert_eq!(query(&data, "select count(*) from nums").await, ["300"]);
    let msg = data
        .register_remote_directory("s3://lake/nothing/")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(msg, "no data files in s3://lake/nothing/");
    let total = session.store_io();
    assert!(total[0].puts > 0 && total[0].bytes_written > 0, "{total:?}");
    let df = session.read().parquet("s3://lake/nums/").await.unwrap();
    assert_eq!(df.count().await.unwrap(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_dataframe_writer_round_trip() {
    let moto = Moto::start(&["lake"]);
    let session = session_with(moto.config());
    let df = session
        .sql("select value as id, value % 2 as parity from range(50)")
        .await
        .unwrap();
    let written = df
        .write()
        .mode(SaveMode::ErrorIfExists)
        .partition_by(&["parity"])
        .parquet("s3://lake/written/")
        .await
        .unwrap();
    assert_eq!(written, 50);
    let back = session.read().parquet("s3://lake/written/").await.unwrap();
    assert_eq!(back.count().await.unwrap(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_name_the_location_and_come_fast() {
    let moto = Moto::start(&["lake"]);
    let session = session_with(moto.config());
    let msg = query_error(
        &session,
        "create external table t stored as parquet location 's3://nobucket/x/'",
    )
    .await;
    assert!(
        msg.contains("nobucket") && msg.contains("NoSuchBucket"),
        "{msg}"
    );
    let msg = query_error(
        &session,
        "create external table t stored as parquet location 's3://lake/empty/'",
    )
    .await;
    assert!(msg.contains("no data files in s3://lake/empty/"), "{msg}");

    let closed = ClosedPort::new();
    let dead = StoreConfig::parse(&format!(
        "[[stores]]\nprefix = \"s3://\"\nendpoint = \"http://127.0.0.1:{}\"\nregion = \"us-east-1\"\n\
         retries = 1\nconnect_timeout_secs = 2\ntimeout_secs = 3\n\
         options = {{ aws_access_key_id = \"test\", aws_secret_access_key = \"test\" }}",
        closed.port
    ))
    .unwrap();
    dead_endpoint_fails_fast(dead, "s3://lake/x/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_table_options_never_show() {
    let moto = Moto::start(&["lake"]);
    let session = session_with(moto.config());
    session
        .run_script("COPY (SELECT 1 AS id) TO 's3://lake/s/one.parquet' STORED AS PARQUET")
        .await
        .unwrap();
    let secret = "hunter2-SECRET-VALUE";
    let create = format!(
        "CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION 's3://lake/s/' \
         OPTIONS ('aws.access_key_id' 'test', 'aws.secret_access_key' '{secret}')"
    );
    session.run_script(&create).await.unwrap();
    let explained = query(&session, "explain select * from s").await.join("\n");
    assert!(!explained.contains(secret), "{explained}");
    let bad = format!(
        "CREATE EXTERNAL TABLE s2 STORED AS PARQUET LOCATION 's3://lake/s/' \
         OPTIONS ('aws.secret_access_key' '{secret}', 'aws.no_such_key' '{secret}')"
    );
    let msg = session.run_script(&bad).await.unwrap_err().to_string();
    assert!(msg.contains("unknown option 'aws.no_such_key'"), "{msg}");
    assert!(!msg.contains(secret), "{msg}");
}
