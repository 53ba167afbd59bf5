//! Fault tolerance of spate's executor: with task attempts failing and shuffle blocks
//! corrupted on purpose, queries return the same rows as without; errors no retry can
//! fix fail at once.

use spate::{ByteSize, ExecutorKind, FaultInjection, Fraction, Session};

use super::common::rows;
use super::slt::{Setup, run_file, slt_files};

/// Retries under injected faults. At 20% of attempts failing, a task fails all 4
/// attempts the default 3 retries give once in 625 (`0.2^4`), and these suites run
/// thousands of tasks; with 6 retries, once in 78,125 (`0.2^7`). The seeds are fixed, so
/// a run passes or fails the same way every time.
pub const RETRIES: usize = 6;

/// The setting: 20% of task attempts fail, 5% of shuffle blocks are corrupted.
fn faults(seed: u64) -> FaultInjection {
    FaultInjection {
        task_failures: Fraction::new(0.2).unwrap(),
        shuffle_corruption: Fraction::new(0.05).unwrap(),
        seed,
    }
}

const QUERIES: [&str; 4] = [
    "select k, count(*), sum(v) from (select value % 997 as k, value as v from range(100000)) group by k order by k",
    "select a.k, count(*) from (select value % 5000 as k from range(60000)) a \
     join (select value as k from range(5000)) b on a.k = b.k group by a.k order by a.k",
    "select value, repeat('x', 20) || value as pad from range(50000) order by pad desc limit 100",
    "select count(distinct value % 12345) from range(100000)",
];

fn session(memory: ByteSize, partitions: usize, faults: Option<FaultInjection>) -> Session {
    let mut builder = Session::builder()
        .threads(2)
        .memory_limit(memory)
        .shuffle_partitions(partitions)
        .config("datafusion.execution.batch_size", "1024");
    if let Some(faults) = faults {
        builder = builder.inject_faults(faults).task_retries(RETRIES);
    }
    builder.build().unwrap()
}

/// Same rows with and without faults, in memory and with shuffles spilling (so corrupt
/// spilled segments are caught by their checksums); the faults really happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_return_the_same_rows_with_failing_tasks_and_corrupt_shuffle_blocks() {
    let (mut retried, mut recomputed) = (0, 0);
    for (memory, partitions) in [(ByteSize::mib(512), 7), (ByteSize::mib(8), 3)] {
        let clean = session(memory, partitions, None);
        let faulty = session(memory, partitions, Some(faults(11)));
        for sql in QUERIES {
            let expected = rows(&clean.sql(sql).await.unwrap().collect().await.unwrap());
            let (batches, metrics) = faulty
                .sql(sql)
                .await
                .unwrap()
                .collect_with_metrics()
                .await
                .unwrap_or_else(|e| panic!("{sql} with {memory}: {e}"));
            assert_eq!(rows(&batches), expected, "{sql} with {memory}");
            let stages = spate::QueryMetrics {
                stages: metrics.stages,
            };
            retried += stages.failed_attempts();
            recomputed += stages.recomputed_tasks();
        }
    }
    assert!(retried > 0, "some task attempts failed and were retried");
    assert!(recomputed > 0, "some lost map outputs were recomputed");
}

