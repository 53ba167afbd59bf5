//! [`RestClient`]: the few calls of BigQuery's REST API spate makes — `tables.get`
//! (schema and size), `datasets.get`, `tables.insert`, `tables.delete`, query jobs and copy
//! jobs — with retries and the credentials' token.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Credentials;
use crate::config::BigQueryConfig;
use crate::error::{BigQueryError, Result};
use crate::location::TableRef;
use crate::retry::{Failure, FailureKind, with_retries};

/// The body of a request.
#[derive(Debug, Clone)]
enum Payload {
    None,
    Json(Value),
    Raw {
        content_type: String,
        bytes: bytes::Bytes,
    },
}

/// A column of a table's REST schema (`TableFieldSchema`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestField {
    /// The column's name.
    pub name: String,
    /// Its type (`INT64`, `RECORD`, `RANGE`, ...; legacy names such as `INTEGER` too).
    #[serde(rename = "type")]
    pub field_type: String,
    /// `NULLABLE`, `REQUIRED` or `REPEATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The fields of a `RECORD`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<RestField>,
    /// The element type of a `RANGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_element_type: Option<RangeElementType>,
}

/// The element type of a `RANGE` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeElementType {
    /// `DATE`, `DATETIME` or `TIMESTAMP`.
    #[serde(rename = "type")]
    pub element_type: String,
}

/// What `tables.get` says of a table.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    /// Its columns.
    pub fields: Vec<RestField>,
    /// Its rows, when known.
    pub num_rows: Option<u64>,
    /// Its size in bytes, when known (and not zero).
    pub num_bytes: Option<u64>,
}

/// A client of BigQuery's REST API for one project's endpoint.
#[derive(Debug, Clone)]
pub(crate) struct RestClient {
    http: reqwest::Client,
    base: String,
    endpoint: String,
    retries: usize,
    credentials: Credentials,
}

