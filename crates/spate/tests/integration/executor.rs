//! spate's executor against DataFusion's: same rows, with shuffles spilling under a tiny
//! memory pool, and nothing left on disk afterwards.

use spate::{ByteSize, ExecutorKind, Session};

use super::common::rows;

const QUERIES: [&str; 5] = [
    "select value, repeat('x', 40) || value as pad from range(200000) order by pad desc",
    "select k, count(*), sum(v) from (select value % 997 as k, value as v from range(200000)) group by k order by k",
    "select a.k, count(*) from (select value % 5000 as k from range(60000)) a \
     join (select value as k from range(5000)) b on a.k = b.k group by a.k order by a.k",
    "select value from range(100000) order by value desc limit 5",
    "select count(distinct value % 12345) from range(150000)",
];

fn session(
    executor: ExecutorKind,
    memory: ByteSize,
    partitions: Option<usize>,
    spill: &std::path::Path,
) -> Session {
    let mut builder = Session::builder()
        .threads(2)
        .executor(executor)
        .memory_limit(memory)
        .spill_dir(spill)
        .config("datafusion.execution.batch_size", "1024");
    if let Some(n) = partitions {
        builder = builder.shuffle_partitions(n);
    }
    builder.build().unwrap()
}

/// A session builder whose joins DataFusion always plans partitioned (its single-partition
/// thresholds are zero), on 2 threads.
fn partitioned_joins(
    executor: ExecutorKind,
    memory: ByteSize,
    spill: &std::path::Path,
) -> spate::SessionBuilder {
    Session::builder()
        .threads(2)
        .executor(executor)
        .memory_limit(memory)
        .spill_dir(spill)
        .config(
            "datafusion.optimizer.hash_join_single_partition_threshold",
            "0",
        )
        .config(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            "0",
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_rows_as_datafusion_while_shuffles_spill() {
    let spill = tempfile::tempdir().unwrap();
    let reference = session(
        ExecutorKind::DataFusion,
        ByteSize::mib(512),
        None,
        spill.path(),
    );
    let mut spilled = 0;
    for sql in QUERIES {
        let expected = rows(&reference.sql(sql).await.unwrap().collect().await.unwrap());
        for (memory, partitions) in [
            (ByteSize::mib(512), Some(1)),
            (ByteSize::mib(512), Some(7)),
            (ByteSize::mib(8), Some(3)),
        ] {
            let spate = session(ExecutorKind::Spate, memory, partitions, spill.path());
            let (batches, metrics) = spate
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            assert_eq!(
                rows(&batches),
                expected,
                "{sql} with {memory} and {partitions:?} partitions"
            );
            assert!(
                !metrics.stages.is_empty(),
                "spate's executor reports its stages"
            );
            for stage in &metrics.stages {
                assert_eq!(stage.task_metrics.len(), stage.tasks, "one entry per task");
                let rows: u64 = stage.task_metrics.iter().map(|t| t.output_rows).sum();
                assert_eq!(rows, stage.output_rows, "task rows add up to the stage's");
            }
            assert!(
                metrics
                    .stages
                    .iter()
                    .any(|s| s.cpu_time > std::time::Duration::ZERO),
                "{sql}: CPU time is measured"
            );
            assert!(
                metrics.stages.iter().any(|s| s.peak_memory_bytes > 0),
                "{sql}: some task held memory"
            );
            spilled += metrics.stages.iter().map(|s| s.spilled_bytes).sum::<u64>();
        }
    }
    assert!(spilled > 0, "an 8 MiB pool must make some shuffle spill");
    let left: Vec<_> = walk(spill.path());
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

/// With `spate.task_timeline` off, stages keep their totals but no attempt's figures, so a
/// report of the run has stages and no task bars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_task_timeline_stages_keep_their_totals_only() {
    let sql = QUERIES[1];
    let mut kept = Vec::new();
    for timeline in ["true", "false"] {
        let session = Session::builder()
            .threads(2)
            .shuffle_partitions(5)
            .config("spate.task_timeline", timeline)
            .build()
            .unwrap();
        let results = session.run_script(sql).await.unwrap();
        let stages = &results[0].metrics.stages;
        let attempts: usize = stages
            .iter()
            .map(|s| s.task_metrics.len() + s.other_attempts.len())
            .sum();
        let report = spate::report::Report::from_results(&results, &session.config().report);
        assert_eq!(report.statements[0].tasks.len(), attempts);
        kept.push((
            rows(&results[0].batches),
            stages
                .iter()
                .map(|s| (s.tasks, s.output_rows))
                .collect::<Vec<_>>(),
            attempts,
        ));
    }
    let (on, off) = (&kept[0], &kept[1]);
    assert_eq!(on.0, off.0, "same rows");
    assert_eq!(on.1, off.1, "same stages, tasks and rows per stage");
    assert!(on.2 >= on.1.iter().map(|(tasks, _)| tasks).sum::<usize>());
    assert_eq!(off.2, 0, "no attempt kept without the timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_query_leaves_no_spill_files() {
    let spill = tempfile::tempdir().unwrap();
    let spate = session(ExecutorKind::Spate, ByteSize::mib(8), Some(3), spill.path());
    let err = spate
        .sql("select k, sum(1 / (k - 900)) from (select value % 997 as k from range(200000)) group by k")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Divide by zero"), "{err}");
    assert!(walk(spill.path()).is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// An 8 MiB pool leaves each of two join tasks a 1 MiB build budget; even the smaller
/// input here is about 6 MB, so join partitions are split into buckets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_whose_build_side_does_not_fit_are_split_and_match_datafusion() {
    let spill = tempfile::tempdir().unwrap();
    let reference = session(
        ExecutorKind::DataFusion,
        ByteSize::mib(512),
        None,
        spill.path(),
    );
    let big = "select value as k, repeat('x', 40) || value as pad from range(250000)";
    let probe = "select (value * 7) % 300000 as k, value as v from range(400000)";
    let queries = [
        format!(
            "select count(*), sum(v), sum(length(pad)) from ({probe}) p join ({big}) b on p.k = b.k"
        ),
        format!(
            "select count(*), count(pad), sum(v) from ({probe}) p left join ({big}) b on p.k = b.k"
        ),
        format!(
            "select count(p.k), count(b.k), sum(length(pad)) from ({probe}) p full join ({big}) b on p.k = b.k"
        ),
        format!(
            "select count(*), sum(length(pad)) from ({big}) b where not exists (select 1 from ({probe}) p where p.k = b.k)"
        ),
    ];
    for sql in &queries {
        let expected = rows(&reference.sql(sql).await.unwrap().collect().await.unwrap());
        // With more partitions a build partition may fit; with 2 it never does.
        let mut splits = 0;
        for partitions in [Some(2), Some(5), None] {
            let spate = session(
                ExecutorKind::Spate,
                ByteSize::mib(8),
                partitions,
                spill.path(),
            );
            let (batches, metrics) = spate
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            assert_eq!(
                rows(&batches),
                expected,
                "{sql} with {partitions:?} partitions"
            );
            let split: u64 = metrics.stages.iter().map(|s| s.join_splits).sum();
            assert!(
                split == 0 || metrics.spilled_bytes > 0,
                "{sql}: the splits spilled"
            );
            splits += split;
        }
        assert!(splits > 0, "{sql}: no join was split");
    }
    let left: Vec<_> = walk(spill.path());
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

/// Splitting cannot shrink a bucket whose rows all share one key: such a join fails with
/// the memory limit's error, naming the join, and removes its spill files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_key_with_more_rows_than_memory_fails_clearly_and_leaves_no_spill_files() {
    let spill = tempfile::tempdir().unwrap();
    let spate = session(
        ExecutorKind::Spate,
        ByteSize::mib(16),
        Some(2),
        spill.path(),
    );
    let err = spate
        .sql(
            "select count(*) from (select 1 as k, repeat('a', 100) || value as pa from range(300000)) a \
             where exists (select 1 from (select 1 as k, repeat('b', 100) || value as pb from range(300000)) b \
             where b.k = a.k and b.pb <> a.pa)",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("memory limit"), "{message}");
    assert!(message.contains("HashJoin"), "{message}");
    assert!(walk(spill.path()).is_empty());
}

/// DataFusion plans these joins partitioned (its single-partition thresholds are set to
/// zero), but their build side turns out to be a few KiB: spate's executor switches each
/// to a broadcast join at run time, so the probe side is never shuffled, and the rows stay
/// those of DataFusion's executor, for every join type, with adaptivity on and off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_build_sides_switch_partitioned_joins_to_broadcast_joins() {
    let spill = tempfile::tempdir().unwrap();
    let partitioned = |executor, partitions: Option<usize>, adaptive: bool| {
        let mut builder = partitioned_joins(executor, ByteSize::mib(256), spill.path())
            .adaptive(adaptive)
            .config("datafusion.execution.batch_size", "1024");
        if let Some(n) = partitions {
            builder = builder.shuffle_partitions(n);
        }
        builder.build().unwrap()
    };
    let small = "select value as k, 'd' || value as name from range(3000) where value % 3 = 0";
    let big = "select value % 5000 as k, value as v from range(200000)";
    let queries = [
        format!("select count(*), sum(v), max(name) from ({small}) s join ({big}) b on s.k = b.k"),
        format!(
            "select count(*), count(name), sum(v) from ({big}) b left join ({small}) s on s.k = b.k"
        ),
        format!(
            "select count(s.k), count(b.k), sum(v) from ({small}) s full join ({big}) b on s.k = b.k"
        ),
        format!(
            "select count(*) from ({small}) s where not exists (select 1 from ({big}) b where b.k = s.k + 4000)"
        ),
        format!(
            "select count(*) from ({small}) s where s.k in (select k from ({big}) b where v % 2 = 0)"
        ),
        format!(
            "select s.k % 10 as d, count(*) from ({small}) s join ({big}) b on s.k = b.k \
             group by s.k % 10 order by d"
        ),
    ];
    let reference = partitioned(ExecutorKind::DataFusion, None, true);
    for sql in &queries {
        let expected = rows(&reference.sql(sql).await.unwrap().collect().await.unwrap());
        for (partitions, adaptive) in [(None, true), (Some(3), true), (Some(3), false)] {
            let spate = partitioned(ExecutorKind::Spate, partitions, adaptive);
            let (batches, metrics) = spate
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            let context = format!("{sql} with {partitions:?} partitions, adaptive {adaptive}");
            assert_eq!(rows(&batches), expected, "{context}");
            let switched: u64 = metrics.stages.iter().map(|s| s.broadcast_joins).sum();
            if adaptive {
                assert!(switched > 0, "{context}: no join became a broadcast join");
            } else {
                assert_eq!(switched, 0, "{context}: adaptivity is off");
            }
        }
    }
}

/// As TPC-H Q17: a small build side joins the big table, and the join's output meets an
/// aggregation of the big table on the same key, so the join stage needs the join's output
/// partitioned by that key and cannot absorb the probe stage. The join is pushed down into
/// the probe stage instead: that stage shuffles only the rows that matched, not the big
/// table, and the rows stay DataFusion's, with any partition count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_join_under_a_co_partitioned_join_moves_into_its_probe_stage() {
    let spill = tempfile::tempdir().unwrap();
    let partitioned = |executor, partitions: Option<usize>| {
        let mut builder = partitioned_joins(executor, ByteSize::mib(256), spill.path())
            .config("datafusion.execution.batch_size", "1024");
        if let Some(n) = partitions {
            builder = builder.shuffle_partitions(n);
        }
        builder.build().unwrap()
    };
    let big_rows = 200_000u64;
    let sql = format!(
        "with small as (select value as k from range(5000) where value % 50 = 0), \
              big as (select value % 5000 as k, value as v from range({big_rows})), \
              means as (select k, avg(v) as m from big group by k) \
         select count(*), sum(b.v) from small s join big b on s.k = b.k \
         join means g on g.k = b.k where b.v < g.m"
    );
    let reference = partitioned(ExecutorKind::DataFusion, None);
    let expected = rows(&reference.sql(&sql).await.unwrap().collect().await.unwrap());
    for partitions in [None, Some(3), Some(7)] {
        let spate = partitioned(ExecutorKind::Spate, partitions);
        let (batches, metrics) = spate
            .sql(&sql)
            .await
            .unwrap()
            .collect_with_metrics()
            .await
            .unwrap();
        assert_eq!(rows(&batches), expected, "{partitions:?} partitions");
        // The stage the join moved into ran, shuffling the 4,000 rows that matched.
        let pushed: Vec<_> = metrics
            .stages
            .iter()
            .filter(|s| s.broadcast_joins > 0)
            .collect();
        assert_eq!(pushed.len(), 1, "{partitions:?}: {metrics:?}");
        assert_eq!(pushed[0].output_rows, big_rows / 50, "{partitions:?}");
    }
}

/// A partitioned join whose build side (2,000 keys) is too big to broadcast here: once
/// its build stage is done, the keys filter the probe side's Parquet scan, so the probe
/// stage of the inner join shuffles only the 2,000 rows that can match instead of all
/// 200,000. The rows stay DataFusion's for inner, semi, anti and outer joins, with runtime
/// filters on and off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_build_side_filters_the_probe_scan() {
    use std::sync::Arc;

    use spate::arrow::array::{ArrayRef, Int64Array, RecordBatch};

    const FACT_ROWS: i64 = 200_000;
    let data = tempfile::tempdir().unwrap();
    let keys = Int64Array::from_iter_values(0..FACT_ROWS);
    let values = Int64Array::from_iter_values((0..FACT_ROWS).map(|v| v * 3));
    let batch = RecordBatch::try_from_iter([
        ("k", Arc::new(keys) as ArrayRef),
        ("v", Arc::new(values) as ArrayRef),
    ])
    .unwrap();
    super::common::write_parquet(&data.path().join("fact/part-0.parquet"), &batch);
    let spill = tempfile::tempdir().unwrap();
    let build = |executor, runtime_filters: bool| {
        partitioned_joins(executor, ByteSize::mib(256), spill.path())
            .config("spate.broadcast_threshold", "4KiB")
            .config("spate.runtime_filters", &runtime_filters.to_string())
            .build()
            .unwrap()
    };
    let small = "select value * 40 as k, value as w from range(2000)";
    let queries = [
        format!("select count(*), sum(f.v), sum(s.w) from ({small}) s join fact f on f.k = s.k"),
        format!("select count(*), sum(v) from fact f where f.k in (select k from ({small}) s)"),
        format!(
            "select count(*), sum(s.w) from ({small}) s where not exists \
             (select 1 from fact f where f.k = s.k + 1 and f.v % 2 = 0)"
        ),
        format!("select count(*), count(f.k) from ({small}) s left join fact f on f.k = s.k + 7"),
        // TPC-H Q17's shape: the probe side is an aggregate per key, in a stage of its own,
        // which the filter reaches only through that aggregate.
        format!(
            "select count(*), sum(a.m), sum(s.w) from ({small}) s \
             join (select k, max(v) as m from fact group by k) a on a.k = s.k"
        ),
    ];
    for sql in &queries {
        let mut expected = None;
        for (executor, runtime_filters) in [
            (ExecutorKind::DataFusion, false),
            (ExecutorKind::Spate, false),
            (ExecutorKind::Spate, true),
        ] {
            let session = build(executor, runtime_filters);
            session.register_directory(data.path()).unwrap();
            let (batches, metrics) = session
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            let got = rows(&batches);
            let expected = expected.get_or_insert_with(|| got.clone());
            let context = format!("{sql} under {executor:?}, runtime filters {runtime_filters}");
            assert_eq!(&got, expected, "{context}");
            // The inner joins: those whose probe side is the fact table for sure.
            if executor == ExecutorKind::DataFusion || (sql != &queries[0] && sql != &queries[4]) {
                continue;
            }
            let filters: u64 = metrics.stages.iter().map(|s| s.runtime_filters).sum();
            let most_rows = metrics.stages.iter().map(|s| s.output_rows).max();
            if runtime_filters {
                assert!(filters > 0, "{context}: no runtime filter: {metrics:?}");
                assert!(most_rows < Some(10_000), "{context}: {metrics:?}");
            } else {
                assert_eq!(filters, 0, "{context}");
                assert!(
                    most_rows >= Some(FACT_ROWS as u64),
                    "{context}: {metrics:?}"
                );
            }
        }
    }
}

/// A panic inside a task (here in a user-defined function) fails the query with an error
/// that names the stage and task; it does not reach the caller as a panic, and the
/// session keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_a_task_becomes_an_error_of_the_query() {
    use std::sync::Arc;

    use spate::arrow::datatypes::DataType;
    use spate::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

    let spill = tempfile::tempdir().unwrap();
    let spate = session(
        ExecutorKind::Spate,
        ByteSize::mib(64),
        Some(3),
        spill.path(),
    );
    let explode = create_udf(
        "explode_on_42",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let values = ColumnarValue::values_to_arrays(args)?;
            let ints = values[0]
                .as_any()
                .downcast_ref::<spate::arrow::array::Int64Array>()
                .unwrap();
            if ints.iter().any(|v| v == Some(42)) {
                panic!("the value 42 is not allowed");
            }
            Ok(ColumnarValue::Array(Arc::clone(&values[0])))
        }),
    );
    spate.context().register_udf(explode);
    let err = spate
        .sql("select k, count(*) from (select explode_on_42(value) % 7 as k from range(1000)) group by k")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("panicked"), "{message}");
    assert!(message.contains("the value 42 is not allowed"), "{message}");
    let fine = spate
        .sql("select count(*) from range(1000) where explode_on_42(value) < 40")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(fine.is_err(), "42 is still in range(1000)");
    let rows = rows(
        &spate
            .sql("select explode_on_42(value) from range(10)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 10, "the session still runs queries");
}

/// A LIMIT without ORDER BY above a join of 64 shuffle partitions: once the join tasks
/// that finished have produced the rows the limit needs, the join tasks not yet started
/// are skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satisfied_limit_skips_the_tasks_not_yet_started() {
    let spill = tempfile::tempdir().unwrap();
    let sql = "select a.k, b.w from (select value % 50000 as k from range(200000)) a \
               join (select value as k, value * 2 as w from range(50000)) b on a.k = b.k limit 7";
    let spate = partitioned_joins(ExecutorKind::Spate, ByteSize::mib(256), spill.path())
        .shuffle_partitions(64)
        .adaptive(false)
        .build()
        .unwrap();
    let explained = spate.run_script(&format!("explain {sql}")).await.unwrap();
    let explain = rows(&explained[0].batches);
    assert!(
        explain.iter().any(|l| l.contains("stops after 7 rows")),
        "EXPLAIN shows the limited stage:\n{}",
        explain.join("\n")
    );
    let (batches, metrics) = spate
        .sql(sql)
        .await
        .unwrap()
        .collect_with_metrics()
        .await
        .unwrap();
    let result = rows(&batches);
    assert_eq!(result.len(), 7);
    for row in &result {
        let (k, w) = row.split_once('|').unwrap();
        assert_eq!(
            w.parse::<i64>().unwrap(),
            2 * k.parse::<i64>().unwrap(),
            "{row}"
        );
    }
    let skipped: usize = metrics.stages.iter().map(|s| s.skipped_tasks).sum();
    assert!(skipped > 0, "no task was skipped: {:?}", metrics.stages);
}

