//! The cap on requests in flight per store (`max_concurrent_requests`), against moto.

use spate::Session;
use spate_connectors::object_stores::StoreConfig;

use super::super::common::*;
use super::super::emulators::Moto;

/// Files of the table `wide` on moto.
const FILES: u64 = 6;
/// Rows per file.
const ROWS: u64 = 30_000;

/// Writes `s3://lake/wide/`: six Parquet files (one row group each) of three small integer
/// columns `a`, `b`, `c` with a column of incompressible strings between each two (96 hex
/// characters a row, well over 1 MiB a file even compressed). Reading `a`, `b` and `c` of a
/// file takes three ranged GETs, since object_store merges only ranges less than 1 MiB
/// apart, and it sends them at once: more than 2 requests in flight whatever the threads.
async fn write_wide_table(moto: &Moto) {
    let pad = |n: u32| {
        format!(
            "md5(value::varchar || '{n}a') || md5(value::varchar || '{n}b') || \
             md5(value::varchar || '{n}c')"
        )
    };
    session_with(moto.config())
        .run_script(&format!(
            "COPY (SELECT value % {FILES} AS part, value AS a, {} AS pad1, value * 2 AS b,
                          {} AS pad2, value * 3 AS c
                   FROM range({}))
               TO 's3://lake/wide/' STORED AS PARQUET PARTITIONED BY (part)",
            pad(1),
            pad(2),
            FILES * ROWS
        ))
        .await
        .unwrap();
}

/// A session whose `s3://` stores take at most `cap` requests at once (`None`: the
/// default).
fn session_capped(moto: &Moto, cap: Option<usize>) -> Session {
    let mut config: StoreConfig = moto.config();
    config.stores[0].max_concurrent_requests = cap;
    session_with(config)
}

/// Reads `a`, `b` and `c` of every file of `wide` (after `create`, which registers it) and
/// returns the most requests the store had in flight at once.
async fn peak_of_scan(session: &Session, create: &str) -> u64 {
    session.run_script(create).await.unwrap();
    let n = FILES * ROWS;
    let sum = n * (n - 1) / 2;
    assert_eq!(
        query(session, "select count(*), sum(a), sum(b), sum(c) from wide").await,
        [format!("{n}|{sum}|{}|{}", 2 * sum, 3 * sum)]
    );
    let io = session.store_io();
    let lake = io.iter().find(|io| io.store == "s3://lake").unwrap();
    eprintln!("{lake}");
    assert!(lake.gets >= 3 * FILES, "three ranged GETs per file: {lake}");
    lake.max_in_flight
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_stay_under_the_cap() {
    let moto = Moto::start(&["lake"]);
    write_wide_table(&moto).await;
    let create = "CREATE EXTERNAL TABLE wide STORED AS PARQUET LOCATION 's3://lake/wide/'";

    // Capped at 2 in spate.toml's settings.
    let capped = peak_of_scan(&session_capped(&moto, Some(2)), create).await;
    assert!((1..=2).contains(&capped), "at most 2 at once, got {capped}");

    // Capped at 2 by the table's options, over a config that allows 64.
    let by_table = peak_of_scan(
        &session_capped(&moto, Some(64)),
        &format!("{create} OPTIONS ('store.max_concurrent_requests' '2')"),
    )
    .await;
    assert!(
        (1..=2).contains(&by_table),
        "at most 2 at once, got {by_table}"
    );

    // The same scan with room for more does have more in flight, so the cap is what held
    // the others down; with the default cap (16) too.
    let uncapped = peak_of_scan(&session_capped(&moto, Some(64)), create).await;
    assert!(
        uncapped > 2,
        "more than 2 at once without the cap, got {uncapped}"
    );
    let default = peak_of_scan(&session_capped(&moto, None), create).await;
    assert!(
        (3..=16).contains(&default),
        "more than 2 and at most the default 16 at once, got {default}"
    );

    // A cap the table's options cannot take is an error naming it.
    let msg = query_error(
        &session_capped(&moto, None),
        &format!("{create} OPTIONS ('store.max_concurrent_requests' '0')"),
    )
    .await;
    assert!(
        msg.contains("invalid option store.max_concurrent_requests '0' for s3://lake/wide/"),
        "{msg}"
    );
}
