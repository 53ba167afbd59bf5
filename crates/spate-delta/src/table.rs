//! Opening Delta tables: the latest version, or an older one by version number or time
//! (time travel), and telling a location with no table from one that holds other files.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::execution::runtime_env::RuntimeEnv;
use deltalake::DeltaTable;
use deltalake::logstore::LogStoreRef;
use futures::StreamExt;
use object_store::ObjectStoreExt;

use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;

/// Which version of a table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableVersion {
    /// The newest committed version, looked up again at every read.
    #[default]
    Latest,
    /// A version number (`_delta_log/00000000000000000003.json` is version 3).
    Version(u64),
    /// The newest version committed at or before this time.
    AsOf(DateTime<Utc>),
}

impl TableVersion {
    /// Parses the time-travel options of a table: a version number, or a time as RFC 3339
    /// (`2026-11-23T10:00:00Z`), `YYYY-MM-DD HH:MM:SS[.fff]` or `YYYY-MM-DD` (UTC).
    ///
    /// ```
    /// use spate_delta::TableVersion;
    /// assert_eq!(TableVersion::parse(Some("3"), None).unwrap(), TableVersion::Version(3));
    /// assert!(matches!(TableVersion::parse(None, Some("2026-11-23 10:00:00")), Ok(TableVersion::AsOf(_))));
    /// assert!(TableVersion::parse(Some("3"), Some("2026-11-23")).is_err());
    /// ```
    pub fn parse(version: Option<&str>, timestamp: Option<&str>) -> Result<Self> {
        match (version, timestamp) {
            (None, None) => Ok(TableVersion::Latest),
            (Some(v), None) => v
                .trim()
                .parse::<u64>()
                .ok()
                .map(TableVersion::Version)
                .ok_or_else(|| DeltaError::InvalidOption {
                    option: "version".into(),
                    value: v.into(),
                    reason: "expected a version number (0, 1, 2, ...)".into(),
                }),
            (None, Some(t)) => {
                parse_time(t)
                    .map(TableVersion::AsOf)
                    .ok_or_else(|| DeltaError::InvalidOption {
                        option: "timestamp".into(),
                        value: t.into(),
                        reason: "expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or RFC 3339".into(),
                    })
            }
            (Some(v), Some(_)) => Err(DeltaError::InvalidOption {
                option: "version".into(),
                value: v.into(),
                reason: "give a version or a timestamp, not both".into(),
            }),
        }
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A table location with its log store, and the table when there is one.
pub struct OpenedTable {
    /// Where the table is.
    pub location: DeltaLocation,
    /// delta-rs's log store over the session's object store.
    pub log_store: LogStoreRef,
    /// The loaded table, or `None` when the location holds no Delta log yet.
    pub table: Option<DeltaTable>,
}

impl std::fmt::Debug for OpenedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedTable")
            .field("location", &self.location)
            .field(
                "version",
                &self.table.as_ref().and_then(DeltaTable::version),
            )
            .finish()
    }
}

/// Opens the table at `location` at `version`. A location with no Delta log gives
/// `table: None` when it is empty, and [`DeltaError::NotADeltaTable`] when it holds other
/// files (which a Delta write must not mix with).
pub async fn open_table(
    runtime: &RuntimeEnv,
    location: &DeltaLocation,
    version: TableVersion,
) -> Result<OpenedTable> {
    let log_store = location.log_store(runtime)?;
    let shown = location.to_string();
    let delta = |e| DeltaError::from_delta(&shown, e);
    let mut table = DeltaTable::new(log_store.clone());
    if !table.verify_deltatable_existence().await.map_err(delta)? {
        if version != TableVersion::Latest {
            return Err(DeltaError::TableNotFound { location: shown });
        }
        check_holds_nothing_else(&log_store, &shown).await?;
        return Ok(OpenedTable {
            location: location.clone(),
            log_store,
            table: None,
        });
    }
    match version {
        TableVersion::Latest => table.load().await,
        TableVersion::Version(v) => table.load_version(v).await,
        TableVersion::AsOf(t) => table.load_with_datetime(t).await,
    }
    .map_err(delta)?;
    Ok(OpenedTable {
        location: location.clone(),
        log_store,
        table: Some(table),
    })
}

/// Fails when the table's directory holds files other than hidden ones (`.x`, `_x`) and
/// data files of an earlier Delta write that never committed (`part-NNNNN-<uuid>...`,
/// left by a writer killed before its first commit).
async fn check_holds_nothing_else(log_store: &LogStoreRef, shown: &str) -> Result<()> {
    let store = log_store.object_store(None);
    let mut listing = store.list(None);
    let mut found = Vec::new();
    let mut total = 0usize;
    while let Some(meta) = listing.next().await {
        let meta = match meta {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => {
                return Err(DeltaError::Delta {
                    location: shown.to_string(),
                    reason: crate::error::one_line(&e.to_string()),
                });
            }
        };
        let name = meta.location.filename().unwrap_or_default();
        let hidden = meta
            .location
            .parts()
            .any(|p| p.as_ref().starts_with('.') || p.as_ref().starts_with('_'));
        if hidden || is_uncommitted_delta_file(name) {
            continue;
        }
        total += 1;
        if found.len() < 2 {
            found.push(meta.location.to_string());
        }
    }
    if total == 0 {
        return Ok(());
    }
    let found = match total {
        1 => found.join(""),
        n => format!("{} and {} more files", found.join(", "), n - found.len()),
    };
    Err(DeltaError::NotADeltaTable {
        location: shown.to_string(),
        found,
    })
}

/// delta-rs names data files `part-00000-<uuid>-c000.<codec>.parquet`.
fn is_uncommitted_delta_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-") else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits == 5 && rest[digits..].starts_with('-') && name.ends_with(".parquet")
}

/// Removes files a failed write left (best effort: they are not in the log, so readers
/// never see them either way).
pub(crate) async fn remove_files(log_store: &LogStoreRef, paths: &[String]) {
    let store = log_store.object_store(None);
    for path in paths {
        if let Ok(path) = object_store::path::Path::parse(path) {
            let _ = store.delete(&path).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_data_file_names_are_recognised() {
        assert!(is_uncommitted_delta_file(
            "part-00001-0b5c2a7e-2f8e-4d7b-9c39-4f4b0b8f7e1a-c000.snappy.parquet"
        ));
        assert!(!is_uncommitted_delta_file("part-0.parquet"));
        assert!(!is_uncommitted_delta_file("sales.csv"));
    }

    #[test]
    fn times_parse_in_three_forms() {
        for text in ["2026-11-23", "2026-11-23 10:00:00", "2026-11-23T10:00:00Z"] {
            assert!(parse_time(text).is_some(), "{text}");
        }
        assert!(TableVersion::parse(Some("-1"), None).is_err());
    }
}
