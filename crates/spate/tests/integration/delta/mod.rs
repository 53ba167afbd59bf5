//! Delta Lake tables: SQL, the DataFrame writer and merge, time travel, bad input, on
//! real files; [`object_stores`] commits them on S3, Azure Blob and GCS emulators.

mod object_stores;

use std::path::Path;

use spate::{SaveMode, Session};

use super::common::*;

/// The versions committed so far (`_delta_log/NNN.json`).
fn versions(table: &Path) -> usize {
    std::fs::read_dir(table.join("_delta_log"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".json")
        })
        .count()
}

/// The rows of the Delta table at `location` as of `option` (`versionAsOf`,
/// `timestampAsOf`) = `value`, or the error of reading it there.
async fn count_as_of(
    session: &Session,
    location: impl AsRef<Path>,
    option: &str,
    value: &str,
) -> spate::Result<usize> {
    let df = session.read().option(option, value).delta(location).await?;
    df.count().await
}

fn days_sql(days: &[&str], per_day: u64) -> String {
    let days: Vec<String> = days.iter().map(|d| format!("DATE '{d}'")).collect();
    format!(
        "SELECT CAST(value AS BIGINT) AS id, d.day, 'store-' || CAST(value % 3 AS VARCHAR) AS store, \
         CAST(value AS DOUBLE) * 1.5 AS amount \
         FROM range({per_day}) CROSS JOIN (SELECT unnest([{}]) AS day) d",
        days.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_creates_appends_overwrites_and_reads_old_versions() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("sales");
    let session = session();
    let results = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE sales (id BIGINT, day DATE, store VARCHAR, amount DOUBLE)
               STORED AS DELTA PARTITIONED BY (day) LOCATION '{loc}';
             INSERT INTO sales {a};
             INSERT INTO sales {b};
             SELECT count(*), count(DISTINCT day) FROM sales;",
            loc = table.display(),
            a = days_sql(&["2026-11-22"], 100),
            b = days_sql(&["2026-11-23"], 50),
        ))
        .await
        .unwrap();
    assert_eq!(results[1].rows_written, Some(100));
    assert_eq!(rows(&results[3].batches), ["150|2"]);
    // version 0 (create), 1 and 2 (one commit per INSERT), partitioned by day
    assert_eq!(versions(&table), 3);
    assert!(table.join("day=2026-11-23").is_dir());

    session
        .run_script(&format!(
            "INSERT OVERWRITE sales {};",
            days_sql(&["2026-11-24"], 10)
        ))
        .await
        .unwrap();
    assert_eq!(
        query(&session, "select count(*), min(day) from sales").await,
        ["10|2026-11-24"]
    );

    // Time travel: version 2 still has both first days.
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE sales_v2 STORED AS DELTA LOCATION '{}' OPTIONS ('version' '2');",
            table.display()
        ))
        .await
        .unwrap();
    assert_eq!(
        query(&session, "select count(*) from sales_v2").await,
        ["150"]
    );
    assert_eq!(
        count_as_of(&session, &table, "versionAsOf", "1")
            .await
            .unwrap(),
        100
    );
    // By time: now is after every commit.
    assert_eq!(
        count_as_of(&session, &table, "timestampAsOf", "2999-01-01")
            .await
            .unwrap(),
        10
    );
    let err = session
        .read()
        .option("timestampAsOf", "yesterday")
        .delta(&table)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid Delta option timestamp 'yesterday'"),
        "{err}"
    );
    // A time-travel table is read-only.
    let err = session
        .run_script("INSERT INTO sales_v2 SELECT * FROM sales")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("older version"), "{err}");
}

/// The `physical_plan` row of an EXPLAIN's output, one line per operator.
fn physical_plan(batches: &[spate::arrow::record_batch::RecordBatch]) -> Vec<String> {
    let cells = spate::io::string_rows(batches).unwrap();
    let row = cells
        .iter()
        .find(|row| row[0] == "physical_plan")
        .unwrap_or_else(|| panic!("no physical_plan row in {cells:?}"));
    row[1].lines().map(str::to_string).collect()
}

