//! Delta tables on a cluster. Read: the newest version, and older ones by version number
//! and by time, of a partitioned table (its partition column between data columns) return
//! the same rows as locally. Written: `COPY ... STORED AS DELTA` and `INSERT INTO` make
//! the same tables as locally, one version per statement, read back by delta-rs's Python
//! reader (independent of spate); the Cymbal pipeline writes the same three tables.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::super::common::*;
use super::harness::*;

/// A Delta table as delta-rs's Python reader (`pip install deltalake`) sees it: its version,
/// its row count, and its rows, sorted.
pub fn delta_rows(table: &Path) -> String {
    let script = "import sys\n\
        from deltalake import DeltaTable, QueryBuilder\n\
        d = DeltaTable(sys.argv[1])\n\
        t = QueryBuilder().register('t', d).execute('select * from t').read_all()\n\
        rows = sorted(repr(r) for r in zip(*(c.to_pylist() for c in t.columns)))\n\
        print(f'version {d.version()}, {len(rows)} rows')\n\
        print('\\n'.join(rows))";
    let output = std::process::Command::new("python3")
        .args(["-c", script, table.to_str().unwrap()])
        .output()
        .expect("python3 with deltalake: ./scripts/test.sh installs it (pip install deltalake)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", table.display());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The first line of [`delta_rows`]: `version V, N rows`.
fn summary(rows: &str) -> &str {
    rows.lines().next().unwrap_or_default()
}

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

/// A script of Delta writes, run in `work` (relative table paths are the client's):
/// a COPY creating a partitioned table, an INSERT into it, a COPY overwriting one day of
/// it (dynamic partition overwrite), and a read-back.
const DELTA_WRITES: &str = "\
    copy (select store_id, day, count(*) as lines, sum(quantity) as units from transactions \
      where day < DATE '2026-11-20' group by store_id, day) \
      to 'lake/by_store' stored as delta partitioned by (day);\n\
    create external table by_store stored as delta location 'lake/by_store';\n\
    insert into by_store select store_id, day, count(*), sum(quantity) from transactions \
      where day >= DATE '2026-11-20' group by store_id, day;\n\
    copy (select store_id, day, count(*) * 10 as lines, sum(quantity) as units from transactions \
      where day = DATE '2026-11-18' group by store_id, day) \
      to 'lake/by_store' stored as delta partitioned by (day) \
      options ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic');\n\
    select day, count(*) as stores, sum(lines) as lines from by_store group by day order by day;\n";

#[test]
fn copy_and_insert_into_delta_on_the_cluster_write_the_local_rows_one_version_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("job.sql"), DELTA_WRITES).unwrap();
    let run_in = |work: &Path, extra: &[&str]| {
        std::fs::create_dir_all(work).unwrap();
        let (code, stdout, stderr) = run(spate(work)
            .args(["run", dir.path().join("job.sql").to_str().unwrap()])
            .args(["--data", cymbal().to_str().unwrap(), "--quiet"])
            .args(extra));
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        stdout
    };
    let (local_dir, cluster_dir) = (dir.path().join("local"), dir.path().join("cluster"));
    let local = run_in(&local_dir, &[]);
    let cluster = TestCluster::start(dir.path(), 2, "2");
    let remote = run_in(&cluster_dir, &["--cluster", &cluster.url]);
    assert_eq!(remote, local);
    let table = |work: &Path| work.join("lake/by_store");
    let (ours, theirs) = (
        delta_rows(&table(&local_dir)),
        delta_rows(&table(&cluster_dir)),
    );
    assert_eq!(theirs, ours, "the cluster's table holds the local rows");
    // Three statements, three versions (0, 1, 2): one commit each.
    assert!(
        summary(&theirs).starts_with("version 2, "),
        "{}",
        summary(&theirs)
    );
    let commits = std::fs::read_dir(table(&cluster_dir).join("_delta_log"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count();
    assert_eq!(commits, 3);
    // The overwritten day holds its new rows only; the others are as written.
    assert!(
        local.contains("2026-11-18,") && local.lines().count() > 3,
        "{local}"
    );
    // The writes ran on the executors: their plan is the scheduler's Delta writer.
    let explained = sql(
        &cluster_dir,
        "create external table t stored as delta location 'lake/by_store'; \
         explain select count(*) from t",
        &["--cluster", &cluster.url],
    );
    assert!(explained.contains("ShuffleWriterExec"), "{explained}");
}

/// `sql/cymbal/daily.sql` with `--cluster` writes the same three Delta tables (same rows,
/// one version each) and prints the same reports as locally. (The pipeline has no MERGE.)
#[test]
fn the_cymbal_pipeline_on_the_cluster_writes_the_local_tables() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = repo().join("sql/cymbal/daily.sql");
    let run_in = |work: &Path, extra: &[&str]| {
        std::fs::create_dir_all(work).unwrap();
        let (code, stdout, stderr) = run(spate(work)
            .args(["run", pipeline.to_str().unwrap()])
            .args(["--data", cymbal().to_str().unwrap()])
            .args(["--param", "run_date=2026-11-23"])
            .args(extra));
        assert_eq!(code, 0, "{extra:?}: {stderr}");
        stdout
    };
    let (local_dir, cluster_dir) = (dir.path().join("local"), dir.path().join("cluster"));
    let local = run_in(&local_dir, &[]);
    let cluster = TestCluster::start(dir.path(), 2, "2");
    let remote = run_in(&cluster_dir, &["--cluster", &cluster.url]);
    assert_eq!(remote, local, "the reports");
    for name in ["daily_sales", "invoices", "invoice_lines"] {
        let ours = delta_rows(&local_dir.join("warehouse").join(name));
        let theirs = delta_rows(&cluster_dir.join("warehouse").join(name));
        assert!(
            summary(&ours).starts_with("version 0, "),
            "{name}: {}",
            summary(&ours)
        );
        assert!(
            !summary(&ours).ends_with(" 0 rows"),
            "{name}: {}",
            summary(&ours)
        );
        assert_eq!(theirs, ours, "{name}");
    }
}

/// `DataFrameWriter::delta` of a library session on the cluster (`Session::builder()
/// .cluster(url)`) writes the rows a local session writes, as one version.
#[test]
fn the_dataframe_writer_writes_delta_on_the_cluster_as_locally() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = TestCluster::start(dir.path(), 2, "1");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let write = |session: spate::Session, table: &Path| {
        runtime.block_on(async {
            let transactions = cymbal().join("transactions");
            session
                .run_script(&format!(
                    "create external table transactions stored as parquet location '{}'",
                    transactions.display()
                ))
                .await
                .unwrap();
            session
                .sql("select store_id, day, count(*) as lines from transactions group by store_id, day")
                .await
                .unwrap()
                .write()
                .mode(spate::SaveMode::Overwrite)
                .partition_by(&["day"])
                .delta(table)
                .await
                .unwrap()
        })
    };
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let written_here = write(spate::Session::new().unwrap(), &local);
    let on_cluster = spate::Session::builder()
        .cluster(&cluster.url)
        .build()
        .unwrap();
    let written_there = write(on_cluster, &remote);
    assert_eq!(written_there, written_here);
    assert!(written_here > 0);
    let theirs = delta_rows(&remote);
    assert!(
        summary(&theirs).starts_with("version 0, "),
        "{}",
        summary(&theirs)
    );
    assert_eq!(theirs, delta_rows(&local));
}
