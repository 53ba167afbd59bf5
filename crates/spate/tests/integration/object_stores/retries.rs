//! Retries and timeouts against moto behind a [`FaultProxy`]: transient 503s succeed
//! through retries, persistent ones and a server that never answers fail with a clear
//! message within the configured timeouts.

use std::time::{Duration, Instant};

use spate_connectors::object_stores::StoreConfig;

use super::super::common::*;
use super::super::emulators::{ClosedPort, Fault, FaultProxy, Moto};

/// `s3://` at `port` with these retries and a short request timeout.
fn config(port: u16, retries: usize) -> StoreConfig {
    StoreConfig::parse(&format!(
        r#"
        [[stores]]
        prefix = "s3://"
        endpoint = "http://127.0.0.1:{port}"
        region = "us-east-1"
        retries = {retries}
        connect_timeout_secs = 2
        timeout_secs = 2
        options = {{ aws_access_key_id = "test", aws_secret_access_key = "test" }}
        "#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_503s_succeed_through_retries() {
    let moto = Moto::start(&["lake"]);
    session_with(moto.config())
        .run_script(
            "COPY (SELECT value AS id FROM range(100)) TO 's3://lake/nums/' STORED AS PARQUET",
        )
        .await
        .unwrap();

    let flaky = FaultProxy::start(moto.port, Fault::ServiceUnavailable, 2);
    let session = session_with(config(flaky.port, 3));
    session
        .run_script("CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION 's3://lake/nums/'")
        .await
        .unwrap();
    assert_eq!(query(&session, "select sum(id) from nums").await, ["4950"]);
    assert_eq!(flaky.faults(), 2, "the proxy failed the first two requests");

    // Failing every time: the error says so, after the configured retries.
    let down = FaultProxy::start(moto.port, Fault::ServiceUnavailable, usize::MAX);
    let msg = query_error(
        &session_with(config(down.port, 2)),
        "create external table t stored as parquet location 's3://lake/nums/'",
    )
    .await;
    eprintln!("always 503: {msg}");
    assert!(msg.contains("s3://lake/nums/: "), "{msg}");
    assert!(msg.contains("503") && msg.contains("SlowDown"), "{msg}");
    assert_eq!(down.faults(), 3, "one request and two retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    // Every connection gets the fault, so nothing is ever sent to the target.
    let nowhere = ClosedPort::new();
    let hung = FaultProxy::start(nowhere.port, Fault::Silent, usize::MAX);
    let started = Instant::now();
    let msg = query_error(
        &session_with(config(hung.port, 1)),
        "create external table t stored as parquet location 's3://lake/x/'",
    )
    .await;
    eprintln!("never answers: {msg}");
    // The duration is what this test checks: 2 s per attempt, two attempts. Without the
    // configured timeout object_store would wait 30 s per attempt.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        msg.contains("s3://lake/x/: ") && msg.contains("timed out"),
        "{msg}"
    );
}