/// Where `operator` stands in `plan`: its line and its depth (indentation).
fn operator_at(plan: &[String], operator: &str) -> (usize, usize) {
    let line = plan
        .iter()
        .position(|l| l.trim_start().starts_with(operator))
        .unwrap_or_else(|| panic!("no {operator} in {plan:#?}"));
    let depth = plan[line].len() - plan[line].trim_start().len();
    (line, depth)
}

/// Asserts that `plan` writes through Delta's operators: the commit at the root (in
/// `mode`), gathering the writers, which write the query's rows (an operator below them).
fn assert_writes_delta(plan: &[String], table: &Path, mode: &str) {
    let (commit, commit_depth) = operator_at(plan, "DeltaCommitExec:");
    let (gather, gather_depth) = operator_at(plan, "CoalescePartitionsExec");
    let (writer, writer_depth) = operator_at(plan, "DeltaWriterExec:");
    assert_eq!(commit, 0, "{plan:#?}");
    assert!(
        plan[commit].contains(&format!("table={}, mode={mode}", table.display())),
        "{plan:#?}"
    );
    assert!(
        gather == commit + 1 && gather_depth > commit_depth,
        "{plan:#?}"
    );
    assert!(
        writer == gather + 1 && writer_depth > gather_depth,
        "{plan:#?}"
    );
    let below = plan.get(writer + 1).expect("the query under the writers");
    assert!(
        below.len() - below.trim_start().len() > writer_depth,
        "{plan:#?}"
    );
}

/// EXPLAIN of a Delta COPY and of an INSERT into a Delta table prints the plan DataFusion's
/// planner made and the executor runs: the commit over the writers over the query, with
/// the COPY's options in it. Explaining writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_delta_writes_shows_the_writer_and_commit() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("sales");
    let session = session();
    let copy = format!(
        "COPY ({}) TO '{}' STORED AS DELTA PARTITIONED BY (day) \
         OPTIONS ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic')",
        days_sql(&["2026-11-22", "2026-11-23"], 10),
        table.display()
    );
    let explained = session
        .run_script(&format!("EXPLAIN {copy}"))
        .await
        .unwrap();
    assert_writes_delta(&physical_plan(&explained[0].batches), &table, "Overwrite");
    assert!(!table.exists(), "EXPLAIN wrote the table");

    // The plan explained is the plan run: the same COPY writes the table.
    let ran = session.run_script(&copy).await.unwrap();
    assert_eq!(ran[0].rows_written, Some(20));
    assert_eq!(
        ran[0].message,
        format!("wrote 20 rows to Delta table {}", table.display())
    );
    assert_eq!(versions(&table), 1);

    let explained = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE sales STORED AS DELTA LOCATION '{}';
             EXPLAIN INSERT INTO sales {};",
            table.display(),
            days_sql(&["2026-11-24"], 5)
        ))
        .await
        .unwrap();
    assert_writes_delta(&physical_plan(&explained[1].batches), &table, "Append");
    assert_eq!(versions(&table), 1, "EXPLAIN committed a version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_partition_overwrite_replaces_exactly_the_days_written() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("daily");
    let session = session();
    let script = |days: &[&str]| {
        format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS daily (id BIGINT, day DATE, store VARCHAR, amount DOUBLE)
               STORED AS DELTA PARTITIONED BY (day) LOCATION '{}'
               OPTIONS ('partitionOverwriteMode' 'dynamic');
             INSERT OVERWRITE daily {};",
            table.display(),
            days_sql(days, 20)
        )
    };
    session
        .run_script(&script(&["2026-11-21", "2026-11-22"]))
        .await
        .unwrap();
    for _ in 0..2 {
        session.run_script(&script(&["2026-11-22"])).await.unwrap();
    }
    assert_eq!(
        query(
            &session,
            "select day, count(*) from daily group by day order by day"
        )
        .await,
        ["2026-11-21|20", "2026-11-22|20"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_merge_updates_matches_and_inserts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();
    let results = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE stock (id BIGINT, item VARCHAR, qty BIGINT)
               STORED AS DELTA LOCATION '{}';
             INSERT INTO stock VALUES (1, 'pen', 5), (2, 'ink', 7), (3, 'pad', 1);
             CREATE VIEW changes AS SELECT * FROM (VALUES (2, 'ink', 3), (3, 'pad', -1), (4, 'cap', 9)) c(id, item, qty);
             MERGE INTO stock t USING changes s ON t.id = s.id
               WHEN MATCHED AND s.qty < 0 THEN DELETE
               WHEN MATCHED THEN UPDATE SET qty = t.qty + s.qty
               WHEN NOT MATCHED THEN INSERT (id, item, qty) VALUES (s.id, s.item, s.qty);
             SELECT id, item, qty FROM stock ORDER BY id;",
            dir.path().join("stock").display()
        ))
        .await
        .unwrap();
    assert_eq!(results[3].kind, spate::StatementKind::Merge);
    assert!(
        results[3]
            .message
            .contains("1 rows inserted, 1 updated, 1 deleted"),
        "{}",
        results[3].message
    );
    assert_eq!(
        rows(&results[4].batches),
        ["1|pen|5", "2|ink|10", "4|cap|9"]
    );
}