/// A LIMIT without ORDER BY over two scan tasks: one finds the rows at once, the other
/// would spend half a minute on 600 rows its filter drops (a UDF takes 50 ms per one-row
/// batch and counts them). Once the limit has its rows that task is stopped (or never
/// started): the query returns before it has seen all its rows. The timeout only ends a test
/// whose query never returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_satisfied_limit_stops_the_tasks_still_running() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use spate::arrow::array::{Array, ArrayRef, Int64Array, RecordBatch};
    use spate::arrow::datatypes::DataType;
    use spate::datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

    const HELD_ROWS: usize = 600;
    let data = tempfile::tempdir().unwrap();
    for (name, values) in [("a_fast", 0..5), ("b_slow", 1000..1000 + HELD_ROWS as i64)] {
        let column = Int64Array::from_iter_values(values);
        let batch = RecordBatch::try_from_iter([("v", Arc::new(column) as ArrayRef)]).unwrap();
        super::common::write_parquet(&data.path().join(format!("{name}.parquet")), &batch);
    }
    let spate = Session::builder()
        .threads(2)
        .config("datafusion.execution.batch_size", "1")
        .config("datafusion.optimizer.repartition_file_scans", "false")
        .build()
        .unwrap();
    let slow_rows = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&slow_rows);
    let slow = create_udf(
        "slow",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let values = args[0].clone().into_array(1)?;
            let values = values.as_any().downcast_ref::<Int64Array>().unwrap();
            if values.iter().flatten().any(|v| v >= 1000) {
                seen.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(args[0].clone())
        }),
    );
    spate.context().register_udf(slow);
    spate
        .run_script(&format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/'",
            data.path().display()
        ))
        .await
        .unwrap();
    let query = async {
        let frame = spate
            .sql("select v from t where slow(v) < 100 limit 5")
            .await?;
        frame.collect_with_metrics().await
    };
    let (batches, metrics) = tokio::time::timeout(Duration::from_secs(300), query)
        .await
        .expect("the query never returned")
        .unwrap();
    let slow_seen = slow_rows.load(Ordering::SeqCst);
    let mut values = rows(&batches);
    values.sort();
    assert_eq!(values, ["0", "1", "2", "3", "4"]);
    let stopped: usize = metrics.stages.iter().map(|s| s.skipped_tasks).sum();
    assert!(stopped >= 1, "no task was stopped: {:?}", metrics.stages);
    // The timeline shows the stopped attempt as such.
    let stopped_attempts = metrics
        .stages
        .iter()
        .flat_map(|s| &s.task_metrics)
        .filter(|t| t.outcome == spate::TaskOutcome::Stopped)
        .count();
    assert!(stopped_attempts >= 1, "{:?}", metrics.stages);
    assert!(
        slow_seen < HELD_ROWS,
        "the query waited for the slow task: it saw all {HELD_ROWS} rows"
    );
}

