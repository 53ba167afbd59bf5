//! Tables on object stores, against real servers on 127.0.0.1 (see [`super::emulators`]):
//! S3 on moto, Azure Blob on Azurite, GCS on fake-gcs-server, retries and timeouts through
//! a proxy that fails on purpose.

mod azure;
mod gcs;
mod retries;
mod s3;

use spate::Session;

use super::common::query;

/// Writes the shared test tables under `root`: `nums/` (Parquet, 300 rows, Hive-partitioned
/// by `part`) and `csv/` (CSV, 10 rows, partitioned by `half`).
fn write_tables_sql(root: &str) -> String {
    format!(
        "COPY (SELECT value AS id, value % 3 AS part, 'x' || value AS label FROM range(300))
           TO '{root}/nums/' STORED AS PARQUET PARTITIONED BY (part);
         COPY (SELECT value AS id, value % 2 AS half FROM range(10))
           TO '{root}/csv/' STORED AS CSV PARTITIONED BY (half);"
    )
}

/// Checks tables `nums` and `ten` over the data of [`write_tables_sql`]: typed partition
/// columns, partition pruning, and CSV partitions.
async fn assert_tables(session: &Session) {
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
}
