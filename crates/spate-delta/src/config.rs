//! [`DeltaWriteOptions`]: how a write treats the table it writes to.
//!
//! Options come typed from the library (`DataFrameWriter::mode`, `partition_by`) and as
//! string keys from SQL (`CREATE EXTERNAL TABLE ... OPTIONS (...)`) and
//! `DataFrameWriter::option`; [`DeltaWriteOptions::set`] is the one place that parses the
//! keys, so an unknown key or a bad value is an error naming it everywhere.

use std::num::NonZeroU64;

use crate::error::{DeltaError, Result};

/// Files are cut when their encoded size reaches this (Spark's and Delta's 128 MiB).
pub const DEFAULT_TARGET_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// What a write does with the rows already in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Fail if the table exists.
    #[default]
    ErrorIfExists,
    /// Add the rows to the table.
    Append,
    /// Replace the table's rows: all of them, the partitions `replaceWhere` selects, or
    /// (with `partitionOverwriteMode` `dynamic`) the partitions the new rows fall in.
    Overwrite,
    /// Do nothing if the table exists.
    Ignore,
}

/// Delta's and Spark's `partitionOverwriteMode`: which partitions an overwrite replaces.
///
/// ```
/// use spate_delta::PartitionOverwriteMode;
/// assert_eq!("DYNAMIC".parse::<PartitionOverwriteMode>().ok(), Some(PartitionOverwriteMode::Dynamic));
/// assert!("some".parse::<PartitionOverwriteMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionOverwriteMode {
    /// All of them (or those `replaceWhere` selects).
    #[default]
    Static,
    /// Those the new rows fall in.
    Dynamic,
}

impl std::str::FromStr for PartitionOverwriteMode {
    type Err = DeltaError;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "static" => Ok(PartitionOverwriteMode::Static),
            "dynamic" => Ok(PartitionOverwriteMode::Dynamic),
            _ => Err(DeltaError::InvalidOption {
                option: "partitionOverwriteMode".into(),
                value: text.to_string(),
                reason: "expected static or dynamic".into(),
            }),
        }
    }
}

/// Which rows an overwrite replaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OverwriteScope {
    /// Every row of the table.
    #[default]
    Table,
    /// The rows of the partitions that match this SQL predicate on partition columns
    /// (Delta's `replaceWhere`); every new row must match it too.
    ReplaceWhere(String),
    /// The rows of the partitions the new rows fall in (Spark's dynamic partition
    /// overwrite): re-running a day's job replaces exactly that day.
    WrittenPartitions,
}

/// How one write goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaWriteOptions {
    /// What happens to existing rows.
    pub mode: WriteMode,
    /// What an overwrite replaces.
    pub overwrite: OverwriteScope,
    /// Partition columns of a new table (an existing table keeps its own; naming others
    /// is an error).
    pub partition_by: Vec<String>,
    /// The size at which a data file is closed and the next one begun.
    pub target_file_size: NonZeroU64,
}

impl Default for DeltaWriteOptions {
    fn default() -> Self {
        DeltaWriteOptions {
            mode: WriteMode::default(),
            overwrite: OverwriteScope::default(),
            partition_by: Vec::new(),
            target_file_size: NonZeroU64::new(DEFAULT_TARGET_FILE_SIZE).unwrap_or(NonZeroU64::MIN),
        }
    }
}

/// The keys [`DeltaWriteOptions::set`] takes, as Delta and Spark spell them (matched
/// without regard to case, `_` or `.`: `replace_where` and `replacewhere` are
/// `replaceWhere`).
pub const WRITE_OPTION_KEYS: [&str; 3] =
    ["replaceWhere", "partitionOverwriteMode", "targetFileSize"];

/// `key` lower-cased, without `_` and `.`: the form keys are matched in.
fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '.')
        .collect::<String>()
        .to_ascii_lowercase()
}

impl DeltaWriteOptions {
    /// Whether `key` is one of [`WRITE_OPTION_KEYS`], in any case.
    ///
    /// ```
    /// use spate_delta::DeltaWriteOptions;
    /// assert!(DeltaWriteOptions::takes("REPLACE_WHERE") && DeltaWriteOptions::takes("targetfilesize"));
    /// assert!(!DeltaWriteOptions::takes("mode"));
    /// ```
    pub fn takes(key: &str) -> bool {
        let key = normalized(key);
        WRITE_OPTION_KEYS.iter().any(|k| normalized(k) == key)
    }

    /// Sets an option by key. Keys are Delta's and Spark's, case-insensitive:
    /// `replaceWhere` (a predicate on partition columns), `partitionOverwriteMode`
    /// (`static` or `dynamic`), `targetFileSize` (bytes, or with a `KiB`/`MiB`/`GiB`
    /// suffix).
    ///
    /// ```
    /// use spate_delta::{DeltaWriteOptions, OverwriteScope};
    /// let mut options = DeltaWriteOptions::default();
    /// options.set("replaceWhere", "day = '2026-11-23'").unwrap();
    /// assert_eq!(options.overwrite, OverwriteScope::ReplaceWhere("day = '2026-11-23'".into()));
    /// options.set("targetFileSize", "64MiB").unwrap();
    /// assert_eq!(options.target_file_size.get(), 64 << 20);
    /// assert!(options.set("replace_wher", "x").is_err());
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| DeltaError::InvalidOption {
            option: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        match normalized(key).as_str() {
            "replacewhere" => {
                if value.trim().is_empty() {
                    return Err(invalid("expected a predicate on partition columns"));
                }
                self.overwrite = OverwriteScope::ReplaceWhere(value.to_string());
            }
            "partitionoverwritemode" => {
                self.overwrite = match value.parse::<PartitionOverwriteMode>()? {
                    PartitionOverwriteMode::Dynamic => OverwriteScope::WrittenPartitions,
                    PartitionOverwriteMode::Static => OverwriteScope::Table,
                };
            }
            "targetfilesize" => {
                let size: spate_connectors::ByteSize = value.parse().map_err(|e| match e {
                    spate_connectors::ConnectorError::InvalidValue { expected, .. } => {
                        invalid(&format!("expected {expected}"))
                    }
                    other => invalid(&other.to_string()),
                })?;
                self.target_file_size =
                    NonZeroU64::new(size.bytes()).ok_or_else(|| invalid("must be more than 0"))?;
            }
            _ => {
                return Err(invalid(
                    "unknown option; Delta writes take replaceWhere, partitionOverwriteMode and targetFileSize",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        let mut options = DeltaWriteOptions::default();
        for (text, bytes) in [("128MiB", 128 << 20), ("1 GiB", 1 << 30), ("4096", 4096)] {
            options.set("targetFileSize", text).unwrap();
            assert_eq!(options.target_file_size.get(), bytes, "{text}");
        }
        let err = options.set("targetFileSize", "12 parsecs").unwrap_err();
        assert!(err.to_string().contains("512MiB"), "{err}");
        assert_eq!(
            DeltaWriteOptions::default().target_file_size.get(),
            DEFAULT_TARGET_FILE_SIZE
        );
    }

    #[test]
    fn partition_overwrite_mode_is_checked() {
        let mut options = DeltaWriteOptions::default();
        options.set("partitionOverwriteMode", "DYNAMIC").unwrap();
        assert_eq!(options.overwrite, OverwriteScope::WrittenPartitions);
        let err = options.set("partitionOverwriteMode", "some").unwrap_err();
        assert!(err.to_string().contains("static or dynamic"), "{err}");
    }
}
