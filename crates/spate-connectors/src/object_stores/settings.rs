//! Settings of object stores: per URL prefix, from `spate.toml`, plus defaults that make a
//! dead endpoint fail fast instead of hanging.
//!
//! ```toml
//! [[stores]]
//! prefix = "s3://warehouse/"
//! endpoint = "http://127.0.0.1:9000"
//! region = "us-east-1"
//! allow_http = true
//! retries = 3
//! timeout_secs = 30
//! connect_timeout_secs = 5
//! max_concurrent_requests = 16
//! read_ahead_mib = 32
//! options = { aws_access_key_id = "...", aws_secret_access_key = "..." }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{ConnectorError, Result};

/// Settings for the stores under one URL prefix.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// The URL prefix these settings apply to (`s3://bucket/`, `gs://`, `az://account/`).
    pub prefix: String,
    /// A custom endpoint (an emulator, MinIO, a private cloud).
    pub endpoint: Option<String>,
    /// The region (S3).
    pub region: Option<String>,
    /// Allow plain-HTTP endpoints.
    pub allow_http: Option<bool>,
    /// Retries of a failed request (default 3).
    pub retries: Option<usize>,
    /// Timeout of one request, in seconds (default 30).
    pub timeout_secs: Option<u64>,
    /// Timeout of connecting, in seconds (default 5).
    pub connect_timeout_secs: Option<u64>,
    /// The most requests one store (bucket, container) has in flight at once; more wait
    /// for one to finish (default [`DEFAULT_MAX_CONCURRENT_REQUESTS`]). At least 1.
    pub max_concurrent_requests: Option<usize>,
    /// The largest window, in MiB, read ahead of a scan that reads an object front to back
    /// (default [`DEFAULT_READ_AHEAD_MIB`]); 0 turns reading ahead off.
    pub read_ahead_mib: Option<u64>,
    /// Any option of the store, by object_store's key (`aws_access_key_id`,
    /// `google_service_account`, `azure_storage_account_key`, ...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl StoreSettings {
    /// Overlays `other` on `self`: values set in `other` win.
    pub fn merged_with(&self, other: &StoreSettings) -> StoreSettings {
        let mut options = self.options.clone();
        options.extend(other.options.clone());
        StoreSettings {
            prefix: other.prefix.clone(),
            endpoint: other.endpoint.clone().or_else(|| self.endpoint.clone()),
            region: other.region.clone().or_else(|| self.region.clone()),
            allow_http: other.allow_http.or(self.allow_http),
            retries: other.retries.or(self.retries),
            timeout_secs: other.timeout_secs.or(self.timeout_secs),
            connect_timeout_secs: other.connect_timeout_secs.or(self.connect_timeout_secs),
            max_concurrent_requests: other
                .max_concurrent_requests
                .or(self.max_concurrent_requests),
            read_ahead_mib: other.read_ahead_mib.or(self.read_ahead_mib),
            options,
        }
    }

    /// The request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(30))
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.unwrap_or(5))
    }

    /// Retries of a failed request.
    pub fn retries(&self) -> usize {
        self.retries.unwrap_or(3)
    }

    /// The most requests in flight at once, never below 1 (a cap of 0 would wait forever).
    pub fn max_concurrent_requests(&self) -> usize {
        self.max_concurrent_requests
            .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS)
            .max(1)
    }

    /// The largest window read ahead of a sequential scan, in bytes; `None` when reading
    /// ahead is off.
    pub fn read_ahead(&self) -> Option<u64> {
        match self.read_ahead_mib.unwrap_or(DEFAULT_READ_AHEAD_MIB) {
            0 => None,
            mib => Some(mib.saturating_mul(1024 * 1024)),
        }
    }
}

/// The default largest window read ahead of a sequential scan, in MiB.
///
/// A full scan's windows grow from 16 MiB to this, so a 48 MB Parquet file of 10 row
/// groups takes 3 GETs instead of 10; a store holds at most four of them (128 MiB) at
/// once, outside the memory pool.
pub const DEFAULT_READ_AHEAD_MIB: u64 = 32;

