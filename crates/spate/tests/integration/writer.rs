//! The DataFrame writer: formats, partitioning and save modes.

use spate::{SaveMode, SpateError};

use super::common::*;

async fn numbers(session: &spate::Session, n: i64) -> spate::DataFrame {
    session
        .sql(&format!(
            "select value as n, value % 2 as parity from range({n})"
        ))
        .await
        .unwrap()
}

async fn count_at(path: &std::path::Path) -> Vec<String> {
    let session = session();
    session.register("t", path).await.unwrap();
    query(&session, "select count(*) from t").await
}

#[tokio::test]
async fn save_modes() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("nums");
    let session = session();
    assert_eq!(
        numbers(&session, 10)
            .await
            .write()
            .parquet(&target)
            .await
            .unwrap(),
        10
    );
    let err = numbers(&session, 3)
        .await
        .write()
        .parquet(&target)
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::AlreadyExists { .. }), "{err:?}");
    let ignored = numbers(&session, 3)
        .await
        .write()
        .mode(SaveMode::Ignore)
        .parquet(&target)
        .await;
    assert_eq!(ignored.unwrap(), 0);
    assert_eq!(count_at(&target).await, ["10"]);
    numbers(&session, 5)
        .await
        .write()
        .mode(SaveMode::Append)
        .parquet(&target)
        .await
        .unwrap();
    assert_eq!(count_at(&target).await, ["15"]);
    numbers(&session, 4)
        .await
        .write()
        .mode(SaveMode::Overwrite)
        .parquet(&target)
        .await
        .unwrap();
    assert_eq!(count_at(&target).await, ["4"]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["nums"], "no staging or old copies remain");
}

#[tokio::test]
async fn partitioned_csv_and_single_json_file() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();
    let csv = dir.path().join("by_parity");
    numbers(&session, 6)
        .await
        .write()
        .partition_by(&["parity"])
        .csv(&csv)
        .await
        .unwrap();
    assert!(csv.join("parity=0").is_dir() && csv.join("parity=1").is_dir());
    let reread = super::common::session();
    reread.register("p", &csv).await.unwrap();
    assert_eq!(
        query(
            &reread,
            "select parity, count(*) from p group by 1 order by 1"
        )
        .await,
        ["0|3", "1|3"]
    );
    let json = dir.path().join("nums.json");
    numbers(&session, 2)
        .await
        .write()
        .json(&json)
        .await
        .unwrap();
    assert!(json.is_file());
    assert_eq!(std::fs::read_to_string(&json).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let session = session();
    // A missing parent directory is named and nothing is created.
    let err = numbers(&session, 2)
        .await
        .write()
        .parquet(dir.path().join("missing/nums"))
        .await
        .unwrap_err();
    assert!(matches!(err, SpateError::PathNotFound { .. }), "{err:?}");
    // A query failing mid-write leaves neither target nor staging files.
    let target = dir.path().join("bad");
    let err = session
        .sql("select cast(case when value = 5000 then 'x' else '1' end as int) as v from range(10000)")
        .await
        .unwrap()
        .write()
        .parquet(&target)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Cannot cast") || err.to_string().contains("cast"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
