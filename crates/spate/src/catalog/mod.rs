//! Tables from files: how a path becomes a table.
//!
//! A table location is a file, a directory of files, or a Hive-partitioned tree
//! (`day=2026-11-23/part-0.parquet`). [`resolve_table`] lists it, tells its format from the
//! file names (or takes the one given), types the partition columns from their values, and
//! merges the files' schemas, naming the file at fault when one cannot be read or does not
//! fit. Everything that turns a path into a table goes through it: `--data` directories
//! ([`DataSchema`], resolved lazily on first use), `register`, the DataFrame reader and
//! `CREATE EXTERNAL TABLE` ([`SpateTableFactory`]).

mod data_schema;
mod directory;
mod factory;
mod format;
mod partitions;
mod resolve;

pub(crate) use data_schema::DataSchema;
pub(crate) use directory::{DirectoryTables, remote_directory_tables};
pub(crate) use factory::SpateTableFactory;
pub use format::FileFormatKind;
pub(crate) use resolve::{TableSource, resolve_table};
