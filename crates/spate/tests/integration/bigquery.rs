//! BigQuery tables against bqemulator (see [`super::emulators::BqEmulator`]): every type
//! both ways, projection and filters applied by BigQuery, all-or-nothing writes, two
//! writers at once, overwrite and per-day replace, and the errors of bad writes.

use serde_json::json;
use spate::{SaveMode, Session};

use super::common::{query, query_error, session_with};
use super::emulators::{BqEmulator, bqemulator::PROJECT};

fn session(emulator: &BqEmulator) -> Session {
    session_with(emulator.config())
}

fn location(dataset: &str, table: &str) -> String {
    format!("bigquery://{PROJECT}/{dataset}/{table}")
}

/// The types the emulator stores both ways (it cannot create BIGNUMERIC columns, nor take
/// appends to STRUCT columns; spate's mapping of those is checked by the crate's tests).
fn all_types() -> serde_json::Value {
    json!([
        {"name": "i", "type": "INT64"},
        {"name": "f", "type": "FLOAT64"},
        {"name": "n", "type": "NUMERIC"},
        {"name": "b", "type": "BOOL"},
        {"name": "s", "type": "STRING"},
        {"name": "y", "type": "BYTES"},
        {"name": "d", "type": "DATE"},
        {"name": "dt", "type": "DATETIME"},
        {"name": "t", "type": "TIME"},
        {"name": "ts", "type": "TIMESTAMP"},
        {"name": "j", "type": "JSON"},
        {"name": "g", "type": "GEOGRAPHY"},
        {"name": "a", "type": "INT64", "mode": "REPEATED"},
        {"name": "r", "type": "RANGE", "rangeElementType": {"type": "DATE"}}
    ])
}

const ALL_TYPES_ROWS: &str = "SELECT * FROM (VALUES \
    (1, 1.5, CAST('12345678901234567890.123456789' AS DECIMAL(38, 9)), true, 'hé ''quoted''', \
     X'0102ff', DATE '2026-11-23', TIMESTAMP '2026-11-23 10:11:12.123456', \
     CAST('10:11:12.5' AS TIME), \
     arrow_cast(TIMESTAMP '2026-11-23 10:11:12.654321', 'Timestamp(Microsecond, Some(\"UTC\"))'), \
     '{\"k\":[1,2]}', 'POINT(1.5 2.5)', make_array(1, 2, 3), \
     named_struct('start', DATE '2026-01-01', 'end', DATE '2026-02-01')), \
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)) \
    AS v(i, f, n, b, s, y, d, dt, t, ts, j, g, a, r)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_is_written_and_read_back() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    emulator.create_table("shop", "all_types", all_types());
    let session = session(&emulator);
    let rows = session.sql(ALL_TYPES_ROWS).await.unwrap();
    let written = rows
        .write()
        .mode(SaveMode::Append)
        .bigquery(&format!("{PROJECT}.shop.all_types"))
        .await
        .unwrap();
    assert_eq!(written, 2);
    // The emulator's own view of what was stored.
    let stored = emulator.query(&format!(
        "SELECT i, n, s, TO_HEX(y), CAST(dt AS STRING), ST_ASTEXT(g), ARRAY_LENGTH(a) \
         FROM `{PROJECT}.shop.all_types` WHERE i = 1"
    ));
    assert_eq!(
        stored[0],
        json!([
            "1",
            "12345678901234567890.123456789",
            "hé 'quoted'",
            "0102ff",
            "2026-11-23 10:11:12.123456",
            "POINT (1.5 2.5)",
            "3"
        ])
    );
    let df = session
        .read()
        .bigquery(&location("shop", "all_types"))
        .await
        .unwrap();
    let schema = df.schema();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "Int64",
            "Float64",
            "Decimal128(38, 9)",
            "Boolean",
            "Utf8",
            "Binary",
            "Date32",
            "Timestamp(µs)",
            "Time64(µs)",
            "Timestamp(µs, \"UTC\")",
            "Utf8",
            "Utf8",
            "List(Int64)",
            "Struct(\"start\": Date32, \"end\": Date32)"
        ]
    );
    session
        .register("all_types", location("shop", "all_types"))
        .await
        .unwrap();
    let read = query(&session, "SELECT * FROM all_types ORDER BY i NULLS LAST").await;
    assert_eq!(
        read,
        [
            "1|1.5|12345678901234567890.123456789|true|hé 'quoted'|0102ff|2026-11-23|\
             2026-11-23T10:11:12.123456|10:11:12.500|2026-11-23T10:11:12.654321Z|{\"k\":[1,2]}|\
             POINT(1.5 2.5)|[1, 2, 3]|{start: 2026-01-01, end: 2026-02-01}",
            "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL"
        ]
    );
}

