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
}

/// All store settings: the contents of `spate.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Settings per URL prefix.
    #[serde(default)]
    pub stores: Vec<StoreSettings>,
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
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
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
    }
}
