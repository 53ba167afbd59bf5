//! Big writes to S3 go up as multipart uploads (object_store's writer switches above
//! 10 MiB), against moto; a write whose parts fail leaves no object.

use spate::Session;

use super::super::common::*;
use super::super::emulators::{Fault, FaultProxy, Moto, http_request};

/// Rows of the big table: 300,000 rows of an id and 96 hex characters (three md5s), some
/// 31 MB as CSV and 15 MB as Parquet, incompressible enough that both files pass 10 MiB.
const ROWS: u64 = 300_000;

/// Writes the big table as local Parquet files under `dir` and registers it as `source`.
async fn local_source(session: &Session, dir: &str) {
    session
        .run_script(&format!(
            "COPY (SELECT value AS id,
                          md5(value::varchar) || md5(value::varchar || 'x') ||
                          md5(value::varchar || 'y') AS hash
                   FROM range({ROWS}))
               TO '{dir}/source/' STORED AS PARQUET;
             CREATE EXTERNAL TABLE source STORED AS PARQUET LOCATION '{dir}/source/';"
        ))
        .await
        .unwrap();
}

/// The row count, the sum of ids and an md5 over every row in id order, of `table`.
async fn fingerprint(session: &Session, table: &str) -> Vec<String> {
    query(
        session,
        &format!(
            "select count(*), sum(id), md5(string_agg(id || ':' || hash, ',' order by id)) \
             from {table}"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_writes_go_up_in_parts_and_read_back() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    let session = session_with(moto.config());
    local_source(&session, dir.path().to_str().unwrap()).await;
    let expected = fingerprint(&session, "source").await;
    assert_eq!(expected[0].split('|').next(), Some("300000"));

    for (format, file) in [("CSV", "big.csv"), ("PARQUET", "big.parquet")] {
        let results = session
            .run_script(&format!(
                "COPY (SELECT * FROM source) TO 's3://lake/{file}' STORED AS {format}"
            ))
            .await
            .unwrap();
        let io = results[0]
            .metrics
            .store_io
            .iter()
            .find(|io| io.store == "s3://lake")
            .unwrap();
        eprintln!("{format}: {io}");
        assert!(io.bytes_written > 10 << 20, "the file is over 10 MiB: {io}");
        assert!(io.parts >= 2, "{format} went up in parts: {io}");
        assert_eq!(io.multipart_uploads, 1, "one file, one upload: {io}");
        assert_eq!(io.puts, io.parts, "no single PUT for the file: {io}");

        session
            .run_script(&format!(
                "CREATE EXTERNAL TABLE back_{format} STORED AS {format} LOCATION 's3://lake/{file}'"
            ))
            .await
            .unwrap();
        assert_eq!(
            fingerprint(&session, &format!("back_{format}")).await,
            expected,
            "{format} read back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_parts_fail_leaves_no_object() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    let proxy = FaultProxy::start(moto.port, Fault::PartUnavailable, usize::MAX);
    // One retry, then the write fails.
    let session = session_with(Moto::config_at(proxy.port));
    local_source(&session, dir.path().to_str().unwrap()).await;

    let msg = session
        .run_script("COPY (SELECT * FROM source) TO 's3://lake/failed/big.csv' STORED AS CSV")
        .await
        .unwrap_err()
        .to_string();
    // DataFusion's CSV sink reports a failed part only as "Error encountered while
    // finalizing writes!"; spate names the store, the object and the store's answer.
    eprintln!("parts refused: {msg}");
    assert!(msg.contains("writing to s3://lake failed"), "{msg}");
    assert!(msg.contains("failed/big.csv"), "{msg}");
    assert!(msg.contains("503"), "{msg}");
    assert!(!msg.contains("finalizing"), "{msg}");
    // The same through the DataFrame writer.
    let msg = session
        .sql("SELECT * FROM source")
        .await
        .unwrap()
        .write()
        .csv("s3://lake/failed/big2.csv")
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("writing to s3://lake failed"), "{msg}");
    assert!(msg.contains("failed/big2.csv"), "{msg}");
    assert!(proxy.faults() >= 2, "a part and its retry refused");

    // No object under the prefix, as moto itself lists it.
    let (status, listing) = http_request(
        moto.port,
        "GET",
        "/lake?list-type=2&prefix=failed/",
        &[],
        b"",
    );
    assert!(status.contains(" 200"), "{status}");
    assert!(!listing.contains("<Key>"), "nothing left: {listing}");
    // object_store's writer aborts an upload only when its completion fails; spate's
    // store aborts it when a part fails, so no upload is left open, parts and all.
    let (status, uploads) = http_request(moto.port, "GET", "/lake?uploads", &[], b"");
    assert!(status.contains(" 200"), "{status}");
    assert!(uploads.contains("ListMultipartUploadsResult"), "{uploads}");
    assert!(
        !uploads.contains("<Upload>"),
        "an upload left open: {uploads}"
    );
}
