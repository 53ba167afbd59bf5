//! Object stores on a cluster, against moto: the client's `--config` store settings and a
//! table's options reach the scheduler and the executors (which have neither), the same
//! rows come back as locally, `COPY` to `s3://` writes there, and the credentials never
//! show in an executor's log, even at `trace`.

use std::path::Path;

use super::super::common::*;
use super::super::emulators::Moto;
use super::harness::*;

/// The secret access key the client gives; moto takes any.
const SECRET: &str = "cluster-SECRET-never-logged-91c2";

/// Settings that point every `s3://` bucket at moto on `port`, with credentials when
/// `with_credentials`.
fn config(port: u16, with_credentials: bool) -> String {
    let credentials = if with_credentials {
        format!(
            "options = {{ aws_access_key_id = \"test\", aws_secret_access_key = \"{SECRET}\" }}"
        )
    } else {
        String::new()
    };
    format!(
        r#"
[[stores]]
prefix = "s3://"
endpoint = "http://127.0.0.1:{port}"
region = "us-east-1"
allow_http = true
retries = 1
connect_timeout_secs = 2
timeout_secs = 10
{credentials}
"#
    )
}

/// Runs `spate sql SQL ARGS...` in `dir`; its standard output, after checking it succeeded.
fn sql(dir: &Path, query: &str, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(spate(dir)
        .args(["sql", query, "--format", "csv"])
        .args(args));
    assert_eq!(code, 0, "{query} {args:?}: {stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "the secret leaked: {stdout}{stderr}"
    );
    stdout
}

/// `text` as lowercase hex, as the settings travel.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn object_stores_reach_the_executors_from_the_client() {
    let moto = Moto::start(&["lake"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stores.toml"), config(moto.port, true)).unwrap();
    std::fs::write(dir.path().join("endpoint.toml"), config(moto.port, false)).unwrap();
    let with_config = ["--config", "stores.toml"];
    sql(
        dir.path(),
        "COPY (SELECT value AS id, value % 3 AS part, 'item ' || value AS name FROM range(1000))
           TO 's3://lake/sales/' STORED AS PARQUET PARTITIONED BY (part)",
        &with_config,
    );

    // The executors have no store settings and no credentials of their own; at `trace`,
    // Ballista would log every setting a task carries.
    let mut cluster = TestCluster::with(
        dir.path(),
        &ClusterSpec {
            executors: 2,
            threads: "1",
            memory_limit: "512MiB",
            scheduler_args: &[],
            executor_env: &[(
                "RUST_LOG",
                "warn,ballista_core=trace,ballista_executor=trace",
            )],
        },
    );
    drain(cluster.scheduler.0.stderr.take());
    let mut logs: Vec<Lines> = cluster
        .executors
        .iter_mut()
        .map(|e| e.stderr_lines())
        .collect();
    let on_cluster = ["--cluster", cluster.url.as_str()];

    // A scan of a Hive-partitioned Parquet directory, grouped and joined.
    let query = "select part, count(*) as n, sum(id) as s, max(name) as top \
                 from sales group by part order by part";
    let table = ["--table", "sales=s3://lake/sales/"];
    let local = sql(dir.path(), query, &[&with_config[..], &table[..]].concat());
    let remote = sql(
        dir.path(),
        query,
        &[&with_config[..], &table[..], &on_cluster[..]].concat(),
    );
    assert_eq!(local.lines().count(), 4, "{local}");
    assert_eq!(remote, local);

    // COPY to s3:// on the cluster writes the file there; it reads back locally.
    sql(
        dir.path(),
        "COPY (SELECT id, name FROM sales WHERE part = 2) TO 's3://lake/out/two.parquet'",
        &[&with_config[..], &table[..], &on_cluster[..]].concat(),
    );
    let copied = sql(
        dir.path(),
        "select count(*) as n, sum(id) as s from two",
        &[
            &with_config[..],
            &["--table", "two=s3://lake/out/two.parquet"][..],
        ]
        .concat(),
    );
    let expected = sql(
        dir.path(),
        "select count(*) as n, sum(id) as s from sales where part = 2",
        &[&with_config[..], &table[..]].concat(),
    );
    assert_eq!(copied, expected);
    assert!(copied.starts_with("n,s\n333,"), "{copied}");

    // Credentials in a table's options (the config file gives only the endpoint).
    let script = format!(
        "create external table sales stored as parquet location 's3://lake/sales/' \
         options ('aws.access_key_id' 'test', 'aws.secret_access_key' '{SECRET}'); {query}"
    );
    let endpoint_only = ["--config", "endpoint.toml"];
    let local = sql(dir.path(), &script, &endpoint_only);
    let remote = sql(
        dir.path(),
        &script,
        &[&endpoint_only[..], &on_cluster[..]].concat(),
    );
    assert_eq!(local.lines().count(), 4, "{local}");
    assert_eq!(remote, local);

    for executor in &cluster.executors {
        signal(executor.id(), "KILL");
    }
    for log in &mut logs {
        let text = log.rest();
        assert!(
            text.contains("Received task"),
            "the executors ran tasks: {text}"
        );
        assert!(
            !text.contains(SECRET)
                && !text.contains(&hex(SECRET))
                && !text.contains("spate_stores"),
            "an executor logged the store settings"
        );
    }
}
