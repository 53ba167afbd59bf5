//! GCS tables against fake-gcs-server (behind the proxy that makes it take object_store's
//! uploads): `gs://` URLs, and the error of a key that is not one.

use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::super::common::*;
use super::super::emulators::{ClosedPort, FakeGcs};
use super::{
    dataframe_writer_round_trip, dead_endpoint_fails_fast, missing_locations_fail_clearly,
    partitioned_tables_round_trip,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_partitioned_parquet_and_csv_round_trip() {
    let gcs = FakeGcs::start(&["lake"]);
    let session = session_with(gcs.config());
    partitioned_tables_round_trip(&session, "gs://lake", "gs://lake/csv/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_dataframe_writer_round_trip() {
    let gcs = FakeGcs::start(&["lake"]);
    dataframe_writer_round_trip(&session_with(gcs.config()), "gs://lake/written/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_errors_name_the_location_and_the_cause() {
    let gcs = FakeGcs::start(&["lake"]);
    let session = session_with(gcs.config());
    session
        .run_script("COPY (SELECT 1 AS id) TO 'gs://lake/one/one.parquet' STORED AS PARQUET")
        .await
        .unwrap();
    missing_locations_fail_clearly(
        &session,
        "gs://nobucket/x/",
        "no bucket named nobucket",
        "gs://lake/one",
    )
    .await;

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
        ..StoreConfig::default()
    };
    let msg = query_error(
        &session_with(bad),
        "create external table t stored as parquet location 'gs://lake/one/'",
    )
    .await;
    eprintln!("bad credentials: {msg}");
    assert!(msg.contains("gs://lake"), "{msg}");
    assert!(!msg.contains(secret), "{msg}");

    let closed = ClosedPort::new();
    dead_endpoint_fails_fast(FakeGcs::config_at(closed.port), "gs://lake/one/").await;
}
