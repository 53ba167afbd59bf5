//! # spate-bigquery
//!
//! BigQuery tables as DataFusion tables and sinks. Reads create one Storage Read API
//! session per scan (Arrow format; the projection as selected fields, the filters that
//! translate exactly as the row restriction) and read its streams as partitions in
//! parallel ([`BigQueryScanExec`]); writes append Arrow IPC batches to `PENDING` Storage
//! Write API streams and commit them all at once when the statement succeeds
//! ([`BigQuerySink`]), through a staging table for overwrites and per-day replaces.
//!
//! [`BigQueryRegistry`] is the entry point: it holds `spate.toml`'s `bigquery://`
//! settings ([`BigQueryConfig`]), opens tables and plans writes. The gRPC messages are
//! generated from Google's definitions and checked in (`src/proto/`); the RPCs and the
//! REST calls are this crate's small clients. See `docs/bigquery.md`.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod auth;
mod client;
mod config;
mod error;
mod factory;
mod filter;
mod io_counters;
mod location;
mod proto;
mod provider;
mod registry;
mod rest_client;
mod retry;
mod scan_exec;
mod sink;
mod storage_client;
mod stream_writer;
mod types;
mod wkb;

pub use client::BigQueryClient;
pub use config::{
    BigQueryConfig, DEFAULT_GRPC_ENDPOINT, DEFAULT_REST_ENDPOINT, TABLE_OPTION_KEYS,
    is_table_option,
};
pub use error::{BigQueryError, Result};
pub use factory::BigQueryTableFactory;
pub use filter::row_restriction;
pub use io_counters::BigQueryIo;
pub use location::{SCHEME, TableRef, is_bigquery_location};
pub use provider::BigQueryTable;
pub use registry::BigQueryRegistry;
pub use rest_client::{RangeElementType, RestField, TableInfo};
pub use scan_exec::BigQueryScanExec;
pub use sink::{BigQuerySink, SinkOptions, WriteMode};
pub use types::{TYPE_METADATA_KEY, WritePlan, arrow_schema, rest_fields};