/// EXPLAIN MERGE prints the plan DataFusion's planner made and the executor runs: the
/// merge's commit over the source query, with the clauses in it. Explaining merges
/// nothing; the same statement then merges, as one new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_of_merge_shows_the_merge_over_the_source_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("stock");
    let session = session();
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE stock (id BIGINT, item VARCHAR, qty BIGINT)
               STORED AS DELTA LOCATION '{}';
             INSERT INTO stock VALUES (1, 'pen', 5), (2, 'ink', 7);",
            table.display()
        ))
        .await
        .unwrap();
    let merge = "MERGE INTO stock t USING (SELECT * FROM (VALUES (2, 'ink', 3), (4, 'cap', 9)) c(id, item, qty) WHERE qty > 0) s \
                 ON t.id = s.id \
                 WHEN MATCHED THEN UPDATE SET qty = t.qty + s.qty \
                 WHEN NOT MATCHED THEN INSERT (id, item, qty) VALUES (s.id, s.item, s.qty)";
    let before = versions(&table);
    let explained = session
        .run_script(&format!("EXPLAIN {merge}"))
        .await
        .unwrap();
    let cells = spate::io::string_rows(&explained[0].batches).unwrap();
    let logical = &cells.iter().find(|r| r[0] == "logical_plan").unwrap()[1];
    assert!(logical.starts_with("DeltaMerge: table=stock"), "{logical}");
    let plan = physical_plan(&explained[0].batches);
    let (merge_line, merge_depth) = operator_at(&plan, "DeltaMergeCommitExec:");
    assert_eq!(merge_line, 0, "{plan:#?}");
    assert!(
        plan[0].contains(&format!("table={}", table.display()))
            && plan[0].contains("on=t.id = s.id")
            && plan[0]
                .contains("when=[matched: update (qty); not matched: insert (id, item, qty)]"),
        "{plan:#?}"
    );
    // The source query is planned below it, its filter included.
    let (filter, filter_depth) = operator_at(&plan, "FilterExec:");
    assert!(
        filter > merge_line && filter_depth > merge_depth,
        "{plan:#?}"
    );
    assert_eq!(versions(&table), before, "EXPLAIN merged");

    let ran = session.run_script(merge).await.unwrap();
    assert_eq!(ran[0].kind, spate::StatementKind::Merge);
    assert_eq!(
        ran[0].message,
        format!("merged into stock: 1 rows inserted, 1 updated, 0 deleted (version {before})")
    );
    assert_eq!(ran[0].rows_written, Some(2));
    assert_eq!(versions(&table), before + 1);
    assert_eq!(
        query(&session, "select id, qty from stock order by id").await,
        ["1|5", "2|10", "4|9"]
    );
}