/// A missing table is created from the rows' schema when the write runs; EXPLAIN of the
/// same COPY shows that it would be, and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_created_from_the_rows_schema() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    let session = session(&emulator);
    let copy = "COPY (SELECT 7 AS id, 'x' AS name, CAST(2.50 AS DECIMAL(10, 2)) AS price, DATE '2026-11-23' AS day) \
                TO 'bigquery://proj/shop/created'";
    let plan = query(&session, &format!("EXPLAIN {copy}")).await.join("\n");
    assert!(
        plan.contains("BigQuerySink: table=proj.shop.created, creating the table"),
        "{plan}"
    );
    let (_, tables) = emulator.rest("GET", "/datasets/shop/tables", None);
    assert_eq!(
        tables["tables"].as_array().map_or(0, Vec::len),
        0,
        "EXPLAIN created a table: {tables}"
    );
    session.run_script(copy).await.unwrap();
    let (_, tables) = emulator.rest("GET", "/datasets/shop/tables", None);
    assert_eq!(
        tables["tables"].as_array().map_or(0, Vec::len),
        1,
        "{tables}"
    );
    let (_, table) = emulator.rest("GET", "/datasets/shop/tables/created", None);
    let types: Vec<&str> = table["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["INT64", "STRING", "NUMERIC", "DATE"]);
    assert_eq!(emulator.count("shop", "created"), 1);
}

