//! spate's settings as one DataFusion extension: set by key through the builder, listed
//! by `SHOW ALL` and `information_schema.df_settings`, and changed by `SET` for the
//! statements after it.

use spate::Session;

use super::common::rows;

/// A grouping whose reduce stage runs one task per shuffle partition.
const GROUPED: &str =
    "select value % 100 as k, count(*) as n from range(10000) group by value % 100";

/// Issue 17: `spate.adaptive`, `spate.shuffle_partitions` and `spate.spill_dir` fell
/// through to DataFusion and failed; they are spate's settings now.
#[tokio::test]
async fn spate_keys_set_through_the_builder_take_effect() {
    let spill = tempfile::tempdir().unwrap();
    let session = Session::builder()
        .threads(2)
        .config("spate.adaptive", "false")
        .config("spate.shuffle_partitions", "5")
        .config("spate.spill_dir", spill.path().to_str().unwrap())
        .config("spate.memory_limit", "96MiB")
        .build()
        .unwrap();
    assert!(!session.config().adaptive);
    assert_eq!(session.options().spill_dir.as_deref(), Some(spill.path()));
    assert_eq!(session.options().memory_limit, spate::ByteSize::mib(96));
    let (_, metrics) = session
        .sql(GROUPED)
        .await
        .unwrap()
        .collect_with_metrics()
        .await
        .unwrap();
    let tasks: Vec<usize> = metrics.stages.iter().map(|s| s.tasks).collect();
    assert!(tasks.contains(&5), "a stage of 5 tasks: {tasks:?}");
    let err = Session::builder()
        .config("spate.shufle_partitions", "5")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("spate.shufle_partitions"), "{err}");
}

/// `SET spate.shuffle_partitions = 8` changes the next query's plan: the reduce stage of
/// a grouping runs 8 tasks, and EXPLAIN shows 8 partitions, where it ran 3 before.
#[tokio::test]
async fn set_changes_the_next_statements_plan() {
    let session = Session::builder()
        .threads(2)
        .adaptive(false)
        .shuffle_partitions(3)
        .build()
        .unwrap();
    let tasks = |metrics: &spate::ExecutionMetrics| -> Vec<usize> {
        metrics.stages.iter().map(|s| s.tasks).collect()
    };
    let before = session.run_script(GROUPED).await.unwrap();
    assert!(
        tasks(&before[0].metrics).contains(&3),
        "{:?}",
        tasks(&before[0].metrics)
    );
    let explain_before = rows(
        &session
            .run_script(&format!("explain {GROUPED}"))
            .await
            .unwrap()[0]
            .batches,
    )
    .join("\n");

    let after = session
        .run_script(&format!(
            "set spate.shuffle_partitions = 8;\n{GROUPED};\nexplain {GROUPED}"
        ))
        .await
        .unwrap();
    let ran = tasks(&after[1].metrics);
    assert!(ran.contains(&8) && !ran.contains(&3), "{ran:?}");
    let explained = rows(&after[2].batches).join("\n");
    assert_ne!(
        explained, explain_before,
        "EXPLAIN shows the new partitions"
    );
    assert!(explained.contains('8'), "{explained}");
    assert_eq!(session.config().shuffle_partitions, Some(8));
}

/// The settings are DataFusion settings: `SHOW ALL` and `information_schema.df_settings`
/// list them with the session's values (the machine's defaults resolved).
#[tokio::test]
async fn settings_are_listed_with_their_values() {
    let session = Session::builder()
        .threads(3)
        .memory_limit(spate::ByteSize::mib(200))
        .build()
        .unwrap();
    let listed = session
        .run_script(
            "set spate.task_retries = 5;\n\
             select name, value from information_schema.df_settings \
             where name like 'spate.%' order by name",
        )
        .await
        .unwrap();
    let settings = rows(&listed[1].batches);
    for expected in [
        "spate.memory_limit|200.0 MiB",
        "spate.threads|3",
        "spate.task_retries|5",
        "spate.adaptive|true",
        "spate.executor|spate",
    ] {
        assert!(
            settings.iter().any(|r| r == expected),
            "{expected} in {settings:?}"
        );
    }
    let all = session.run_script("show all").await.unwrap();
    assert!(
        rows(&all[0].batches)
            .iter()
            .any(|r| r.starts_with("spate.shuffle_partitions|")),
        "SHOW ALL lists spate's settings"
    );
    let err = session
        .run_script("set spate.memory_limit = 'lots'")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("512MiB"), "{err}");
}