/// The checksum of table `name` (id, item, qty, day), in SQL that spate and delta-rs's
/// Python reader evaluate alike.
fn merge_checksum(name: &str) -> String {
    format!(
        "select count(*) as n, md5(string_agg(concat_ws('|', id, item, qty, CAST(day AS VARCHAR)), ',' \
         order by id)) as digest from {name}"
    )
}

/// A MERGE through spate's plan gives the table delta-rs's own merge builder (the Python
/// `deltalake` package) gives on the same inputs, and the table an independent SQL
/// statement of the same clauses computes; both read back by the Python reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_equals_delta_rs_merge_and_an_independent_sql_result() {
    let dir = tempfile::tempdir().unwrap();
    let [ours, theirs, changes] = ["ours", "theirs", "changes"].map(|n| dir.path().join(n));
    let session = session();
    let target_rows = "SELECT CAST(value AS BIGINT) AS id, 'item-' || CAST(value % 13 AS VARCHAR) AS item, \
                       CAST(value % 50 AS BIGINT) AS qty, DATE '2026-11-20' + CAST(value % 3 AS INT) AS day \
                       FROM range(0, 3000)";
    // Overlapping keys 2000..3000 (every seventh a delete), new keys 3000..4000.
    let change_rows = "SELECT CAST(value AS BIGINT) AS id, 'new-' || CAST(value % 5 AS VARCHAR) AS item, \
                       CASE WHEN value % 7 = 0 THEN -1 ELSE CAST(value % 11 AS BIGINT) END AS qty, \
                       DATE '2026-11-20' + CAST(value % 3 AS INT) AS day \
                       FROM range(2000, 4000)";
    for (rows, at) in [
        (target_rows, &ours),
        (target_rows, &theirs),
        (change_rows, &changes),
    ] {
        session
            .sql(rows)
            .await
            .unwrap()
            .write()
            .partition_by(&["day"])
            .delta(at)
            .await
            .unwrap();
    }
    let results = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE ours STORED AS DELTA LOCATION '{ours}';
             CREATE EXTERNAL TABLE changes STORED AS DELTA LOCATION '{changes}';
             CREATE VIEW expected AS
               SELECT t.id, t.item, t.qty, t.day FROM ours t LEFT ANTI JOIN changes s ON t.id = s.id
               UNION ALL
               SELECT t.id, s.item, t.qty + s.qty, t.day FROM ours t JOIN changes s ON t.id = s.id WHERE s.qty >= 0
               UNION ALL
               SELECT s.id, s.item, s.qty, s.day FROM changes s LEFT ANTI JOIN ours t ON t.id = s.id;
             CREATE TABLE expected_rows AS SELECT * FROM expected;
             MERGE INTO ours t USING changes s ON t.id = s.id
               WHEN MATCHED AND s.qty < 0 THEN DELETE
               WHEN MATCHED THEN UPDATE SET qty = t.qty + s.qty, item = s.item
               WHEN NOT MATCHED THEN INSERT (id, item, qty, day) VALUES (s.id, s.item, s.qty, s.day);",
            ours = ours.display(),
            changes = changes.display(),
        ))
        .await
        .unwrap();
    let deleted = (2000..3000).filter(|v| v % 7 == 0).count();
    assert_eq!(
        results[4].message,
        format!(
            "merged into ours: 1000 rows inserted, {} updated, {deleted} deleted (version 1)",
            1000 - deleted
        )
    );
    let expected = query(&session, &merge_checksum("expected_rows")).await;
    assert!(
        expected[0].starts_with(&format!("{}|", 4000 - deleted)),
        "{expected:?}"
    );

    let script = format!(
        "from deltalake import DeltaTable, QueryBuilder\n\
         source = QueryBuilder().register('c', DeltaTable({changes:?})).execute('select * from c').read_all()\n\
         (DeltaTable({theirs:?}).merge(source=source, predicate='t.id = s.id', source_alias='s', target_alias='t')\n\
           .when_matched_delete(predicate='s.qty < 0')\n\
           .when_matched_update(updates={{'qty': 't.qty + s.qty', 'item': 's.item'}})\n\
           .when_not_matched_insert(updates={{'id': 's.id', 'item': 's.item', 'qty': 's.qty', 'day': 's.day'}})\n\
           .execute())\n\
         for path in [{ours:?}, {theirs:?}]:\n\
         \x20   t = QueryBuilder().register('t', DeltaTable(path)).execute({sql:?}).read_all()\n\
         \x20   n, digest = (c.to_pylist()[0] for c in t.columns)\n\
         \x20   print(f'{{n}}|{{digest}}')",
        changes = changes.display().to_string(),
        theirs = theirs.display().to_string(),
        ours = ours.display().to_string(),
        sql = merge_checksum("t"),
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with deltalake: ./scripts/test.sh installs it (pip install deltalake)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let read_back: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(read_back, [expected[0].clone(), expected[0].clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataframe_writer_replace_where_and_merge_builder() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("daily");
    let session = session();
    let two_days = session
        .sql(&days_sql(&["2026-11-22", "2026-11-23"], 30))
        .await
        .unwrap();
    let written = two_days
        .write()
        .mode(SaveMode::Overwrite)
        .partition_by(&["day"])
        .option("targetFileSize", "1MiB")
        .delta(&table)
        .await
        .unwrap();
    assert_eq!(written, 60);
    for _ in 0..2 {
        let rerun = session.sql(&days_sql(&["2026-11-23"], 5)).await.unwrap();
        rerun
            .write()
            .mode(SaveMode::Overwrite)
            .option("replaceWhere", "day = DATE '2026-11-23'")
            .delta(&table)
            .await
            .unwrap();
    }
    let back = session.read().delta(&table).await.unwrap();
    let counts = rows(
        &back
            .group_by(vec![spate::prelude::col("day")])
            .agg(vec![
                spate::prelude::count(spate::prelude::lit(1)).alias("n"),
            ])
            .unwrap()
            .order_by(vec![spate::prelude::asc(spate::prelude::col("day"))])
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(counts, ["2026-11-22|30", "2026-11-23|5"]);
    // ErrorIfExists and Ignore see the table.
    let again = session.sql(&days_sql(&["2026-11-24"], 1)).await.unwrap();
    let err = again.clone().write().delta(&table).await.unwrap_err();
    assert!(
        err.to_string().contains("already holds a Delta table"),
        "{err}"
    );
    assert_eq!(
        again
            .write()
            .mode(SaveMode::Ignore)
            .delta(&table)
            .await
            .unwrap(),
        0
    );

    let changes = session
        .sql("select CAST(id AS BIGINT) AS id, DATE '2026-11-22' AS day, 'moved' AS store, 0.0 AS amount \
              from (values (0), (1), (1000)) t(id)")
        .await
        .unwrap();
    let outcome = changes
        .merge_into(&table)
        .on("target.id = source.id AND target.day = source.day")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
        .await
        .unwrap();
    assert_eq!(
        (outcome.updated, outcome.inserted, outcome.deleted),
        (2, 1, 0)
    );
    let moved = session
        .read()
        .delta(&table)
        .await
        .unwrap()
        .filter(spate::prelude::col("store").eq(spate::prelude::lit("moved")))
        .unwrap();
    assert_eq!(moved.count().await.unwrap(), 3);
}

/// Option keys of a Delta write match in any case (DataFusion lower-cases a COPY's; the
/// DataFrame writer passes them as given); a key no Delta write takes fails naming it and
/// the keys it takes, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_option_keys_match_in_any_case_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("daily");
    let session = session();
    let copy = |rows: String, options: &str| {
        format!(
            "COPY ({rows}) TO '{}' STORED AS DELTA PARTITIONED BY (day) OPTIONS ({options})",
            table.display()
        )
    };
    session
        .run_script(&copy(
            days_sql(&["2026-11-22", "2026-11-23"], 10),
            "'MODE' 'overwrite', 'TargetFileSize' '1MiB'",
        ))
        .await
        .unwrap();
    session
        .run_script(&copy(
            days_sql(&["2026-11-23"], 3),
            "'Mode' 'OVERWRITE', 'REPLACE_WHERE' 'day = DATE ''2026-11-23'''",
        ))
        .await
        .unwrap();
    session
        .sql(&days_sql(&["2026-11-22"], 4))
        .await
        .unwrap()
        .write()
        .mode(SaveMode::Overwrite)
        .option("PartitionOverwriteMode", "DYNAMIC")
        .delta(&table)
        .await
        .unwrap();
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE daily STORED AS DELTA LOCATION '{}'",
            table.display()
        ))
        .await
        .unwrap();
    assert_eq!(
        query(
            &session,
            "select day, count(*) from daily group by day order by day"
        )
        .await,
        ["2026-11-22|4", "2026-11-23|3"]
    );

    let before = versions(&table);
    let err = session
        .run_script(&copy(days_sql(&["2026-11-24"], 1), "'replace_wher' 'x'"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "invalid option 'replace_wher': unknown option of a write to a Delta table; \
             it takes mode, replaceWhere, partitionOverwriteMode, targetFileSize, aws.*, google_*, azure.*, store.*"
        ),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let err = session
        .sql(&days_sql(&["2026-11-24"], 1))
        .await
        .unwrap()
        .write()
        .mode(SaveMode::Append)
        .option("Target_File_Sise", "1MiB")
        .delta(&table)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "invalid option 'Target_File_Sise': unknown option of a write to a Delta table; it takes mode, replaceWhere,"
        ),
        "{err}"
    );
    assert_eq!(versions(&table), before, "a refused write committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_one_clear_error_and_leaves_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();

    // A directory of Parquet files is not a Delta table.
    let parquet_dir = dir.path().join("plain");
    write_parquet(&parquet_dir.join("part-0.parquet"), &people(&[1], &["a"]));
    let df = session.sql("select 1 as id").await.unwrap();
    let err = df
        .clone()
        .write()
        .mode(SaveMode::Append)
        .delta(&parquet_dir)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&parquet_dir.display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("is not a Delta table: it holds part-0.parquet but no _delta_log/"),
        "{text}"
    );
    assert!(!parquet_dir.join("_delta_log").exists());

    // Unknown partition column.
    let table = dir.path().join("t");
    let err = df
        .clone()
        .write()
        .partition_by(&["day"])
        .delta(&table)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown partition column `day`"),
        "{err}"
    );
    assert!(
        err.to_string().contains("the columns are id Int64"),
        "{err}"
    );
    assert!(!table.join("_delta_log").exists());

    // Schema mismatch on append names the columns and types.
    session
        .sql("select CAST(1 AS BIGINT) AS id, 'a' AS name")
        .await
        .unwrap()
        .write()
        .delta(&table)
        .await
        .unwrap();
    let wrong = session.sql("select 'x' AS id, 2 AS qty").await.unwrap();
    let err = wrong
        .write()
        .mode(SaveMode::Append)
        .delta(&table)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "schema mismatch writing to Delta table {}",
            table.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("column `id` is Int64 in the table but Utf8"),
        "{text}"
    );
    assert!(
        text.contains("column `qty` (Int64) is not in the table"),
        "{text}"
    );
    assert!(text.contains("column `name` (Utf8) is missing"), "{text}");
    assert!(!text.contains("backtrace"), "{text}");
    assert_eq!(versions(&table), 1);

    // Rows outside replaceWhere: nothing is committed.
    let daily = dir.path().join("daily");
    session
        .sql(&days_sql(&["2026-11-22"], 3))
        .await
        .unwrap()
        .write()
        .partition_by(&["day"])
        .delta(&daily)
        .await
        .unwrap();
    let err = session
        .sql(&days_sql(&["2026-11-23"], 3))
        .await
        .unwrap()
        .write()
        .mode(SaveMode::Overwrite)
        .option("replaceWhere", "day = DATE '2026-11-22'")
        .delta(&daily)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("do not all match replaceWhere"),
        "{err}"
    );
    assert_eq!(versions(&daily), 1);
    assert_eq!(
        session
            .read()
            .delta(&daily)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        3
    );

    // CREATE EXTERNAL TABLE with an unknown partition column creates nothing.
    let created = dir.path().join("created");
    let err = session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE c (id BIGINT) STORED AS DELTA PARTITIONED BY (day) LOCATION '{}'",
            created.display()
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("day"), "{err}");
    assert!(!created.join("_delta_log").exists());

    // A replaceWhere on a column that is not a partition column.
    let err = session
        .sql(&days_sql(&["2026-11-22"], 3))
        .await
        .unwrap()
        .write()
        .mode(SaveMode::Overwrite)
        .option("replaceWhere", "store = 'x'")
        .delta(&daily)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("partition columns: day"), "{err}");
}

