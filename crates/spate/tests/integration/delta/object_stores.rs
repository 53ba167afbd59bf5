//! Delta tables committed on object stores: S3 on moto, Azure Blob on Azurite, GCS on
//! fake-gcs-server. Each store runs the same two checks: concurrent appends both land
//! (put-if-absent commits, retried at the next version), and a partitioned table goes
//! through SQL create, append, `replaceWhere`, dynamic overwrite and time travel.

use spate::Session;

use super::super::common::*;
use super::super::emulators::{Azurite, FakeGcs, Moto};
use super::{concurrent_appends_both_land, count_as_of, days_sql};

/// Concurrent appends to `root/appends` commit exactly versions 0, 1 and 2: the second
/// append was retried at version 2, not written over version 1.
async fn appends_commit_with_put_if_absent(session: &Session, root: &str) {
    let location = format!("{root}/appends");
    concurrent_appends_both_land(session, &location).await;
    let at = |version| count_as_of(session, &location, "versionAsOf", version);
    assert_eq!(at("2").await.unwrap(), 110, "{location}");
    assert!(at("3").await.is_err(), "{location} has a version 3");
}

/// A table partitioned by day at `root/sales/`, in SQL: created (v0), appended with
/// `INSERT INTO` (v1) and `COPY ... STORED AS DELTA` (v2), one day replaced with
/// `replaceWhere` (v3) and one with a dynamic `INSERT OVERWRITE` (v4); then read back at
/// the newest version and, by time travel, at versions 1 and 2.
async fn partitioned_table_round_trip(session: &Session, root: &str) {
    let location = format!("{root}/sales/");
    let results = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE sales (id BIGINT, day DATE, store VARCHAR, amount DOUBLE)
               STORED AS DELTA PARTITIONED BY (day) LOCATION '{location}'
               OPTIONS ('partitionOverwriteMode' 'dynamic');
             INSERT INTO sales {two_days};
             COPY ({third_day}) TO '{location}' STORED AS DELTA;
             COPY ({rerun}) TO '{location}' STORED AS DELTA
               OPTIONS ('mode' 'overwrite', 'replaceWhere' 'day = DATE ''2026-11-23''');
             INSERT OVERWRITE sales {third_rerun};
             SELECT day, count(*), sum(id), min(store) FROM sales GROUP BY day ORDER BY day;",
            two_days = days_sql(&["2026-11-22", "2026-11-23"], 40),
            third_day = days_sql(&["2026-11-24"], 10),
            rerun = days_sql(&["2026-11-23"], 7),
            third_rerun = days_sql(&["2026-11-24"], 3),
        ))
        .await
        .unwrap();
    let written: Vec<_> = results[1..5].iter().map(|r| r.rows_written).collect();
    assert_eq!(
        written,
        [Some(80), Some(10), Some(7), Some(3)],
        "{location}"
    );
    assert_eq!(
        rows(&results[5].batches),
        [
            "2026-11-22|40|780|store-0",
            "2026-11-23|7|21|store-0",
            "2026-11-24|3|3|store-0"
        ],
        "{location}"
    );

    // Time travel: version 2 is before both overwrites, version 1 before the COPY.
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE sales_v2 STORED AS DELTA LOCATION '{location}'
               OPTIONS ('version' '2');"
        ))
        .await
        .unwrap();
    assert_eq!(
        query(
            session,
            "select day, count(*) from sales_v2 group by day order by day"
        )
        .await,
        ["2026-11-22|40", "2026-11-23|40", "2026-11-24|10"],
        "{location}"
    );
    let at = |version| count_as_of(session, &location, "versionAsOf", version);
    assert_eq!(at("1").await.unwrap(), 80, "{location}");
    assert!(at("5").await.is_err(), "{location} has a version 5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_delta_tables_commit_with_conditional_put() {
    let moto = Moto::start(&["lake"]);
    let session = session_with(moto.config());
    appends_commit_with_put_if_absent(&session, "s3://lake").await;
    partitioned_table_round_trip(&session, "s3://lake").await;
}

/// Pins a bug: Azurite ignores `startFrom`, so a listing of `_delta_log/` from the version
/// a writer read started over at version 0 and every commit after the first failed with
/// `Invalid table version: 1` (concurrent appends to a new table did not show it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_delta_commits_list_the_log_from_the_version_read() {
    let azurite = Azurite::start(&["lake"]);
    let session = session_with(azurite.config());
    appends_commit_with_put_if_absent(&session, "az://lake").await;
    partitioned_table_round_trip(&session, "az://lake").await;
    // The same container by its `abfss://` URL reads the same table.
    let abfss = "abfss://lake@devstoreaccount1.dfs.core.windows.net/sales/";
    assert_eq!(
        session
            .read()
            .delta(abfss)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        50
    );
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_delta_tables_commit_with_conditional_put() {
    let gcs = FakeGcs::start(&["lake"]);
    let session = session_with(gcs.config());
    appends_commit_with_put_if_absent(&session, "gs://lake").await;
    partitioned_table_round_trip(&session, "gs://lake").await;
}
