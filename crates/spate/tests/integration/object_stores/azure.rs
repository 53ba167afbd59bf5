//! Azure Blob tables against Azurite: `az://` and `abfss://` reads of Hive-partitioned
//! Parquet and CSV, COPY and DataFrame writes read back, and the errors of bad input.

use std::time::{Duration, Instant};

use spate::SaveMode;
use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::super::common::*;
use super::super::emulators::{Azurite, free_port};
use super::{assert_tables, write_tables_sql};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_partitioned_parquet_and_csv_round_trip() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    let script = write_tables_sql("az://lake")
        + "CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION 'az://lake/nums/';
           CREATE EXTERNAL TABLE ten STORED AS CSV
             LOCATION 'abfss://lake@devstoreaccount1.dfs.core.windows.net/csv/';";
    session.run_script(&script).await.unwrap();
    assert_tables(&session).await;
    let df = session.read().csv("az://lake/csv/").await.unwrap();
    assert_eq!(df.count().await.unwrap(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_dataframe_writer_round_trip() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    let df = session
        .sql("select value as id, value % 2 as parity from range(50)")
        .await
        .unwrap();
    let written = df
        .clone()
        .write()
        .mode(SaveMode::ErrorIfExists)
        .partition_by(&["parity"])
        .parquet("az://lake/written/")
        .await
        .unwrap();
    assert_eq!(written, 50);
    let back = session.read().parquet("az://lake/written/").await.unwrap();
    assert_eq!(back.count().await.unwrap(), 50);
    assert!(
        df.clone()
            .write()
            .parquet("az://lake/written/")
            .await
            .is_err()
    );

    let smaller = session
        .sql("select value as id from range(7)")
        .await
        .unwrap();
    smaller
        .write()
        .mode(SaveMode::Overwrite)
        .csv("az://lake/written/")
        .await
        .unwrap();
    let back = session.read().csv("az://lake/written/").await.unwrap();
    assert_eq!(back.count().await.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_errors_name_the_location_and_the_cause() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    session
        .run_script("COPY (SELECT 1 AS id) TO 'az://lake/one/one.parquet' STORED AS PARQUET")
        .await
        .unwrap();

    let msg = query_error(
        &session,
        "create external table t stored as parquet location 'az://nocontainer/x/'",
    )
    .await;
    eprintln!("missing container: {msg}");
    assert!(
        msg.contains("az://nocontainer/x/: ") && msg.contains("ContainerNotFound"),
        "{msg}"
    );

    let msg = session
        .read()
        .parquet("az://lake/one/missing.parquet")
        .await
        .unwrap_err()
        .to_string();
    eprintln!("missing object: {msg}");
    assert!(msg.contains("az://lake/one/missing.parquet"), "{msg}");

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

    // Nothing listening: a clear error within the configured timeouts.
    let dead = StoreConfig {
        stores: vec![StoreSettings {
            prefix: "az://".into(),
            endpoint: Some(format!("http://127.0.0.1:{}", free_port())),
            retries: Some(1),
            connect_timeout_secs: Some(2),
            timeout_secs: Some(3),
            options: [("azure_storage_use_emulator".to_string(), "true".to_string())].into(),
            ..StoreSettings::default()
        }],
    };
    let started = Instant::now();
    let msg = query_error(
        &session_with(dead),
        "create external table t stored as parquet location 'az://lake/one/'",
    )
    .await;
    eprintln!("endpoint down: {msg}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        msg.contains("az://lake/one/: ") && msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(msg.contains("Connection refused"), "{msg}");
}