impl RestClient {
    pub fn new(config: &BigQueryConfig, credentials: Credentials) -> Result<RestClient> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| BigQueryError::Unreachable {
                endpoint: config.rest_endpoint.clone(),
                reason: e.to_string(),
            })?;
        Ok(RestClient {
            http,
            base: format!("{}/bigquery/v2", config.rest_endpoint),
            endpoint: config.rest_endpoint.clone(),
            retries: config.retries,
            credentials,
        })
    }

    /// The table's schema and size, or `None` when it does not exist.
    pub async fn get_table(&self, table: &TableRef) -> Result<Option<TableInfo>> {
        let url = format!(
            "{}/projects/{}/datasets/{}/tables/{}",
            self.base, table.project, table.dataset, table.table
        );
        let Some(body) = self
            .call(
                "tables.get",
                table,
                reqwest::Method::GET,
                &url,
                Payload::None,
            )
            .await?
        else {
            return Ok(None);
        };
        let fields = match body.pointer("/schema/fields") {
            Some(fields) => {
                serde_json::from_value(fields.clone()).map_err(|e| BigQueryError::BadData {
                    table: table.to_string(),
                    detail: format!("unreadable schema: {e}"),
                })?
            }
            None => Vec::new(),
        };
        let number = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
        };
        Ok(Some(TableInfo {
            fields,
            num_rows: number("numRows"),
            num_bytes: number("numBytes").filter(|n| *n > 0),
        }))
    }

    /// Whether the table's dataset exists.
    pub async fn dataset_exists(&self, table: &TableRef) -> Result<bool> {
        let url = format!(
            "{}/projects/{}/datasets/{}",
            self.base, table.project, table.dataset
        );
        let found = self
            .call(
                "datasets.get",
                table,
                reqwest::Method::GET,
                &url,
                Payload::None,
            )
            .await?;
        Ok(found.is_some())
    }

    /// Creates the table with `fields`; it expires after `expiration` when given.
    pub async fn insert_table(
        &self,
        table: &TableRef,
        fields: &[RestField],
        expiration: Option<Duration>,
    ) -> Result<()> {
        let url = format!(
            "{}/projects/{}/datasets/{}/tables",
            self.base, table.project, table.dataset
        );
        let mut body = json!({
            "tableReference": {"projectId": table.project, "datasetId": table.dataset, "tableId": table.table},
            "schema": {"fields": fields},
        });
        if let Some(expiration) = expiration {
            let at = std::time::SystemTime::now() + expiration;
            let millis = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            body["expirationTime"] = json!(millis.to_string());
        }
        self.call(
            "tables.insert",
            table,
            reqwest::Method::POST,
            &url,
            Payload::Json(body),
        )
        .await?;
        Ok(())
    }

    /// Deletes the table; a missing table is no error.
    pub async fn delete_table(&self, table: &TableRef) -> Result<()> {
        let url = format!(
            "{}/projects/{}/datasets/{}/tables/{}",
            self.base, table.project, table.dataset, table.table
        );
        self.call(
            "tables.delete",
            table,
            reqwest::Method::DELETE,
            &url,
            Payload::None,
        )
        .await?;
        Ok(())
    }

    /// Runs a GoogleSQL query (a DML statement or a script) to its end, for `table`'s sake.
    pub async fn run_query(&self, table: &TableRef, sql: &str) -> Result<()> {
        let url = format!("{}/projects/{}/jobs", self.base, table.project);
        let job = json!({"configuration": {"query": {"query": sql, "useLegacySql": false}}});
        self.run_job("query job", table, &url, Payload::Json(job))
            .await
    }

    /// Copies `source` over `table` (`WRITE_TRUNCATE`) in one copy job.
    pub async fn copy_replacing(&self, source: &TableRef, table: &TableRef) -> Result<()> {
        let url = format!("{}/projects/{}/jobs", self.base, table.project);
        let reference = |t: &TableRef| json!({"projectId": t.project, "datasetId": t.dataset, "tableId": t.table});
        let job = json!({"configuration": {"copy": {
            "sourceTable": reference(source),
            "destinationTable": reference(table),
            "writeDisposition": "WRITE_TRUNCATE",
            "createDisposition": "CREATE_IF_NEEDED",
        }}});
        self.run_job("copy job", table, &url, Payload::Json(job))
            .await
    }

    /// Appends the rows of a Parquet file to `table` with one load job (a multipart upload).
    pub async fn load_parquet(&self, table: &TableRef, parquet: bytes::Bytes) -> Result<()> {
        let endpoint = self.base.trim_end_matches("/bigquery/v2");
        let url = format!(
            "{endpoint}/upload/bigquery/v2/projects/{}/jobs?uploadType=multipart",
            table.project
        );
        let config = json!({"configuration": {"load": {
            "destinationTable": {"projectId": table.project, "datasetId": table.dataset, "tableId": table.table},
            "sourceFormat": "PARQUET",
            "writeDisposition": "WRITE_APPEND",
            "createDisposition": "CREATE_NEVER",
        }}});
        let boundary = "spate-load-boundary-7d3f";
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{config}\r\n\
             --{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&parquet);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let payload = Payload::Raw {
            content_type: format!("multipart/related; boundary={boundary}"),
            bytes: body.into(),
        };
        self.run_job("load job", table, &url, payload).await
    }

    /// Inserts a job and waits until it is done; its error, if any, is the result.
    async fn run_job(&self, what: &str, table: &TableRef, url: &str, job: Payload) -> Result<()> {
        let mut body = self
            .call(what, table, reqwest::Method::POST, url, job)
            .await?
            .unwrap_or_default();
        loop {
            if let Some(error) = job_error(&body) {
                return Err(BigQueryError::Service {
                    operation: what.into(),
                    table: table.to_string(),
                    message: error,
                });
            }
            if body.pointer("/status/state").and_then(Value::as_str) != Some("RUNNING")
                && body.pointer("/status/state").and_then(Value::as_str) != Some("PENDING")
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let id = body
                .pointer("/jobReference/jobId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let location = body
                .pointer("/jobReference/location")
                .and_then(Value::as_str)
                .map(|l| format!("?location={l}"))
                .unwrap_or_default();
            let poll = format!(
                "{}/projects/{}/jobs/{id}{location}",
                self.base, table.project
            );
            body = self
                .call(what, table, reqwest::Method::GET, &poll, Payload::None)
                .await?
                .unwrap_or_default();
        }
    }

    /// One call with retries: the JSON answer, or `None` for 404.
    async fn call(
        &self,
        operation: &str,
        table: &TableRef,
        method: reqwest::Method,
        url: &str,
        body: Payload,
    ) -> Result<Option<Value>> {
        let authorization = self.credentials.authorization().await?;
        let outcome = with_retries(self.retries, || {
            let mut request = self.http.request(method.clone(), url);
            if let Some(value) = &authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            match &body {
                Payload::None => {}
                Payload::Json(value) => {
                    request = request
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(value.to_string());
                }
                Payload::Raw {
                    content_type,
                    bytes,
                } => {
                    request = request
                        .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                        .body(bytes.clone());
                }
            }
            send(request)
        })
        .await;
        match outcome {
            Ok(value) => Ok(Some(value)),
            Err(failure) if failure.kind == FailureKind::NotFound => Ok(None),
            Err(failure) => Err(failure.into_error(operation, &table.to_string(), &self.endpoint)),
        }
    }
}

/// Sends a request and sorts its answer.
async fn send(request: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|e| {
        let kind = if e.is_connect() || e.is_timeout() {
            FailureKind::Unreachable
        } else {
            FailureKind::Retryable
        };
        Failure::new(kind, error_chain(&e))
    })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::new(FailureKind::Retryable, e.to_string()))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let reason = body
        .pointer("/error/errors/0/reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map_or_else(|| format!("HTTP {status}"), str::to_string);
    let kind = match (status.as_u16(), reason) {
        (_, "quotaExceeded") => FailureKind::Quota,
        (_, "rateLimitExceeded" | "backendError" | "internalError") => FailureKind::Retryable,
        (404, _) => FailureKind::NotFound,
        (401 | 403, _) => FailureKind::Unauthenticated,
        (429 | 500 | 502 | 503 | 504, _) => FailureKind::Retryable,
        _ => FailureKind::Fatal,
    };
    Err(Failure::new(kind, message))
}

/// A job's error: `status.errorResult`, or the `errors` a synchronous answer carries.
fn job_error(body: &Value) -> Option<String> {
    let result = body
        .pointer("/status/errorResult")
        .or_else(|| body.pointer("/errors/0"))?;
    let message = result.get("message").and_then(Value::as_str)?;
    Some(crate::auth::one_line(message))
}

/// An error and its causes, on one line (reqwest's own message stops at the first).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