/// Two writers that both read version N append at once: the second's put of version N+1
/// fails (put-if-absent), delta-rs sees the other commit was a blind append, and retries
/// at N+2. Both land, nothing is lost or doubled.
async fn concurrent_appends_both_land(session: &Session, location: &str) {
    session
        .sql("select CAST(value AS BIGINT) AS id from range(10)")
        .await
        .unwrap()
        .write()
        .delta(location)
        .await
        .unwrap();
    let at = spate_delta::DeltaLocation::parse(location).unwrap();
    let state = session.context().state();
    let mut plans = Vec::new();
    for start in [100, 200] {
        let df = session
            .context()
            .sql(&format!(
                "select CAST(value AS BIGINT) AS id from range({start}, {})",
                start + 50
            ))
            .await
            .unwrap();
        let input = df.create_physical_plan().await.unwrap();
        let options = spate_delta::DeltaWriteOptions {
            mode: spate_delta::WriteMode::Append,
            ..Default::default()
        };
        plans.push(
            spate_delta::plan_write(&state, &at, input, &options)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    // Both planned against the same version; now both commit.
    for plan in plans {
        spate::datafusion::physical_plan::collect(plan, session.context().task_ctx())
            .await
            .unwrap();
    }
    let back = session.read().delta(location).await.unwrap();
    let stats = rows(
        &back
            .group_by(vec![])
            .agg(vec![
                spate::prelude::count(spate::prelude::lit(1)).alias("n"),
                spate::prelude::count_distinct(spate::prelude::col("id")).alias("d"),
            ])
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(stats, ["110|110"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_on_local_disk_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    concurrent_appends_both_land(&session(), table.to_str().unwrap()).await;
    assert_eq!(versions(&table), 3);
}

/// The rows of a table as one checksum, in SQL that spate and delta-rs's Python reader
/// (both DataFusion underneath) evaluate alike.
const CHECKSUM: &str = "select count(*) as n, md5(string_agg(concat_ws('|', id, store, amount, \
     CAST(day AS VARCHAR), flag, CAST(price AS VARCHAR), CAST(at AS VARCHAR)), ',' order by id)) as digest from t";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_deltalake_reads_back_what_spate_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("wide");
    let session = session();
    let rows_sql = |from: u64, to: u64| {
        format!(
            "SELECT CAST(value AS BIGINT) AS id, \
               CASE WHEN value % 7 = 0 THEN NULL ELSE 'store-' || CAST(value % 5 AS VARCHAR) END AS store, \
               CAST(value AS DOUBLE) / 8 AS amount, \
               DATE '2026-11-20' + CAST(value % 4 AS INT) AS day, \
               value % 2 = 0 AS flag, \
               CAST(value AS DECIMAL(12, 2)) / 100 AS price, \
               to_timestamp_seconds(1795428000 + value) AS at \
             FROM range({from}, {to})"
        )
    };
    for (from, to, mode) in [
        (0, 5000, SaveMode::ErrorIfExists),
        (5000, 9000, SaveMode::Append),
    ] {
        session
            .sql(&rows_sql(from, to))
            .await
            .unwrap()
            .write()
            .mode(mode)
            .partition_by(&["day"])
            .delta(&table)
            .await
            .unwrap();
    }
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE t STORED AS DELTA LOCATION '{}'",
            table.display()
        ))
        .await
        .unwrap();
    let ours = query(&session, CHECKSUM).await;
    let script = format!(
        "from deltalake import DeltaTable, QueryBuilder\n\
         t = QueryBuilder().register('t', DeltaTable({path:?})).execute({sql:?}).read_all()\n\
         n, digest = (c.to_pylist()[0] for c in t.columns)\n\
         print(f'{{n}}|{{digest}}')",
        path = table.display().to_string(),
        sql = CHECKSUM
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with deltalake: ./scripts/test.sh installs it (pip install deltalake)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let theirs = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(ours, [theirs]);
    assert!(ours[0].starts_with("9000|"), "{ours:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_concurrent_overwrite_fails_clearly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    let session = session();
    session
        .sql("select CAST(value AS BIGINT) AS id from range(10)")
        .await
        .unwrap()
        .write()
        .delta(&table)
        .await
        .unwrap();
    let at = spate_delta::DeltaLocation::parse(table.to_str().unwrap()).unwrap();
    let state = session.context().state();
    let mut plans = Vec::new();
    for n in [3, 4] {
        let df = session
            .context()
            .sql(&format!(
                "select CAST(value AS BIGINT) AS id from range({n})"
            ))
            .await
            .unwrap();
        let options = spate_delta::DeltaWriteOptions {
            mode: spate_delta::WriteMode::Overwrite,
            ..Default::default()
        };
        let input = df.create_physical_plan().await.unwrap();
        plans.push(
            spate_delta::plan_write(&state, &at, input, &options)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let mut outcomes = Vec::new();
    for plan in plans {
        outcomes.push(
            spate::datafusion::physical_plan::collect(plan, session.context().task_ctx()).await,
        );
    }
    assert!(outcomes[0].is_ok());
    // Both overwrites removed the same files: the second one lost.
    let err = spate::SpateError::from(outcomes.pop().unwrap().unwrap_err()).to_string();
    assert!(
        err.starts_with(&format!(
            "conflicting concurrent transaction on Delta table {}",
            table.display()
        )),
        "{err}"
    );
    assert!(
        err.ends_with("the table is unchanged, run the write again"),
        "{err}"
    );
    assert_eq!(versions(&table), 2);
    assert_eq!(
        session
            .read()
            .delta(&table)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_skip_files_by_partition_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();
    let daily = dir.path().join("daily");
    session
        .sql(&days_sql(
            &["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"],
            100,
        ))
        .await
        .unwrap()
        .write()
        .partition_by(&["day"])
        .delta(&daily)
        .await
        .unwrap();
    let ids = dir.path().join("ids");
    for start in [0, 1000, 2000, 3000] {
        session
            .sql(&format!(
                "select CAST(value AS BIGINT) AS id from range({start}, {})",
                start + 1000
            ))
            .await
            .unwrap()
            .write()
            .mode(SaveMode::Append)
            .delta(&ids)
            .await
            .unwrap();
    }
    session
        .run_script(&format!(
            "CREATE EXTERNAL TABLE daily STORED AS DELTA LOCATION '{}';
             CREATE EXTERNAL TABLE ids STORED AS DELTA LOCATION '{}';",
            daily.display(),
            ids.display()
        ))
        .await
        .unwrap();
    // The files a scan opens are listed in its plan (count(*) alone is answered from
    // the log's statistics, without opening files).
    let files_scanned = |sql: &'static str| {
        let session = session.clone();
        async move {
            let plan = session.sql(sql).await.unwrap().explain().await.unwrap();
            plan.matches(".parquet").count()
        }
    };
    let all_days = files_scanned("select sum(amount) from daily").await;
    let one_day =
        files_scanned("select sum(amount) from daily where day = DATE '2026-11-22'").await;
    assert!(
        all_days >= 4 && one_day * 4 <= all_days,
        "{one_day} of {all_days}"
    );
    let all_ids = files_scanned("select sum(id) from ids").await;
    let low_ids = files_scanned("select sum(id) from ids where id < 500").await;
    assert!(
        all_ids >= 4 && low_ids * 4 <= all_ids,
        "{low_ids} of {all_ids}"
    );
    assert_eq!(
        query(&session, "select count(*), sum(id) from ids where id < 500").await,
        ["500|124750"]
    );
}
