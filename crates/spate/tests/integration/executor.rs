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
            spilled += metrics.stages.iter().map(|s| s.spilled_bytes).sum::<u64>();
        }
    }
    assert!(spilled > 0, "an 8 MiB pool must make some shuffle spill");
    let left: Vec<_> = walk(spill.path());
    assert!(left.is_empty(), "spill files left behind: {left:?}");
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