/// The sqllogictest suites (the differential suite) pass with faults injected, with
/// every shuffle in memory and with shuffles spilling under 2 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_suites_pass_with_faults_injected() {
    let setups = [
        Setup {
            name: "spate, 7 shuffle partitions, faults",
            executor: ExecutorKind::Spate,
            shuffle_partitions: Some(7),
            memory: ByteSize::mib(256),
            adaptive: true,
            faults: Some(faults(3)),
        },
        Setup {
            name: "spate, 2 shuffle partitions, 2 MiB memory, faults",
            executor: ExecutorKind::Spate,
            shuffle_partitions: Some(2),
            memory: ByteSize::mib(2),
            adaptive: true,
            faults: Some(faults(5)),
        },
    ];
    let mut failures = Vec::new();
    for setup in setups {
        for file in &slt_files() {
            if let Err(err) = run_file(file, setup).await {
                failures.push(err);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Division by zero is deterministic: the query fails on the first attempt, with the
/// error itself; a failure a retry could fix (here every attempt is made to fail) is
/// retried 3 times by default, and not at all with 0 retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deterministic_error_fails_after_one_attempt_and_others_after_the_retries() {
    let always = |seed| FaultInjection {
        task_failures: Fraction::new(1.0).unwrap(),
        shuffle_corruption: Fraction::new(0.0).unwrap(),
        seed,
    };
    // Had it been retried, it would say "failed 4 times (retries: 3)".
    let sql =
        "select k, sum(1 / (k - 900)) from (select value % 997 as k from range(20000)) group by k";
    let err = error_of(&session(ByteSize::mib(256), 3, None), sql).await;
    assert!(err.contains("Divide by zero"), "{err}");
    assert!(!err.contains("times"), "not retried: {err}");

    let sql = "select count(*) from range(1000)";
    let default_retries = Session::builder()
        .threads(2)
        .inject_faults(always(1))
        .build()
        .unwrap();
    let err = error_of(&default_retries, sql).await;
    assert!(err.contains("failed 4 times (retries: 3)"), "{err}");
    assert!(err.contains("injected failure"), "{err}");

    let no_retries = Session::builder()
        .threads(2)
        .task_retries(0)
        .inject_faults(always(1))
        .build()
        .unwrap();
    let err = error_of(&no_retries, sql).await;
    assert!(err.contains("failed 1 times (retries: 0)"), "{err}");
}

async fn error_of(session: &Session, sql: &str) -> String {
    let result = session.sql(sql).await.unwrap().collect().await;
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

/// Joins planned as `CollectLeft` (a small build side, collected once for all
/// partitions) whose join type returns build-side rows: the last probe partition to
/// finish emits the unmatched ones, so the partitions of their stage are coupled and a
/// failed task runs its whole stage again. Every query returns DataFusion's rows with
/// 30% of task attempts failing, under several seeds, whether DataFusion planned the
/// join so (joins not repartitioned) or the executor switched a partitioned join to a
/// broadcast join; and stages really ran again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupled_join_stages_run_again_whole_and_return_datafusions_rows() {
    let small = "select value as k, 'd' || value as name from range(300) where value % 3 = 0";
    let big = "select value % 5000 as k, value as v from range(60000)";
    let queries = [
        // Left join, its stage feeding an aggregation (a map stage).
        format!(
            "select s.k % 7 as d, count(*), count(b.v), sum(b.v) from ({small}) s \
             left join ({big}) b on s.k = b.k and b.v % 4 = 0 group by s.k % 7 order by d"
        ),
        // Left join, its stage the result stage.
        format!("select s.k, s.name, b.v from ({small}) s left join ({big}) b on s.k = b.k + 200"),
        // Semi and anti joins.
        format!(
            "select s.k from ({small}) s where s.k in (select k from ({big}) b where v % 2 = 0)"
        ),
        format!(
            "select s.k from ({small}) s where not exists (select 1 from ({big}) b where b.k = s.k + 4950)"
        ),
        // Full join.
        format!(
            "select count(s.k), count(b.k), sum(v) from ({small}) s full join ({big}) b on s.k = b.k"
        ),
    ];
    let reference = Session::builder()
        .threads(2)
        .executor(ExecutorKind::DataFusion)
        .build()
        .unwrap();
    let mut reruns = 0;
    for sql in &queries {
        let mut expected = rows(&reference.sql(sql).await.unwrap().collect().await.unwrap());
        expected.sort();
        for (seed, partitions) in [(1, 2), (2, 3), (3, 3), (4, 2)] {
            for planned_by_datafusion in [false, true] {
                let faults = FaultInjection {
                    task_failures: Fraction::new(0.3).unwrap(),
                    shuffle_corruption: Fraction::new(0.05).unwrap(),
                    seed,
                };
                let spate = Session::builder()
                    .threads(2)
                    .shuffle_partitions(partitions)
                    .config("datafusion.execution.batch_size", "1024")
                    .config(
                        "datafusion.optimizer.repartition_joins",
                        if planned_by_datafusion {
                            "false"
                        } else {
                            "true"
                        },
                    )
                    .adaptive(!planned_by_datafusion)
                    .inject_faults(faults)
                    .task_retries(COUPLED_RETRIES)
                    .build()
                    .unwrap();
                let context = format!(
                    "{sql}, seed {seed}, {partitions} partitions, planned by DataFusion: {planned_by_datafusion}"
                );
                let (batches, metrics) = spate
                    .sql(sql)
                    .await
                    .unwrap()
                    .collect_with_metrics()
                    .await
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                let mut got = rows(&batches);
                got.sort();
                assert_eq!(got, expected, "{context}");
                let stages = spate::QueryMetrics {
                    stages: metrics.stages,
                };
                reruns += stages.stage_reruns();
            }
        }
    }
    assert!(reruns > 0, "some coupled stages ran again");
}

/// At 30% of attempts failing, a run of a coupled stage of `n` tasks succeeds with
/// probability `0.7^n` only (every task must succeed in the same run): with 3 tasks,
/// 34%, and 13 runs all fail once in 240 (with 4 tasks, once in 35: too often).
const COUPLED_RETRIES: usize = 12;
