//! The worker protocol of `tpch run`: every contender (spate, DataFusion, DuckDB, Polars)
//! runs as a worker process that reads one [`Request`] per line on stdin and answers each
//! with one [`Reply`] per line on stdout, as JSON. Its first line is a greeting: a reply
//! with `ready` (the engine and its version) or `error` (why it cannot start).

use serde::{Deserialize, Serialize};

/// Run `sql` once; return the rows when `rows` is set.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub sql: String,
    pub rows: bool,
}

/// The greeting, or the outcome of one request. Fields a worker does not know (the peers
/// have no memory pool and no stages) are left out and read as zero.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Reply {
    /// The greeting: the engine and its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// Why the worker cannot start, or why the query failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Execution and fetch, measured by the worker.
    pub seconds: f64,
    /// The rows, cell by cell, printed the way Arrow prints them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Vec<String>>>,
    /// The most memory the engine's pool reserved at once.
    pub peak_memory: u64,
    /// Bytes spilled to disk.
    pub spilled: u64,
    /// Task attempts that failed and were retried (spate's executor).
    pub failed_attempts: u64,
    /// Map tasks run again because their output was lost (spate's executor).
    pub recomputed: u64,
    /// Stages with coupled partitions run again whole (spate's executor).
    pub reruns: u64,
}

impl Reply {
    /// A reply that reports `message` as an error.
    pub fn failure(message: impl Into<String>) -> Self {
        Reply {
            error: Some(message.into()),
            ..Reply::default()
        }
    }

    /// The reply as one line of JSON.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            serde_json::json!({ "error": format!("cannot encode the reply: {e}") }).to_string()
        })
    }
}
