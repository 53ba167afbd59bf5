//! Azure Blob tables against Azurite: `az://` and `abfss://` URLs, and the errors of a
//! wrong key and a refused write.

use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::super::common::*;
use super::super::emulators::{Azurite, ClosedPort};
use super::{
    dataframe_writer_round_trip, dead_endpoint_fails_fast, missing_locations_fail_clearly,
    partitioned_tables_round_trip,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_partitioned_parquet_and_csv_round_trip() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    let csv = "abfss://lake@devstoreaccount1.dfs.core.windows.net/csv/";
    partitioned_tables_round_trip(&session, "az://lake", csv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_dataframe_writer_round_trip() {
    let azurite = Azurite::start(&["lake"]);
    dataframe_writer_round_trip(&session_with(azurite.config()), "az://lake/written/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_errors_name_the_location_and_the_cause() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    session
        .run_script("COPY (SELECT 1 AS id) TO 'az://lake/one/one.parquet' STORED AS PARQUET")
        .await
        .unwrap();
    missing_locations_fail_clearly(
        &session,
        "az://nocontainer/x/",
        "ContainerNotFound",
        "az://lake/one",
    )
    .await;

    // A wrong key: Azurite checks SharedKey signatures. The key never shows.
    let wrong = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IQ==";
    let denied = session_with(azurite.config_with_key(wrong));
    let msg = query_error(
        &denied,
        "create external table t stored as parquet location 'az://lake/one/'",
    )
    .await;
    eprintln!("bad credentials: {msg}");
    assert!(msg.contains("az://lake/one/: "), "{msg}");
    assert!(
        msg.contains("403") && msg.contains("AuthorizationFailure"),
        "{msg}"
    );
    assert!(!msg.contains("RequestId"), "{msg}");
    assert!(!msg.contains(wrong), "{msg}");

    // A write that is refused leaves nothing behind.
    let msg = denied
        .run_script("COPY (SELECT 1 AS id) TO 'az://lake/denied/' STORED AS PARQUET")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("write denied: {msg}");
    assert!(msg.contains("403"), "{msg}");
    let msg = query_error(
        &session,
        "create external table t stored as parquet location 'az://lake/denied/'",
    )
    .await;
    assert!(msg.contains("no data files in az://lake/denied/"), "{msg}");

    let closed = ClosedPort::new();
    let dead = StoreConfig {
        stores: vec![StoreSettings {
            prefix: "az://".into(),
            endpoint: Some(format!("http://127.0.0.1:{}", closed.port)),
            retries: Some(1),
            connect_timeout_secs: Some(2),
            timeout_secs: Some(3),
            options: [("azure_storage_use_emulator".to_string(), "true".to_string())].into(),
            ..StoreSettings::default()
        }],
        ..StoreConfig::default()
    };
    dead_endpoint_fails_fast(dead, "az://lake/one/").await;
}