/// The default cap on requests in flight per store.
///
/// One GET streams some 50-100 MB/s from S3, so 16 at once can fill a 10 Gbit/s link,
/// and a query over many files rarely gains from more. Without a cap a wide scan opens a
/// request per column chunk range it reads (object_store fetches up to 10 ranges of a file
/// at once, per partition), hundreds of connections on a many-core machine, which is
/// what makes S3 answer `503 SlowDown` and exhausts file descriptors. A multipart upload
/// sends up to 8 parts at once, so 16 lets two big files upload at full speed.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 16;

/// The contents of `spate.toml`: store settings per URL prefix, and session settings.
///
/// ```toml
/// [spate]                  # spate's settings (docs/configuration.md)
/// shuffle_partitions = 8
///
/// [datafusion.execution]   # DataFusion's
/// batch_size = 4096
///
/// [[stores]]
/// prefix = "s3://warehouse/"
/// region = "eu-west-1"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// Settings per URL prefix.
    pub stores: Vec<StoreSettings>,
    /// The `[spate]` and `[datafusion]` tables flattened to full keys
    /// (`spate.shuffle_partitions`, `datafusion.execution.batch_size`) and their values as
    /// text, in the file's order; the session checks them.
    pub settings: Vec<(String, String)>,
}

/// `spate.toml` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    stores: Vec<StoreSettings>,
    spate: Option<toml::Table>,
    datafusion: Option<toml::Table>,
}

/// Appends the values of `table` to `out` by full key (`prefix.key`, nested tables joined
/// with dots).
fn flatten(
    prefix: &str,
    table: toml::Table,
    out: &mut Vec<(String, String)>,
) -> std::result::Result<(), String> {
    for (key, value) in table {
        let key = format!("{prefix}.{key}");
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::Table(inner) => {
                flatten(&key, inner, out)?;
                continue;
            }
            toml::Value::Array(_) => return Err(format!("{key}: expected one value, not a list")),
        };
        out.push((key, text));
    }
    Ok(())
}

impl StoreConfig {
    /// Reads a `spate.toml` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ConnectorError::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| ConnectorError::Config {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses the text of a `spate.toml` file.
    ///
    /// Errors say where (`line 3, column 1`) and what, never quoting the file's text: its
    /// lines hold credentials.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let (line, column) = position(text, span.start);
                    format!("line {line}, column {column}: {message}")
                }
                None => message,
            }
        })?;
        let mut settings = Vec::new();
        for (prefix, table) in [("spate", file.spate), ("datafusion", file.datafusion)] {
            flatten(prefix, table.unwrap_or_default(), &mut settings)?;
        }
        let config = StoreConfig {
            stores: file.stores,
            settings,
        };
        if let Some(bad) = config
            .stores
            .iter()
            .find(|s| s.max_concurrent_requests == Some(0))
        {
            return Err(format!(
                "max_concurrent_requests of prefix {} must be at least 1",
                bad.prefix
            ));
        }
        Ok(config)
    }

    /// The settings for `url`: every prefix that matches, the longest applied last.
    /// `s3a://` (Hadoop's name) matches prefixes written `s3://`, and the other way round.
    pub fn settings_for(&self, url: &str) -> StoreSettings {
        let url = canonical(url);
        let mut matching: Vec<&StoreSettings> = self
            .stores
            .iter()
            .filter(|s| url.starts_with(canonical(&s.prefix).as_ref()))
            .collect();
        matching.sort_by_key(|s| s.prefix.len());
        matching
            .into_iter()
            .fold(StoreSettings::default(), |acc, s| acc.merged_with(s))
    }
}

