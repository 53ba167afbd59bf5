//! bqemulator, a BigQuery emulator (PyPI `bqemulator` 1.4.0: REST, Storage Read and
//! Storage Write on DuckDB), in memory, from the virtualenv `./scripts/test.sh` makes.
//!
//! It binds ports 0 and logs the ports it got (`rest.listen`, `grpc.listen`); the tests
//! read them from its log, so no port is ever picked and then reused.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::{find_program, http_request, stop};

/// The project the emulator serves.
pub const PROJECT: &str = "proj";

/// A running bqemulator.
pub struct BqEmulator {
    child: Child,
    _dir: tempfile::TempDir,
    pub rest_port: u16,
    pub grpc_port: u16,
}

impl BqEmulator {
    /// Starts the emulator and waits until both its APIs listen.
    pub fn start() -> BqEmulator {
        let program = program();
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("bqemulator.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&program)
            .args(["start", "--rest-port", "0", "--grpc-port", "0"])
            .args(["--project", PROJECT, "--log-level", "info", "--no-admin"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut emulator = BqEmulator {
            child,
            _dir: dir,
            rest_port: 0,
            grpc_port: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while emulator.rest_port == 0 || emulator.grpc_port == 0 {
            if let Ok(Some(status)) = emulator.child.try_wait() {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("bqemulator exited with {status}: {}", tail(&text));
            }
            assert!(Instant::now() < deadline, "bqemulator did not start");
            std::thread::sleep(Duration::from_millis(50));
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            emulator.rest_port = logged_port(&text, "rest.listen");
            emulator.grpc_port = logged_port(&text, "grpc.listen");
        }
        emulator
    }

    /// `[[stores]]` settings pointing `bigquery://` at this emulator, unsigned.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            stores: vec![self.settings()],
            ..StoreConfig::default()
        }
    }

    /// The settings of [`BqEmulator::config`].
    pub fn settings(&self) -> StoreSettings {
        StoreSettings {
            prefix: "bigquery://".into(),
            endpoint: Some(format!("http://127.0.0.1:{}", self.rest_port)),
            retries: Some(1),
            options: [
                (
                    "grpc_endpoint".to_string(),
                    format!("http://127.0.0.1:{}", self.grpc_port),
                ),
                ("skip_signature".to_string(), "true".to_string()),
            ]
            .into_iter()
            .collect(),
            ..StoreSettings::default()
        }
    }

    /// `spate.toml` text of [`BqEmulator::config`].
    #[allow(dead_code)] // Used by the CLI's tests.
    pub fn toml(&self) -> String {
        format!(
            "[[stores]]\nprefix = \"bigquery://\"\nendpoint = \"http://127.0.0.1:{}\"\nretries = 1\n\
             options = {{ grpc_endpoint = \"http://127.0.0.1:{}\", skip_signature = \"true\" }}\n",
            self.rest_port, self.grpc_port
        )
    }

    /// A REST call: the status line and the JSON answer.
    pub fn rest(&self, method: &str, path: &str, body: Option<Value>) -> (String, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = [("Content-Type".to_string(), "application/json".to_string())];
        let path = format!("/bigquery/v2/projects/{PROJECT}{path}");
        let (status, response) =
            http_request(self.rest_port, method, &path, &headers, body.as_bytes());
        let json = response
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    /// Creates a dataset.
    pub fn create_dataset(&self, dataset: &str) {
        let body = json!({"datasetReference": {"projectId": PROJECT, "datasetId": dataset}});
        let (status, answer) = self.rest("POST", "/datasets", Some(body));
        assert!(
            status.contains(" 200"),
            "creating dataset {dataset}: {answer}"
        );
    }

    /// Creates a table with these REST schema fields.
    pub fn create_table(&self, dataset: &str, table: &str, fields: Value) {
        let body = json!({
            "tableReference": {"projectId": PROJECT, "datasetId": dataset, "tableId": table},
            "schema": {"fields": fields},
        });
        let (status, answer) =
            self.rest("POST", &format!("/datasets/{dataset}/tables"), Some(body));
        assert!(status.contains(" 200"), "creating table {table}: {answer}");
    }

    /// Runs a GoogleSQL query and returns its rows: a JSON array of rows, each an array
    /// of the cells' values (as the REST API gives them: text, or arrays).
    pub fn query(&self, sql: &str) -> Value {
        let body = json!({"query": sql, "useLegacySql": false});
        let (status, answer) = self.rest("POST", "/queries", Some(body));
        assert!(status.contains(" 200"), "{sql}: {answer}");
        assert!(answer.get("errors").is_none(), "{sql}: {answer}");
        let rows = answer["rows"].as_array().cloned().unwrap_or_default();
        let cells = |row: &Value| {
            let values = row["f"].as_array().cloned().unwrap_or_default();
            Value::Array(values.iter().map(|c| c["v"].clone()).collect())
        };
        Value::Array(rows.iter().map(cells).collect())
    }

    /// The number of rows of `dataset.table`, counted by the emulator itself.
    pub fn count(&self, dataset: &str, table: &str) -> i64 {
        let rows = self.query(&format!(
            "SELECT COUNT(*) FROM `{PROJECT}.{dataset}.{table}`"
        ));
        rows[0][0].as_str().unwrap().parse().unwrap()
    }
}

impl Drop for BqEmulator {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The emulator's program: `$SPATE_BQEMULATOR`, or the one in the test virtualenv.
pub fn program() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    find_program(
        "SPATE_BQEMULATOR",
        &[home.join(".cache/spate-tools/bqemulator-venv/bin/bqemulator")],
        "bqemulator",
        "a virtualenv ~/.cache/spate-tools/bqemulator-venv with bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5",
    )
}

/// The port of the log line whose event is `event` (0 while there is none).
fn logged_port(log: &str, event: &str) -> u16 {
    log.lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry["event"] == event)
        .and_then(|entry| entry["port"].as_u64())
        .map_or(0, |port| port as u16)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
