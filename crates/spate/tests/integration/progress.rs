//! Live progress while a real multi-stage query runs under spate's executor: a thread
//! polls `Progress::snapshot` and sees stages with their tasks move; once the statement
//! ended, every stage is done and matches the statement's metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use spate::{ProgressSnapshot, Session, StagePhase};

use super::common::write_parquet;

/// `files` Parquet files of `rows` rows each: `k` (997 groups) and `v`.
fn write_table(dir: &std::path::Path, files: usize, rows: i64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    for f in 0..files {
        let start = f as i64 * rows;
        let k = Int64Array::from_iter_values((start..start + rows).map(|i| i % 997));
        let v = Int64Array::from_iter_values(start..start + rows);
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(k), Arc::new(v)]).unwrap();
        write_parquet(&dir.join(format!("part-{f}.parquet")), &batch);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_and_tasks_are_seen_while_a_grouping_runs_and_end_done() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t");
    std::fs::create_dir(&table).unwrap();
    write_table(&table, 6, 200_000);
    let session = Session::builder()
        .threads(2)
        .shuffle_partitions(4)
        .adaptive(false)
        .build()
        .unwrap();
    session.register("t", &table).await.unwrap();

    let progress = session.progress();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = std::thread::spawn({
        let (progress, stop) = (Arc::clone(&progress), Arc::clone(&stop));
        move || {
            let mut seen: Vec<ProgressSnapshot> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(snapshot) = progress.snapshot() {
                    seen.push(snapshot);
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            seen
        }
    });
    let (batches, metrics) = session
        .sql("select k, count(*), sum(v) from t group by k order by k")
        .await
        .unwrap()
        .collect_with_metrics()
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let seen = poller.join().unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 997);
    assert!(progress.snapshot().is_none(), "nothing runs any more");

    // While it ran: stages were listed, tasks ran, counts stayed consistent and only grew.
    let listed: Vec<&ProgressSnapshot> = seen.iter().filter(|s| !s.stages.is_empty()).collect();
    assert!(
        !listed.is_empty(),
        "{} snapshots, none with stages",
        seen.len()
    );
    let mut most_done: BTreeMap<usize, usize> = BTreeMap::new();
    for snapshot in &listed {
        for stage in &snapshot.stages {
            assert!(
                stage.done + stage.running <= stage.tasks,
                "stage {stage:?} counts more tasks than it has"
            );
            let before = most_done.entry(stage.stage).or_default();
            assert!(stage.done >= *before, "stage {} went back", stage.stage);
            *before = stage.done;
        }
    }
    assert!(
        listed
            .iter()
            .flat_map(|s| &s.stages)
            .any(|s| s.phase == StagePhase::Running && s.running > 0),
        "no running task seen"
    );
    assert!(
        listed.iter().any(|s| s.stages.iter().any(|st| st.done > 0)
            && s.stages.iter().any(|st| st.done < st.tasks)),
        "never saw a query part-way (some tasks done, some not)"
    );

    // Afterwards: every stage is done, with the tasks and rows the metrics report.
    let last = progress.stages();
    assert!(last.len() >= 2, "a grouping runs in stages: {last:?}");
    for stage in &last {
        assert_eq!(stage.phase, StagePhase::Done, "{stage:?}");
        assert_eq!((stage.done, stage.running), (stage.tasks, 0), "{stage:?}");
    }
    let mut reported: Vec<(usize, usize, u64)> = metrics
        .stages
        .iter()
        .map(|s| (s.stage, s.tasks, s.output_rows))
        .collect();
    reported.sort_unstable();
    let ended: Vec<(usize, usize, u64)> = last.iter().map(|s| (s.stage, s.tasks, s.rows)).collect();
    assert_eq!(ended, reported);
    assert!(
        ended.iter().any(|(_, tasks, _)| *tasks == 4),
        "the reduce stage runs the 4 shuffle partitions: {ended:?}"
    );
}
