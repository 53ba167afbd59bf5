//! # spate-connectors
//!
//! Where data lives. [`object_stores`] turns any URL (`s3://`, `s3a://`, `gs://`, `az://`,
//! `abfss://`, `http(s)://`, `file://`, plain paths) into an object store on first use,
//! with credentials from each cloud's usual environment variables, per-prefix settings from
//! `spate.toml`, and per-table overrides. [`units`] parses the sizes and counts of every
//! spate setting.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod error;
pub mod object_stores;
pub mod units;

pub use error::{ConnectorError, Result};
pub use units::{ByteSize, parse_count};
