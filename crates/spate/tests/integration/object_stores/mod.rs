//! Tables on object stores, against real servers on 127.0.0.1 (see [`super::emulators`]):
//! S3 on moto, Azure Blob on Azurite, GCS on fake-gcs-server, retries and timeouts through
//! a proxy that fails on purpose, the cap on concurrent requests, reading ahead of
//! sequential scans, multipart uploads. Azure and GCS run the same checks, written here once;
//! their modules hold what differs (URLs, and the errors each cloud gives).

mod azure;
mod concurrency;
mod gcs;
mod minimal_io;
mod multipart;
mod read_ahead;
mod retries;
mod s3;

use std::time::{Duration, Instant};

use spate::{SaveMode, Session, StoreIo};
use spate_connectors::object_stores::StoreConfig;

use super::common::{query, query_error, session_with};

/// Runs `sql` and returns its rows and what it alone asked of `store` (`s3://lake`).
async fn query_io(session: &Session, store: &str, sql: &str) -> (Vec<String>, StoreIo) {
    let of_store = |all: &[StoreIo]| all.iter().find(|io| io.store == store).cloned();
    let before = of_store(&session.store_io());
    let rows = query(session, sql).await;
    let after = of_store(&session.store_io()).unwrap_or_default();
    let io = match before {
        Some(before) => after.since(&before),
        None => after,
    };
    eprintln!("{sql}: {io}");
    (rows, io)
}

/// Writes `nums/` (Parquet, 300 rows, Hive-partitioned by `part`) and `csv/` (CSV, 10
/// rows, partitioned by `half`) under `root` with COPY, registers them as `nums` and `ten`
/// (`csv` names the CSV directory, by another URL of the same store if need be), and checks
/// typed partition columns, partition pruning and CSV partitions.
async fn partitioned_tables_round_trip(session: &Session, root: &str, csv: &str) {
    session
        .run_script(&format!(
            "COPY (SELECT value AS id, value % 3 AS part, 'x' || value AS label FROM range(300))
               TO '{root}/nums/' STORED AS PARQUET PARTITIONED BY (part);
             COPY (SELECT value AS id, value % 2 AS half FROM range(10))
               TO '{root}/csv/' STORED AS CSV PARTITIONED BY (half);
             CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION '{root}/nums/';
             CREATE EXTERNAL TABLE ten STORED AS CSV LOCATION '{csv}';"
        ))
        .await
        .unwrap();
    assert_eq!(
        query(
            session,
            "select arrow_typeof(part), count(*), sum(id) from nums group by 1"
        )
        .await,
        ["Int64|300|44850"]
    );
    assert_eq!(
        query(
            session,
            "select count(*), min(label) from nums where part = 2"
        )
        .await,
        ["100|x101"]
    );
    assert_eq!(
        query(
            session,
            "select half, sum(id) from ten group by half order by half"
        )
        .await,
        ["0|20", "1|25"]
    );
    let df = session.read().csv(csv).await.unwrap();
    assert_eq!(df.count().await.unwrap(), 10);
}

/// The DataFrame writer at `location`: a partitioned Parquet write read back, a second
/// write refused (`ErrorIfExists`), and an `Overwrite` as CSV that replaces it all.
async fn dataframe_writer_round_trip(session: &Session, location: &str) {
    let df = session
        .sql("select value as id, value % 2 as parity from range(50)")
        .await
        .unwrap();
    let written = df
        .clone()
        .write()
        .mode(SaveMode::ErrorIfExists)
        .partition_by(&["parity"])
        .parquet(location)
        .await
        .unwrap();
    assert_eq!(written, 50);
    let back = session.read().parquet(location).await.unwrap();
    assert_eq!(back.count().await.unwrap(), 50);
    assert!(df.write().parquet(location).await.is_err());

    let smaller = session
        .sql("select value as id from range(7)")
        .await
        .unwrap();
    smaller
        .write()
        .mode(SaveMode::Overwrite)
        .csv(location)
        .await
        .unwrap();
    let back = session.read().csv(location).await.unwrap();
    assert_eq!(back.count().await.unwrap(), 7);
}

/// A table in a bucket (or container) that does not exist fails naming the location and
/// the store's `reason`; so does a read of a missing object, under `root` (which exists).
async fn missing_locations_fail_clearly(
    session: &Session,
    missing_bucket: &str,
    reason: &str,
    root: &str,
) {
    let msg = query_error(
        session,
        &format!("create external table t stored as parquet location '{missing_bucket}'"),
    )
    .await;
    eprintln!("missing bucket: {msg}");
    assert!(
        msg.contains(&format!("{missing_bucket}: ")) && msg.contains(reason),
        "{msg}"
    );

    let missing = format!("{root}/missing.parquet");
    let msg = session
        .read()
        .parquet(&missing)
        .await
        .unwrap_err()
        .to_string();
    eprintln!("missing object: {msg}");
    assert!(msg.contains(&missing), "{msg}");
}

/// With nothing listening at the endpoint of `config`, a table at `location` fails within
/// the configured timeouts, naming the location and the address.
async fn dead_endpoint_fails_fast(config: StoreConfig, location: &str) {
    let started = Instant::now();
    let msg = query_error(
        &session_with(config),
        &format!("create external table t stored as parquet location '{location}'"),
    )
    .await;
    eprintln!("endpoint down: {msg}");
    // The duration is what this test checks: one retry of a refused connection takes well
    // under a second; object_store's default of ten retries with backoff takes a minute.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        msg.contains(&format!("{location}: ")) && msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(msg.contains("Connection refused"), "{msg}");
}