/// The 1-based line and column of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn canonical(url: &str) -> std::borrow::Cow<'_, str> {
    match url.strip_prefix("s3a://") {
        Some(rest) => format!("s3://{rest}").into(),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_options_merge() {
        let config = StoreConfig::parse(
            r#"
            [[stores]]
            prefix = "s3://"
            region = "eu-west-1"
            retries = 7
            options = { aws_access_key_id = "general" }

            [[stores]]
            prefix = "s3://lake/"
            endpoint = "http://127.0.0.1:9000"
            allow_http = true
            options = { aws_access_key_id = "lake" }
            "#,
        )
        .unwrap();
        let lake = config.settings_for("s3://lake/sales/");
        assert_eq!(lake.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(lake.region.as_deref(), Some("eu-west-1"));
        assert_eq!(lake.retries(), 7);
        assert_eq!(lake.options["aws_access_key_id"], "lake");
        let other = config.settings_for("s3://other/x");
        assert_eq!(other.endpoint, None);
        assert_eq!(other.options["aws_access_key_id"], "general");
        assert_eq!(config.settings_for("gs://b/").retries(), 3);
        let hadoop = config.settings_for("s3a://lake/sales/");
        assert_eq!(hadoop.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err =
            StoreConfig::parse("[[stores]]\nprefix = \"s3://\"\nendpiont = \"x\"").unwrap_err();
        assert!(err.contains("endpiont"), "{err}");
        assert!(err.starts_with("line 3, column 1: "), "{err}");
    }

    #[test]
    fn errors_never_quote_the_file() {
        // A bad value on the line that holds a secret: the message says where, not what.
        let err = StoreConfig::parse(
            "[[stores]]\nprefix = \"s3://\"\n\
             options = { aws_secret_access_key = \"hunter2-SECRET\", aws_region = 3 }",
        )
        .unwrap_err();
        assert!(err.starts_with("line 3, "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn session_settings_are_flattened_to_keys() {
        let config = StoreConfig::parse(
            "[spate]\nshuffle_partitions = 8\nmemory_limit = \"2GiB\"\nadaptive = false\n\
             [datafusion.execution]\nbatch_size = 4096\n\
             [[stores]]\nprefix = \"s3://lake/\"",
        )
        .unwrap();
        let mut settings = config.settings.clone();
        settings.sort();
        assert_eq!(
            settings,
            [
                ("datafusion.execution.batch_size", "4096"),
                ("spate.adaptive", "false"),
                ("spate.memory_limit", "2GiB"),
                ("spate.shuffle_partitions", "8"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(config.stores.len(), 1);
        let err = StoreConfig::parse("[spate]\nthreads = [1, 2]").unwrap_err();
        assert_eq!(err, "spate.threads: expected one value, not a list");
        assert!(StoreConfig::parse("[sparte]\nthreads = 2").is_err());
    }

    #[test]
    fn read_ahead_defaults_merges_and_turns_off() {
        let config = StoreConfig::parse(
            "[[stores]]\nprefix = \"s3://\"\nread_ahead_mib = 64\n\
             [[stores]]\nprefix = \"s3://lake/\"\nregion = \"eu-west-1\"\n\
             [[stores]]\nprefix = \"s3://raw/\"\nread_ahead_mib = 0",
        )
        .unwrap();
        assert_eq!(
            config.settings_for("s3://lake/x").read_ahead(),
            Some(64 << 20)
        );
        assert_eq!(config.settings_for("s3://raw/x").read_ahead(), None);
        assert_eq!(
            config.settings_for("gs://b/").read_ahead(),
            Some(DEFAULT_READ_AHEAD_MIB << 20)
        );
    }

    #[test]
    fn max_concurrent_requests_defaults_and_merges() {
        let config = StoreConfig::parse(
            "[[stores]]\nprefix = \"s3://\"\nmax_concurrent_requests = 4\n\
             [[stores]]\nprefix = \"s3://lake/\"\nregion = \"eu-west-1\"",
        )
        .unwrap();
        assert_eq!(
            config.settings_for("s3://lake/x").max_concurrent_requests(),
            4
        );
        assert_eq!(
            config.settings_for("gs://b/").max_concurrent_requests(),
            DEFAULT_MAX_CONCURRENT_REQUESTS
        );
        let err = StoreConfig::parse("[[stores]]\nprefix = \"s3://\"\nmax_concurrent_requests = 0")
            .unwrap_err();
        assert!(
            err.contains("max_concurrent_requests of prefix s3:// must be at least 1"),
            "{err}"
        );
    }
}
