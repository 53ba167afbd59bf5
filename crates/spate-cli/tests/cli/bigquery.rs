//! BigQuery from the command line, against bqemulator: the Cymbal pipeline with its
//! warehouse in BigQuery (a day run twice replaces that day only), `--table` and
//! `--metrics`, and the bad inputs (one line, exit 1, the table unchanged).

use std::path::Path;

use serde_json::json;

use super::common::*;
use super::emulators::BqEmulator;

fn with_config(dir: &Path, emulator: &BqEmulator) -> String {
    let path = dir.join("spate.toml");
    std::fs::write(&path, emulator.toml()).unwrap();
    path.to_string_lossy().into_owned()
}

fn pipeline(dir: &Path, config: &str, day: &str) {
    let sql = repo().join("sql/cymbal/daily.sql");
    let (code, _, stderr) = run(spate(dir).args([
        "run",
        sql.to_str().unwrap(),
        "--data",
        cymbal().to_str().unwrap(),
        "--param",
        &format!("run_date={day}"),
        "--param",
        "warehouse=bigquery://proj/cymbal",
        "--config",
        config,
        "--quiet",
    ]));
    assert_eq!(code, 0, "{stderr}");
}

fn per_day(emulator: &BqEmulator, table: &str, column: &str) -> serde_json::Value {
    emulator.query(&format!(
        "SELECT CAST({column} AS STRING), COUNT(*) FROM `proj.cymbal.{table}` GROUP BY 1 ORDER BY 1"
    ))
}

#[test]
fn the_pipeline_writes_its_warehouse_to_bigquery_and_a_rerun_replaces_its_day() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("cymbal");
    let dir = tempfile::tempdir().unwrap();
    let config = with_config(dir.path(), &emulator);
    pipeline(dir.path(), &config, "2026-11-22");
    pipeline(dir.path(), &config, "2026-11-23");
    let lines = per_day(&emulator, "invoice_lines", "invoice_date");
    let sales = per_day(&emulator, "daily_sales", "sales_date");
    pipeline(dir.path(), &config, "2026-11-22");
    assert_eq!(per_day(&emulator, "invoice_lines", "invoice_date"), lines);
    assert_eq!(per_day(&emulator, "daily_sales", "sales_date"), sales);
    // One invoice line per transaction of the day, as the local data has.
    let (_, expected, _) = run(spate(dir.path()).args([
        "sql",
        "select count(*) from transactions where day = DATE '2026-11-22'",
        "--data",
        cymbal().to_str().unwrap(),
    ]));
    assert_eq!(
        lines[0][1].as_str().unwrap(),
        expected.lines().nth(1).unwrap()
    );
    // Read back through the Storage Read API, with the CLI's metrics.
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        "select invoice_date, count(*) = count(distinct customer_id) from invoices group by 1 order by 1",
        "--table",
        "invoices=bigquery://proj/cymbal/invoices",
        "--config",
        &config,
        "--metrics",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with("2026-11-22,true\n2026-11-23,true\n"),
        "{stdout}"
    );
    assert!(
        stderr.contains("bigquery proj.cymbal.invoices: 1 read sessions, 1 streams, "),
        "{stderr}"
    );
}

#[test]
fn bad_inputs_fail_with_one_line_and_leave_the_table_as_it_was() {
    let emulator = BqEmulator::start();
    emulator.create_dataset("shop");
    emulator.create_table(
        "shop",
        "t",
        json!([{"name": "id", "type": "INT64"}, {"name": "amount", "type": "NUMERIC"}]),
    );
    emulator.query("INSERT INTO `proj.shop.t` (id) VALUES (1)");
    let dir = tempfile::tempdir().unwrap();
    let config = with_config(dir.path(), &emulator);
    let sql = |text: &str| run(spate(dir.path()).args(["sql", text, "--config", &config]));
    let create = "create external table t stored as bigquery location 'bigquery://proj/shop/t'; ";
    assert_error(
        &sql("create external table x stored as bigquery location 'bigquery://proj/shop/nope'"),
        1,
        "BigQuery table proj.shop.nope not found",
    );
    let missing = run(spate(dir.path()).args([
        "sql",
        "select 1",
        "--table",
        "x=bigquery://proj/nowhere/t",
        "--config",
        &config,
    ]));
    assert_error(&missing, 1, "BigQuery dataset proj.nowhere not found");
    let too_wide = "cast('123456789012345678901234567890123' as decimal(38, 0))";
    assert_error(
        &sql(&format!(
            "copy (select 2 as id, {too_wide} as amount) to 'bigquery://proj/shop/t'"
        )),
        1,
        "value out of range for column `amount` of BigQuery table proj.shop.t",
    );
    // INSERT casts to the table's types first (DataFusion's own message).
    assert_error(
        &sql(&format!("{create} insert into t select 2, {too_wide}")),
        1,
        "Cannot cast to Decimal128(38, 9). Overflowing on 123456789012345678901234567890123",
    );
    assert_error(
        &sql("copy (select 'x' as id) to 'bigquery://proj/shop/t'"),
        1,
        "schema mismatch writing to BigQuery table proj.shop.t: column `id` is INT64 in the table, the rows have Utf8",
    );
    // A wrong endpoint: nothing listens on port 1.
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        "[[stores]]\nprefix = \"bigquery://\"\nendpoint = \"http://127.0.0.1:1\"\nretries = 0\n\
         options = { grpc_endpoint = \"http://127.0.0.1:1\", skip_signature = \"true\" }\n",
    )
    .unwrap();
    assert_error(
        &run(spate(dir.path()).args([
            "sql",
            "select * from t",
            "--table",
            "t=bigquery://proj/shop/t",
            "--config",
            wrong.to_str().unwrap(),
        ])),
        1,
        "cannot reach BigQuery at http://127.0.0.1:1",
    );
    // No credentials: no key file, no gcloud login (HOME is empty), no metadata server.
    let unsigned = dir.path().join("unsigned.toml");
    std::fs::write(
        &unsigned,
        emulator.toml().replace(", skip_signature = \"true\"", ""),
    )
    .unwrap();
    let no_credentials = run(spate(dir.path())
        .args([
            "sql",
            "select * from t",
            "--table",
            "t=bigquery://proj/shop/t",
            "--config",
            unsigned.to_str().unwrap(),
        ])
        .env("HOME", dir.path())
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("GOOGLE_SERVICE_ACCOUNT")
        .env("GCE_METADATA_HOST", "127.0.0.1:1")
        .env("GCE_METADATA_IP", "127.0.0.1:1"));
    assert_error(
        &no_credentials,
        1,
        "no usable Google credentials for BigQuery project proj",
    );
    assert_eq!(emulator.count("shop", "t"), 1);
}