/// A spill that runs out of disk fails the query with one clear error naming the spill
/// file and the cause, and leaves nothing behind. The full disk is a 1 MiB tmpfs: mounted
/// directly when the test runs as root, else in a user and mount namespace of its own
/// (`unshare --user --map-root-user --mount`, which reruns this test inside). Where
/// neither is allowed the test prints `SKIPPED` to the terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_while_spilling_is_a_clear_error() {
    if let Some(dir) = std::env::var_os(FULL_DISK_VAR) {
        // The rerun inside the namespace: the tmpfs is mounted at `dir` already.
        spill_onto_a_full_disk(std::path::Path::new(&dir)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    match Tmpfs::mount(dir.path()) {
        Some(tmpfs) => {
            spill_onto_a_full_disk(&tmpfs.dir).await;
            tmpfs.unmount();
        }
        None => rerun_in_a_namespace_with_a_tmpfs(dir.path()),
    }
}

/// Set in the rerun of [`a_full_disk_while_spilling_is_a_clear_error`] to its tmpfs.
const FULL_DISK_VAR: &str = "SPATE_TEST_FULL_DISK_DIR";

/// The body of [`a_full_disk_while_spilling_is_a_clear_error`], spilling into `dir`, a
/// 1 MiB file system.
async fn spill_onto_a_full_disk(dir: &std::path::Path) {
    let spate = session(ExecutorKind::Spate, ByteSize::mib(8), Some(3), dir);
    let result = spate
        .sql("select value, repeat('x', 40) || value as pad from range(400000) order by pad desc")
        .await
        .unwrap()
        .collect()
        .await;
    let message = result
        .expect_err("1 MiB of disk cannot hold the spill")
        .to_string();
    assert!(message.contains("no space left"), "{message}");
    assert!(
        message.contains(&dir.display().to_string()),
        "names the spill directory: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
    // Aborted tasks drop their spill files as the runtime gets to them; the deadline only
    // ends a test whose files are never removed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut left = walk(dir);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        left = walk(dir);
    }
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

/// A 1 MiB tmpfs mounted over a directory (only root may).
struct Tmpfs {
    dir: std::path::PathBuf,
    mounted: bool,
}

impl Tmpfs {
    fn mount(dir: &std::path::Path) -> Option<Tmpfs> {
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Tmpfs {
            dir: dir.to_path_buf(),
            mounted: true,
        })
    }

    fn umount(&mut self) -> bool {
        self.mounted = false;
        std::process::Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success())
    }

    fn unmount(mut self) {
        assert!(self.umount(), "the test's tmpfs could not be unmounted");
    }
}

