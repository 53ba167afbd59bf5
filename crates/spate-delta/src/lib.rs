//! # spate-delta
//!
//! Delta Lake tables for spate, on delta-rs: read them (at their newest version or, by
//! time travel, an older one), create them, append to them, overwrite them whole or by
//! partition (`replaceWhere`, dynamic partition overwrite), and merge into them.
//!
//! Writes run as physical plans, so the session's executor runs them like any query:
//! [`plan_write`] puts a [`DeltaWriterExec`](crate::writer_exec) over the query's plan
//! (one writing task per partition, files cut at a target size, per-file statistics) and a
//! commit on top that adds every file in one new table version, or nothing. Tables live
//! wherever the session's object stores reach ([`DeltaLocation`]); commits use put-if-absent,
//! so concurrent writers need no lock service.
//!
//! Modules: [`config`](DeltaWriteOptions) (write options), [`DeltaTableFactory`]
//! (`STORED AS DELTA`), [`DeltaTableProvider`] (scans and `INSERT`), [`DeltaMerge`] (upserts:
//! `MERGE INTO` as a logical node, planned by [`DeltaPlanner`]),
//! [`table_files`] (a version's files, for DataFusion's own Parquet scan), [`DeltaError`].

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod commit_exec;
mod config;
mod error;
mod factory;
mod files;
mod location;
mod merge;
mod merge_commit_exec;
mod merge_node;
mod provider;
mod table;
mod write;
mod writer_exec;

pub use commit_exec::DeltaCommitExec;
pub use config::{
    DEFAULT_TARGET_FILE_SIZE, DeltaWriteOptions, OverwriteScope, PartitionOverwriteMode,
    WRITE_OPTION_KEYS, WriteMode,
};
pub use error::{DeltaError, Result};
pub use factory::DeltaTableFactory;
pub use files::{DataFile, TableFiles, table_files};
pub use location::DeltaLocation;
pub use merge::{MergeClause, MergeOutcome, MergeSpec, merge_output_schema};
pub use merge_node::{DeltaMerge, DeltaPlanner};
pub use provider::DeltaTableProvider;
pub use table::{OpenedTable, TableVersion, open_table};
pub use write::{check_rows, plan_write};
pub use writer_exec::{DeltaWriterExec, WriterSpec};
