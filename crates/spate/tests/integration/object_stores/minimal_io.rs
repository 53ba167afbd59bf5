//! Minimal I/O on remote Parquet, against moto: each kind of pruning DataFusion offers is
//! checked by the bytes a query fetches, against the same query without it. Projection,
//! row-group statistics, page indexes, bloom filters, Hive partitions, and footers read
//! once per session.

use spate::{Session, StoreIo};
use spate_connectors::object_stores::StoreConfig;

use super::super::common::*;
use super::super::emulators::Moto;
use super::query_io;

/// Files of `io` (one per Hive partition `part`), rows per file, rows per row group.
const FILES: u64 = 4;
const ROWS: u64 = 100_000;
const GROUP_ROWS: u64 = 10_000;

/// `h` of the row `value`: spread over 0..1,000,003, so statistics cannot prune on it.
fn h(value: u64) -> u64 {
    value * 7919 % 1_000_003
}

/// Rows of `pages`, all in one row group.
const PAGE_TABLE_ROWS: u64 = 200_000;

/// Writes `s3://lake/io/`: `part = value % 4` (one file each), `k` (the value, sorted in
/// each file), `h` and 64 hex characters `pad`; row groups of 10,000 rows, pages of about
/// 1,000, page indexes and bloom filters (sized for a row group).
async fn write_table(moto: &Moto) {
    session_with(moto.config())
        .run_script(&format!(
            "COPY (SELECT value % {FILES} AS part, value AS k, value * 7919 % 1000003 AS h,
                          md5(value::varchar) || md5((value + 1)::varchar) AS pad
                   FROM range({}) ORDER BY part, k)
               TO 's3://lake/io/' STORED AS PARQUET PARTITIONED BY (part)
               OPTIONS ('format.max_row_group_size' '{GROUP_ROWS}',
                        'format.data_page_row_count_limit' '1000',
                        'format.bloom_filter_on_write' 'true',
                        'format.bloom_filter_ndv' '{GROUP_ROWS}',
                        'format.bloom_filter_fpp' '0.01')",
            FILES * ROWS
        ))
        .await
        .unwrap();
}

/// Writes `s3://lake/pages/`: one file, one row group, `k` sorted and 64 hex characters
/// `pad`, in pages of about 1,000 rows with a page index.
async fn write_page_table(moto: &Moto) {
    session_with(moto.config())
        .run_script(&format!(
            "COPY (SELECT value AS k, md5(value::varchar) || md5((value + 1)::varchar) AS pad
                   FROM range({PAGE_TABLE_ROWS}) ORDER BY k)
               TO 's3://lake/pages/' STORED AS PARQUET
               OPTIONS ('format.max_row_group_size' '{PAGE_TABLE_ROWS}',
                        'format.data_page_row_count_limit' '1000')"
        ))
        .await
        .unwrap();
}

/// A session with `io` and `pages` registered (its footers read, as schema inference does) and
/// reading ahead off, so that bytes fetched are bytes asked for; `settings` run first.
async fn session_on(moto: &Moto, settings: &str) -> Session {
    let mut config: StoreConfig = moto.config();
    config.stores[0].read_ahead_mib = Some(0);
    let session = session_with(config);
    session
        .run_script(&format!(
            "{settings} CREATE EXTERNAL TABLE io STORED AS PARQUET LOCATION 's3://lake/io/';
             CREATE EXTERNAL TABLE pages STORED AS PARQUET LOCATION 's3://lake/pages/';"
        ))
        .await
        .unwrap();
    session
}

/// Runs `sql`: its rows, and what it alone asked of `s3://lake`.
async fn lake_io(session: &Session, sql: &str) -> (Vec<String>, StoreIo) {
    query_io(session, "s3://lake", sql).await
}

/// Asserts that `pruned` fetched less than a `times`-th of the bytes `baseline` did.
fn assert_fetched_less(pruned: &StoreIo, times: u64, baseline: &StoreIo) {
    assert!(
        times * pruned.bytes_read < baseline.bytes_read,
        "{pruned} against {baseline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_parquet_is_pruned_by_every_means_datafusion_has() {
    let moto = Moto::start(&["lake"]);
    write_table(&moto).await;
    write_page_table(&moto).await;
    let n = FILES * ROWS;
    let session = session_on(&moto, "").await;
    let sum_h: u64 = (0..n).map(h).sum();

    // Every column, then `h` alone: projection fetches `h`'s column chunks only.
    let (rows, all) = lake_io(&session, "select sum(k), sum(h), sum(length(pad)) from io").await;
    assert_eq!(rows, [format!("{}|{sum_h}|{}", n * (n - 1) / 2, 64 * n)]);
    let (rows, projected) = lake_io(&session, "select sum(h) from io").await;
    assert_eq!(rows, [sum_h.to_string()]);
    assert_fetched_less(&projected, 4, &all);

    // Row-group statistics: 100 values of `k` lie in one row group of each file.
    let (rows, by_stats) = lake_io(
        &session,
        "select sum(h) from io where k >= 200000 and k < 200100",
    )
    .await;
    assert_eq!(rows, [(200_000..200_100).map(h).sum::<u64>().to_string()]);
    assert_fetched_less(&by_stats, 5, &projected);

    // Page indexes: in one row group of 200,000 rows, the 500 first values of `k` are in
    // the first page of `pad`, whose column chunk is some 2 MB. (All of `k`'s chunk, less
    // than 1 MiB, comes along: object_store merges ranges less than 1 MiB apart.)
    let (_, whole_group) = lake_io(&session, "select max(pad) from pages where k >= 0").await;
    let (rows, by_pages) = lake_io(&session, "select max(pad) from pages where k < 500").await;
    assert_eq!(rows.len(), 1);
    assert_fetched_less(&by_pages, 3, &whole_group);

    // Bloom filters: a `pad` no row has, between others, so that no row group's
    // statistics exclude it; its bloom filters (16 KB a row group) do.
    let sql = format!("select count(*) from io where pad = '{}'", "8".repeat(64));
    let (rows, by_bloom) = lake_io(&session, &sql).await;
    assert_eq!(rows, ["0"]);
    let without_bloom = session_on(
        &moto,
        "SET datafusion.execution.parquet.bloom_filter_on_read = false;",
    )
    .await;
    let (rows, scanned) = lake_io(&without_bloom, &sql).await;
    assert_eq!(rows, ["0"]);
    assert_fetched_less(&by_bloom, 5, &scanned);

    // Hive partitions: one of the four files.
    let (rows, by_partition) = lake_io(&session, "select sum(h) from io where part = 2").await;
    assert_eq!(
        rows,
        [(0..n)
            .filter(|v| v % FILES == 2)
            .map(h)
            .sum::<u64>()
            .to_string()]
    );
    assert_fetched_less(&by_partition, 3, &projected);

    // Footers: read when the table was registered, kept for the session. A session
    // without the metadata cache reads them again for the same query.
    let (_, again) = lake_io(&session, "select sum(h) from io").await;
    assert_eq!(
        (again.gets, again.bytes_read),
        (projected.gets, projected.bytes_read)
    );
    let uncached = session_on(&moto, "SET datafusion.runtime.metadata_cache_limit = '0';").await;
    let (rows, reread) = lake_io(&uncached, "select sum(h) from io").await;
    assert_eq!(rows, [sum_h.to_string()]);
    assert!(
        reread.gets >= projected.gets + FILES,
        "{reread} against {projected}"
    );
}
