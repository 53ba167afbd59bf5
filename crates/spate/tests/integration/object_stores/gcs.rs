//! GCS tables against fake-gcs-server: reads of Hive-partitioned Parquet and CSV, and the
//! errors of bad input. fake-gcs-server does not serve object_store's XML-API writes, so
//! GCS writes are not covered by an emulator (the test says so in its output); the data is
//! seeded through the server's JSON upload API.

use std::time::{Duration, Instant};

use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::super::common::*;
use super::super::emulators::{FakeGcs, free_port};
use super::{assert_tables, write_tables_sql};

/// Writes the test tables on local disk with spate, then uploads them to `gcs`.
async fn seed(gcs: &FakeGcs) {
    let dir = tempfile::tempdir().unwrap();
    let local = session();
    let root = dir.path().display().to_string();
    local.run_script(&write_tables_sql(&root)).await.unwrap();
    gcs.upload_dir("lake", "nums", &dir.path().join("nums"));
    gcs.upload_dir("lake", "csv", &dir.path().join("csv"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_reads_partitioned_parquet_and_csv() {
    println!(
        "note: GCS writes are not covered by an emulator (fake-gcs-server does not serve object_store's XML-API uploads); GCS reads are"
    );
    let gcs = FakeGcs::start(&["lake"]);
    seed(&gcs).await;
    let session = session_with(gcs.config());
    session
        .run_script(
            "CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION 'gs://lake/nums/';
             CREATE EXTERNAL TABLE ten STORED AS CSV LOCATION 'gs://lake/csv/';",
        )
        .await
        .unwrap();
    assert_tables(&session).await;
    let df = session.read().parquet("gs://lake/nums/").await.unwrap();
    assert_eq!(df.count().await.unwrap(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_errors_name_the_location_and_the_cause() {
    let gcs = FakeGcs::start(&["lake"]);
    gcs.upload("lake", "one/a.csv", b"id\n1\n");
    let session = session_with(gcs.config());

    let msg = query_error(
        &session,
        "create external table t stored as parquet location 'gs://nobucket/x/'",
    )
    .await;
    eprintln!("missing bucket: {msg}");
    assert!(
        msg.contains("gs://nobucket/x/: ") && msg.contains("no bucket named nobucket"),
        "{msg}"
    );

    let msg = session
        .read()
        .csv("gs://lake/one/missing.csv")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("missing object: {msg}");
    assert!(msg.contains("gs://lake/one/missing.csv"), "{msg}");

    // Bad credentials: a service-account key that is not one. The key never shows.
    let secret = "hunter2-NOT-A-KEY";
    let bad = StoreConfig {
        stores: vec![StoreSettings {
            prefix: "gs://".into(),
            options: [(
                "google_service_account_key".to_string(),
                format!(r#"{{"private_key": "{secret}"}}"#),
            )]
            .into(),
            ..StoreSettings::default()
        }],
    };
    let msg = query_error(
        &session_with(bad),
        "create external table t stored as csv location 'gs://lake/one/'",
    )
    .await;
    eprintln!("bad credentials: {msg}");
    assert!(msg.contains("gs://lake"), "{msg}");
    assert!(!msg.contains(secret), "{msg}");

    // Nothing listening: a clear error within the configured timeouts.
    let started = Instant::now();
    let msg = query_error(
        &session_with(FakeGcs::config_at(free_port())),
        "create external table t stored as csv location 'gs://lake/one/'",
    )
    .await;
    eprintln!("endpoint down: {msg}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        msg.contains("gs://lake/one/: ") && msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(msg.contains("Connection refused"), "{msg}");
}