impl Drop for Tmpfs {
    /// Unmounts after a failed assertion too.
    fn drop(&mut self) {
        if self.mounted {
            self.umount();
        }
    }
}

/// Runs this test binary again, only [`a_full_disk_while_spilling_is_a_clear_error`],
/// inside a new user and mount namespace in which a 1 MiB tmpfs is mounted over `dir`
/// (the mount ends with the namespace). Its outcome is this test's; when the namespace
/// or the mount is refused, the test says it was skipped.
fn rerun_in_a_namespace_with_a_tmpfs(dir: &std::path::Path) {
    let test = format!(
        "{}::a_full_disk_while_spilling_is_a_clear_error",
        module_path!().split_once("::").map_or("", |(_, m)| m)
    );
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" || exit 77; exec "$2" --exact "$3" --nocapture --test-threads=1"#;
    let output = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(dir)
        .arg(std::env::current_exe().unwrap())
        .arg(&test)
        .env(FULL_DISK_VAR, dir)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => return skipped(&format!("cannot run unshare: {e}")),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => assert!(text.contains(" 1 passed"), "the rerun ran no test:\n{text}"),
        Some(101) => panic!("the rerun inside a namespace failed:\n{text}"),
        _ => skipped(&format!(
            "mounting a tmpfs needs root or a user namespace ({}): {}",
            output.status,
            text.trim()
        )),
    }
}

