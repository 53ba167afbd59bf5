//! Delta tables read on a cluster: the newest version, and older ones by version number
//! and by time, of a partitioned table (its partition column between data columns) return
//! the same rows as locally.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::super::common::*;
use super::harness::*;

/// Runs `spate sql SQL ARGS...` in `dir`, as CSV; its standard output.
fn sql(dir: &Path, query: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(spate(dir)
        .args(["sql", query, "--format", "csv"])
        .args(args));
    assert_eq!(code, 0, "{query} {args:?}: {stderr}");
    stdout
}

/// `INSERT` of `rows` rows of `day` into `sales`, ids from `start`.
fn insert(day: &str, start: u64, rows: u64) -> String {
    format!(
        "INSERT INTO sales SELECT value AS id, DATE '{day}' AS day, 'store ' || (value % 7) AS store, \
         value * 1.5 AS amount FROM range({start}, {})",
        start + rows
    )
}

#[test]
fn delta_tables_read_on_the_cluster_as_locally_with_time_travel() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lake/sales");
    let create = format!(
        "CREATE EXTERNAL TABLE sales (id BIGINT, day DATE, store VARCHAR, amount DOUBLE) \
         STORED AS DELTA PARTITIONED BY (day) LOCATION '{}'",
        table.display()
    );
    // Version 0 creates it, 1 and 2 add a day each, then (after `between`) 3 one more.
    sql(
        dir.path(),
        &format!(
            "{create}; {}; {}",
            insert("2026-11-22", 0, 100),
            insert("2026-11-23", 100, 50)
        ),
        &[],
    );
    let between = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let shown = sql(
        dir.path(),
        &format!("select arrow_cast(to_timestamp_millis({between}), 'Utf8') as t"),
        &[],
    );
    let between = shown.lines().nth(1).unwrap().to_string();
    sql(
        dir.path(),
        &format!(
            "CREATE EXTERNAL TABLE sales STORED AS DELTA LOCATION '{}'; {}",
            table.display(),
            insert("2026-11-24", 150, 30)
        ),
        &[],
    );

    let location = table.display();
    let script = format!(
        "create external table s stored as delta location '{location}';\n\
         create external table s1 stored as delta location '{location}' options ('version' '1');\n\
         create external table sb stored as delta location '{location}' options ('timestamp' '{between}');\n\
         select day, store, count(*) as n, sum(amount) as total, min(id) as first from s \
           group by day, store order by day, store;\n\
         select 'v1' as v, count(*) as n, min(day) as first, max(day) as last from s1;\n\
         select 'asof' as v, count(*) as n, min(day) as first, max(day) as last from sb;\n\
         select * from s where day > DATE '2026-11-22' order by id limit 5;\n"
    );
    let local = sql(dir.path(), &script, &[]);
    assert!(
        local.contains("v1,100,2026-11-22,2026-11-22"),
        "version 1 holds the first day: {local}"
    );
    assert!(
        local.contains("asof,150,2026-11-22,2026-11-23"),
        "as of the time between the writes, the first two days: {local}"
    );
    assert!(
        local.contains("id,day,store,amount\n100,2026-11-23,store 2,150.0"),
        "columns in the table's order: {local}"
    );
    let cluster = TestCluster::start(dir.path(), 2, "1");
    let remote = sql(dir.path(), &script, &["--cluster", &cluster.url]);
    assert_eq!(remote, local);
    // The queries ran as Ballista jobs, with DataFusion's Parquet scan on the executors.
    let explained = sql(
        dir.path(),
        &format!(
            "create external table s stored as delta location '{location}'; \
             explain select count(*) from s"
        ),
        &["--cluster", &cluster.url],
    );
    assert!(
        explained.contains("ShuffleWriterExec") && explained.contains("DataSourceExec"),
        "{explained}"
    );
}
