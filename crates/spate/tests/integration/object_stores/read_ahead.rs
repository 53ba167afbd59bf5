//! Reading ahead of sequential scans (`read_ahead_mib`), against moto: a full scan makes
//! fewer, larger GETs and returns the same rows; a selective scan fetches the same bytes.

use spate::{Session, StoreIo};
use spate_connectors::object_stores::StoreConfig;

use super::super::common::*;
use super::super::emulators::Moto;
use super::query_io;

/// Files of the table `seq`.
const FILES: u64 = 2;
/// Rows per file, in row groups of [`GROUP_ROWS`].
const ROWS: u64 = 100_000;
const GROUP_ROWS: u64 = 10_000;

/// Writes `s3://lake/seq/`: two Parquet files of ten row groups each, of an integer `a`,
/// 64 hex characters `pad` (hard to compress: some 5 MB a file) and an integer `b`.
async fn write_table(moto: &Moto) {
    session_with(moto.config())
        .run_script(&format!(
            "COPY (SELECT value % {FILES} AS part, value AS a,
                          md5(value::varchar) || md5((value + 1)::varchar) AS pad, value * 2 AS b
                   FROM range({}) ORDER BY part, a)
               TO 's3://lake/seq/' STORED AS PARQUET PARTITIONED BY (part)
               OPTIONS ('format.max_row_group_size' '{GROUP_ROWS}')",
            FILES * ROWS
        ))
        .await
        .unwrap();
}

/// A session whose `s3://` stores read ahead in windows of up to `mib` MiB (`None`: the
/// default, `Some(0)`: off).
fn session_reading_ahead(moto: &Moto, mib: Option<u64>) -> Session {
    let mut config: StoreConfig = moto.config();
    config.stores[0].read_ahead_mib = mib;
    session_with(config)
}

/// Registers `seq` with `create`, runs `sql`, and returns its rows and what the query
/// alone asked of the store.
async fn run(session: &Session, create: &str, sql: &str) -> (Vec<String>, StoreIo) {
    session.run_script(create).await.unwrap();
    query_io(session, "s3://lake", sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_scan_reads_ahead_and_a_selective_one_does_not() {
    let moto = Moto::start(&["lake"]);
    write_table(&moto).await;
    let create = "CREATE EXTERNAL TABLE seq STORED AS PARQUET LOCATION 's3://lake/seq/'";
    let n = FILES * ROWS;
    let full = "select count(*), sum(a), sum(b), count(distinct pad) from seq";
    let expected = [format!("{n}|{}|{}|{n}", n * (n - 1) / 2, n * (n - 1))];

    let (rows_on, on) = run(&session_reading_ahead(&moto, None), create, full).await;
    let (rows_off, off) = run(&session_reading_ahead(&moto, Some(0)), create, full).await;
    assert_eq!(rows_on, expected);
    assert_eq!(rows_off, expected);
    // Without reading ahead: a GET per row group. With it: the first row group of a file,
    // then one window for the rest (16 MiB at least, more than a file here).
    assert!(off.gets >= FILES * ROWS / GROUP_ROWS, "{off}");
    assert!(on.gets <= 2 * FILES, "{on}");
    assert_eq!(off.read_ahead_bytes, 0, "{off}");
    assert!(on.read_ahead_bytes > on.bytes_read / 2, "{on}");
    // No byte fetched twice; beyond what the scan used, at most each file's footer (some
    // KB here, read before and cached), which the last window of a file reaches.
    assert!(off.bytes_read <= on.bytes_read, "{on} against {off}");
    assert!(
        on.bytes_read <= off.bytes_read + FILES * 64 * 1024,
        "{on} against {off}"
    );

    // The table's options turn it off as well.
    let (rows, by_table) = run(
        &session_reading_ahead(&moto, None),
        &format!("{create} OPTIONS ('store.read_ahead_mib' '0')"),
        full,
    )
    .await;
    assert_eq!(rows, expected);
    assert_eq!(by_table.gets, off.gets, "{by_table}");

    // Reading `a` alone is not a sequential scan: the same GETs and bytes either way.
    let selective = "select sum(a) from seq where a % 7 = 3";
    let (rows_on, on) = run(&session_reading_ahead(&moto, None), create, selective).await;
    let (rows_off, off) = run(&session_reading_ahead(&moto, Some(0)), create, selective).await;
    assert_eq!(rows_on, rows_off);
    assert_eq!((on.gets, on.bytes_read), (off.gets, off.bytes_read));
    assert_eq!(on.read_ahead_bytes, 0, "{on}");

    // A size the option cannot take is an error naming it.
    let msg = query_error(
        &session_reading_ahead(&moto, None),
        &format!("{create} OPTIONS ('store.read_ahead_mib' 'lots')"),
    )
    .await;
    assert!(
        msg.contains("invalid option store.read_ahead_mib 'lots' for s3://lake/seq/"),
        "{msg}"
    );
}