/// 16 columns, 20,000 rows; a query of 2 columns and 1% of the rows receives a fraction of
/// the bytes of a full read, and the same answer DataFusion computes without BigQuery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_and_filters_are_applied_by_bigquery() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    let session = session(&emulator);
    let columns: Vec<String> = (0..14)
        .map(|c| format!("'pad-{c}-' || CAST(value AS VARCHAR) AS c{c}"))
        .collect();
    let source = format!(
        "SELECT value AS id, value % 100 AS store_id, {} FROM generate_series(1, 20000)",
        columns.join(", ")
    );
    session
        .sql(&format!("CREATE VIEW source AS {source}"))
        .await
        .unwrap();
    let written = session
        .sql("SELECT * FROM source")
        .await
        .unwrap()
        .write()
        .bigquery(&format!("{PROJECT}.shop.wide"))
        .await
        .unwrap();
    assert_eq!(written, 20_000);
    session
        .register("wide", location("shop", "wide"))
        .await
        .unwrap();
    let received = |session: &Session| {
        session
            .bigquery_io()
            .iter()
            .find(|io| io.table == format!("{PROJECT}.shop.wide"))
            .map_or(0, |io| io.bytes_received)
    };
    let before = received(&session);
    let all = query(&session, "SELECT count(*) FROM (SELECT * FROM wide)").await;
    assert_eq!(all, ["20000"]);
    let full = received(&session) - before;
    let sql = "SELECT id, c3 FROM wide WHERE store_id = 42 AND id > 10000 ORDER BY id";
    let plan = query(&session, &format!("EXPLAIN {sql}")).await.join("\n");
    assert!(
        plan.contains("row_restriction=(`store_id` = 42) AND (`id` > 10000)"),
        "{plan}"
    );
    let before = received(&session);
    let narrow = query(&session, sql).await;
    let selective = received(&session) - before;
    assert_eq!(
        narrow,
        query(&session, &sql.replace("FROM wide", "FROM source")).await
    );
    assert_eq!(narrow.len(), 100);
    assert!(
        selective * 4 <= full,
        "a 2-column, 0.5% read received {selective} bytes, a full read {full}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_statement_leaves_the_table_unchanged() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    emulator.create_table(
        "shop",
        "t",
        json!([{"name": "id", "type": "INT64"}, {"name": "v", "type": "NUMERIC"}]),
    );
    let session = session(&emulator);
    session
        .sql("CREATE EXTERNAL TABLE t STORED AS BIGQUERY LOCATION 'bigquery://proj/shop/t'")
        .await
        .unwrap();
    let inserted = query(&session, "INSERT INTO t VALUES (1, 10), (2, 20)").await;
    assert_eq!(inserted, ["2"]);
    // The last of 40,000 rows does not fit NUMERIC: the batches before it were appended
    // to a pending stream, which is never committed.
    let rows = session
        .sql(
            "SELECT value AS id, CASE WHEN value = 40000 \
             THEN CAST('100000000000000000000000000000000' AS DECIMAL(38, 0)) \
             ELSE CAST(value AS DECIMAL(38, 0)) END AS v FROM generate_series(1, 40000)",
        )
        .await
        .unwrap();
    let err = rows
        .write()
        .mode(SaveMode::Append)
        .bigquery("proj.shop.t")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("value out of range for column `v`"),
        "{err}"
    );
    assert_eq!(emulator.count("shop", "t"), 2);
    // At least one whole batch of the failed statement reached a pending stream (how
    // many depends on when the writers see the failure), besides the 2 rows inserted.
    let sent = session.bigquery_io()[0].rows_sent;
    assert!(
        sent >= 2 + 8192,
        "rows were sent before the failure: {sent}"
    );
    // A whole overwrite replaces the rows; a failed one keeps them.
    let err = query_error(
        &session,
        "INSERT OVERWRITE t SELECT value, 1 / (value - 3) FROM generate_series(1, 5)",
    )
    .await;
    assert!(err.contains("Divide by zero"), "{err}");
    assert_eq!(
        query(&session, "SELECT id, v FROM t ORDER BY id").await,
        ["1|10.000000000", "2|20.000000000"]
    );
    query(&session, "INSERT OVERWRITE t VALUES (3, 30)").await;
    assert_eq!(
        query(&session, "SELECT id, v FROM t").await,
        ["3|30.000000000"]
    );
    let (_, tables) = emulator.rest("GET", "/datasets/shop/tables", None);
    assert_eq!(
        tables["tables"].as_array().map(Vec::len),
        Some(1),
        "staging tables are gone: {tables}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_append_at_once() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    emulator.create_table(
        "shop",
        "t",
        json!([{"name": "id", "type": "INT64"}, {"name": "w", "type": "STRING"}]),
    );
    let (a, b) = (session(&emulator), session(&emulator));
    let write = |session: Session, who: &'static str| async move {
        let sql = format!("SELECT value AS id, '{who}' AS w FROM generate_series(1, 30000)");
        let df = session.sql(&sql).await.unwrap();
        df.write()
            .mode(SaveMode::Append)
            .bigquery("proj.shop.t")
            .await
            .unwrap()
    };
    let (x, y) = tokio::join!(tokio::spawn(write(a, "a")), tokio::spawn(write(b, "b")));
    assert_eq!((x.unwrap(), y.unwrap()), (30_000, 30_000));
    let rows =
        emulator.query("SELECT w, COUNT(*), SUM(id) FROM `proj.shop.t` GROUP BY w ORDER BY w");
    assert_eq!(
        rows,
        json!([["a", "30000", "450015000"], ["b", "30000", "450015000"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwriting_a_day_replaces_that_day_only() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    let session = session(&emulator);
    let day = |d: &str, n: i64| {
        format!("SELECT DATE '{d}' AS day, value AS n FROM generate_series(1, {n})")
    };
    let write = |sql: String, mode: SaveMode| {
        let session = session.clone();
        async move {
            session
                .sql(&sql)
                .await
                .unwrap()
                .write()
                .mode(mode)
                .partition_by(&["day"])
                .option("partitionOverwriteMode", "dynamic")
                .bigquery("proj.shop.daily")
                .await
                .unwrap()
        }
    };
    write(day("2026-11-22", 3), SaveMode::Append).await;
    write(day("2026-11-23", 5), SaveMode::Overwrite).await;
    write(day("2026-11-23", 4), SaveMode::Overwrite).await;
    let counts = emulator
        .query("SELECT CAST(day AS STRING), COUNT(*) FROM `proj.shop.daily` GROUP BY 1 ORDER BY 1");
    assert_eq!(counts, json!([["2026-11-22", "3"], ["2026-11-23", "4"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_fail_with_one_line_and_change_nothing() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    emulator.create_table(
        "shop",
        "t",
        json!([{"name": "id", "type": "INT64"}, {"name": "amount", "type": "NUMERIC"}]),
    );
    let session = session(&emulator);
    let write = |sql: &'static str, table: &'static str| {
        let session = session.clone();
        async move {
            let df = session.sql(sql).await.unwrap();
            df.write()
                .mode(SaveMode::Append)
                .bigquery(table)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let err = write("SELECT 1 AS id, 'x' AS amount", "proj.shop.t").await;
    assert_eq!(
        err,
        "schema mismatch writing to BigQuery table proj.shop.t: column `amount` is NUMERIC in the table, the rows have Utf8; the table is unchanged"
    );
    let err = write("SELECT 1 AS id, 2 AS extra", "proj.shop.t").await;
    assert!(err.starts_with("schema mismatch writing to BigQuery table proj.shop.t: column `extra` is not in the table"), "{err}");
    let err = write(
        "SELECT 1 AS id, CAST('123456789012345678901234567890123' AS DECIMAL(38, 0)) AS amount",
        "proj.shop.t",
    )
    .await;
    assert!(
        err.starts_with("value out of range for column `amount` of BigQuery table proj.shop.t"),
        "{err}"
    );
    let err = write("SELECT 1 AS id", "proj.nowhere.t").await;
    assert_eq!(
        err,
        "BigQuery dataset proj.nowhere not found; create it first (bq mk proj.nowhere)"
    );
    assert_eq!(emulator.count("shop", "t"), 0);
    let err = session
        .read()
        .bigquery("proj.shop.missing")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "BigQuery table proj.shop.missing not found");
    let err = session
        .read()
        .bigquery("proj.gone.missing")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("BigQuery dataset proj.gone not found"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}