/// Says past the test harness's capture that the full-disk test checked nothing.
fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED a_full_disk_while_spilling_is_a_clear_error: {why}"
    );
}

/// One key holds 80% of a join's probe side, so its reduce partition is far more than 20×
/// the median: spate's executor reads that partition in slices of map outputs, each
/// joined with the whole matching build partition, coalesces the many small partitions,
/// skips the partitions a join makes nothing of, and returns DataFusion's rows for every
/// join type, with adaptivity on and off. (The
/// build side is too big for a broadcast join under the 16 MiB pool.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_join_partitions_are_sliced_and_small_ones_coalesced() {
    let spill = tempfile::tempdir().unwrap();
    let build = |executor, adaptive: bool, memory| {
        partitioned_joins(executor, memory, spill.path())
            .adaptive(adaptive)
            .shuffle_partitions(16)
            .config("datafusion.execution.batch_size", "4096")
            .build()
            .unwrap()
    };
    // Eight map tasks (one per range), so a hot partition can be read in slices.
    let hot = (0..8)
        .map(|i| {
            format!(
                "select case when value % 10 < 8 then 7 else value % 400000 end as k, value as v \
                 from range({}, {})",
                i * 50_000,
                (i + 1) * 50_000
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    let dim = "select value as k, 'd' || value as name from range(400000)";
    let queries = [
        format!("select count(*), sum(v), max(name) from ({hot}) h join ({dim}) d on h.k = d.k"),
        format!(
            "select count(*), sum(v), count(name) from ({hot}) h left join ({dim}) d on h.k = d.k"
        ),
        format!("select count(*), count(v) from ({dim}) d left join ({hot}) h on h.k = d.k"),
        format!(
            "select count(*) from ({hot}) h where h.k in (select k from ({dim}) d where k % 2 = 1)"
        ),
        format!(
            "select count(*) from ({hot}) h \
             where not exists (select 1 from ({dim}) d where d.k = h.k + 1)"
        ),
        format!("select count(h.k), count(d.k) from ({hot}) h full join ({dim}) d on h.k = d.k"),
        format!(
            "select k, count(*), sum(v) from ({hot}) h group by k \
             order by count(*) desc, k limit 5"
        ),
        // Only two keys on one side: the partitions without them have no task.
        format!(
            "select count(*), sum(v), sum(w) from ({hot}) h \
             join (select value % 2 + 1 as k, value as w from range(300000)) c on h.k = c.k"
        ),
    ];
    let reference = build(ExecutorKind::DataFusion, true, ByteSize::mib(512));
    let mut sliced = 0;
    let mut coalesced = 0;
    let mut adapted = 0;
    let mut skipped = 0;
    for sql in &queries {
        let expected = rows(&reference.sql(sql).await.unwrap().collect().await.unwrap());
        for adaptive in [true, false] {
            let spate = build(ExecutorKind::Spate, adaptive, ByteSize::mib(16));
            let (batches, metrics) = spate
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            assert_eq!(rows(&batches), expected, "{sql}, adaptive {adaptive}");
            let reads: Vec<_> = metrics
                .stages
                .iter()
                .filter_map(|s| s.reads.clone())
                .collect();
            if !adaptive {
                assert!(reads.is_empty(), "{sql}: adaptivity is off");
                continue;
            }
            adapted += usize::from(!reads.is_empty());
            skipped += reads.iter().map(|r| r.empty_skipped).sum::<usize>();
            sliced += reads.iter().map(|r| r.skewed_partitions).sum::<usize>();
            coalesced += reads
                .iter()
                .filter(|r| r.tasks_after < r.partitions_before)
                .count();
            for r in &reads {
                if r.skewed_partitions > 0 {
                    assert!(r.skew_slices >= 2 * r.skewed_partitions, "{sql}: {r:?}");
                }
            }
        }
    }
    // Every query re-planned a stage's reads; the joins that may slice their hot side did.
    assert_eq!(adapted, queries.len(), "not every query adapted its reads");
    assert!(sliced >= 3, "only {sliced} skewed partitions were sliced");
    assert!(coalesced >= 1, "no stage coalesced its partitions");
    assert!(
        skipped >= 1,
        "no partition a join makes nothing of was skipped"
    );
}

/// Writes `rows` rows (`k` = row % 1000, `v` = first + row) as a Parquet file in row
/// groups of 5,000 rows, and the same rows as CSV beside it.
fn write_facts(dir: &std::path::Path, name: &str, first: i64, rows: i64) {
    use spate::arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use std::sync::Arc;
    let v: Vec<i64> = (first..first + rows).collect();
    let k: Vec<i64> = v.iter().map(|v| v % 1000).collect();
    let batch = RecordBatch::try_from_iter([
        ("k", Arc::new(Int64Array::from(k.clone())) as ArrayRef),
        ("v", Arc::new(Int64Array::from(v.clone())) as ArrayRef),
    ])
    .unwrap();
    std::fs::create_dir_all(dir.join("parquet")).unwrap();
    let file = std::fs::File::create(dir.join("parquet").join(format!("{name}.parquet"))).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(5_000))
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let csv: String = std::iter::once("k,v\n".to_string())
        .chain(k.iter().zip(&v).map(|(k, v)| format!("{k},{v}\n")))
        .collect();
    super::common::write_text(&dir.join("csv").join(format!("{name}.csv")), &csv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_twenty_times_bigger_is_split_among_idle_workers() {
    let data = tempfile::tempdir().unwrap();
    // One file of 200,000 rows and twenty of 10,000: with the files dealt to two
    // partitions by count, one task holds the big file and ten small ones.
    write_facts(data.path(), "f00", 0, 200_000);
    for i in 1..=20 {
        write_facts(
            data.path(),
            &format!("f{i:02}"),
            200_000 + i * 10_000,
            10_000,
        );
    }
    let ddl = format!(
        "CREATE EXTERNAL TABLE facts STORED AS PARQUET LOCATION '{}/parquet/';
         CREATE EXTERNAL TABLE facts_csv STORED AS CSV LOCATION '{}/csv/' OPTIONS ('format.has_header' 'true');
         CREATE VIEW dim AS SELECT value AS k, 'name' || value AS name FROM range(1000);",
        data.path().display(),
        data.path().display()
    );
    let queries = [
        "select k, count(*), sum(v) from facts group by k order by k",
        "select d.name, count(*), max(f.v) from facts f join dim d on f.k = d.k \
         where f.v % 3 = 0 group by d.name order by d.name",
        "select count(*), sum(v), min(v), max(v) from facts_csv",
        "select k, sum(v) from facts_csv where k < 50 group by k order by k",
        "select v from facts where k = 7 order by v desc limit 3",
    ];
    let reference = Session::builder()
        .threads(2)
        .executor(ExecutorKind::DataFusion)
        .build()
        .unwrap();
    reference.run_script(&ddl).await.unwrap();
    let mut expected = Vec::new();
    for sql in &queries {
        expected.push(rows(
            &reference.sql(sql).await.unwrap().collect().await.unwrap(),
        ));
    }
    // More workers than the plan's partitions: the idle ones split the running scans
    // from the start. Injected failures make split tasks and their sources retry.
    let mut splits = vec![0u64; queries.len()];
    for (partitions, failures) in [("2", "0"), ("3", "0"), ("2", "0.3")] {
        let spate = Session::builder()
            .threads(4)
            .config("datafusion.execution.target_partitions", partitions)
            .config("datafusion.optimizer.repartition_file_scans", "false")
            .config("spate.inject_task_failures", failures)
            .config("spate.inject_seed", "11")
            // Which attempts fail depends on the plan's shape; enough retries that no
            // task runs out of them.
            .config("spate.task_retries", "8")
            .build()
            .unwrap();
        spate.run_script(&ddl).await.unwrap();
        for (i, sql) in queries.iter().enumerate() {
            let (batches, metrics) = spate
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap();
            assert_eq!(
                rows(&batches),
                expected[i],
                "{sql}: {partitions} partitions, failures {failures}"
            );
            splits[i] += metrics.stages.iter().map(|s| s.scan_splits).sum::<u64>();
        }
    }
    // The aggregations and the join read their scan in units that idle workers took
    // over; the ordered top-3 keeps its scan whole (its stage keeps an order).
    for (i, sql) in queries.iter().enumerate().take(4) {
        assert!(splits[i] >= 1, "{sql}: no scan was split");
    }
    assert_eq!(splits[4], 0, "{}: an ordered stage was split", queries[4]);
    // EXPLAIN ANALYZE shows every stage as it ran, with the splits and the operators'
    // metrics.
    let spate = Session::builder()
        .threads(4)
        .config("datafusion.execution.target_partitions", "2")
        .config("datafusion.optimizer.repartition_file_scans", "false")
        .build()
        .unwrap();
    spate.run_script(&ddl).await.unwrap();
    let explained = rows(
        &spate
            .sql(&format!("EXPLAIN ANALYZE {}", queries[0]))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    )
    .join("\n");
    for expected in [
        "Stage 0 [",
        "tasks split off running scans",
        "UnitScanExec",
        "DataSourceExec",
        "ShuffleReaderExec",
        "metrics=[output_rows=",
    ] {
        assert!(
            explained.contains(expected),
            "no {expected:?} in:\n{explained}"
        );
    }
}
