//! Object-store settings end to end, against moto: `--config PATH` and `spate.toml` in the
//! working directory point `s3://lake/` at the server, and no secret of the file ever
//! reaches the output.

use std::path::Path;

use super::common::*;
use super::emulators::Moto;

/// The secret access key of the config file; moto takes any.
const SECRET: &str = "cli-SECRET-never-printed-7f3a";

/// Settings that point `s3://lake/` and `s3://missing/` at moto on `port`.
fn config(port: u16) -> String {
    let store = |prefix: &str| {
        format!(
            r#"
[[stores]]
prefix = "{prefix}"
endpoint = "http://127.0.0.1:{port}"
region = "us-east-1"
allow_http = true
retries = 1
connect_timeout_secs = 2
timeout_secs = 5
max_concurrent_requests = 4
options = {{ aws_access_key_id = "test", aws_secret_access_key = "{SECRET}" }}
"#
        )
    };
    store("s3://lake/") + &store("s3://missing/")
}

/// Runs `spate sql SQL ARGS...` in `dir`, checking that the secret is nowhere in its output.
fn sql(dir: &Path, query: &str, args: &[&str]) -> (i32, String, String) {
    let result = run(spate(dir).arg("sql").arg(query).args(args));
    assert!(
        !result.1.contains(SECRET) && !result.2.contains(SECRET),
        "the secret leaked: {result:?}"
    );
    result
}

#[test]
fn config_file_points_a_prefix_at_the_store() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stores.toml"), config(moto.port)).unwrap();
    let with_config = ["--config", "stores.toml"];

    // Seed the bucket through the same settings, then read it back as tables.
    let seeded = sql(
        dir.path(),
        "COPY (SELECT value AS id, value % 3 AS part FROM range(100))
           TO 's3://lake/sales/' STORED AS PARQUET PARTITIONED BY (part)",
        &with_config,
    );
    assert_eq!(seeded.0, 0, "{}", seeded.2);
    let counted = "select count(*) as n, sum(id) as s from sales where part = 1";
    let read = sql(
        dir.path(),
        counted,
        &[
            "--data",
            "s3://lake/",
            "--config",
            "stores.toml",
            "--metrics",
        ],
    );
    assert_eq!(read.0, 0, "{}", read.2);
    assert_eq!(read.1, "n,s\n33,1617\n");
    assert!(
        read.2.contains("s3://lake: ") && read.2.contains("GETs"),
        "--metrics shows the store's requests: {}",
        read.2
    );

    // The same file as spate.toml in the working directory, no flag.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("spate.toml"), config(moto.port)).unwrap();
    let read = sql(
        other.path(),
        counted,
        &["--table", "sales=s3://lake/sales/"],
    );
    assert_eq!(read.0, 0, "{}", read.2);
    assert_eq!(read.1, "n,s\n33,1617\n");
}

#[test]
fn secrets_of_the_config_never_show_in_errors() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spate.toml"), config(moto.port)).unwrap();

    // A bucket moto does not have: the store's error, not the settings.
    let missing = sql(dir.path(), "select 1", &["--data", "s3://missing/"]);
    assert_error(&missing, 1, "s3://missing/");
    assert!(missing.2.contains("NoSuchBucket"), "{}", missing.2);

    // A bad line in the file that holds the secret: where, not what.
    let bad = config(moto.port).replace(
        "aws_access_key_id = \"test\"",
        "aws_access_key_id = \"test\", aws_region = 3",
    );
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let result = sql(dir.path(), "select 1", &["--config", "bad.toml"]);
    assert_error(&result, 2, "bad.toml: line 11, ");
}

/// Issue 17: an S3-compatible server from the standard environment alone
/// (`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, as MinIO, LocalStack and moto users set them),
/// with no `spate.toml`: `spate run q.sql --data s3://lake/warehouse/` reads the tables.
/// Until the settings merged key by key, the store's client options replaced the
/// environment's and lost `allow_http` ("URL scheme is not allowed").
#[test]
fn the_environment_alone_reaches_an_http_endpoint() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    let with_env = |cmd: &mut assert_cmd::Command| {
        cmd.env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", moto.port),
        )
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1");
    };
    let mut seed = spate(dir.path());
    seed.args([
        "sql",
        "COPY (SELECT value AS id FROM range(10)) TO 's3://lake/warehouse/items/' STORED AS PARQUET",
    ]);
    with_env(&mut seed);
    let seeded = run(&mut seed);
    assert_eq!(seeded.0, 0, "{}", seeded.2);

    std::fs::write(
        dir.path().join("q.sql"),
        "select count(*) as n, sum(id) as s from items;\n",
    )
    .unwrap();
    let mut read = spate(dir.path());
    read.args(["run", "q.sql", "--data", "s3://lake/warehouse/"]);
    with_env(&mut read);
    let result = run(&mut read);
    assert_eq!(result.0, 0, "{}", result.2);
    assert_eq!(result.1, "n,s\n10,45\n");
    assert!(
        !result.2.contains(SECRET),
        "the secret leaked: {}",
        result.2
    );
}
