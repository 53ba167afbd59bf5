//! [`BigQueryConfig`]: where BigQuery is and how to talk to it, from `spate.toml`'s
//! `[[stores]]` settings (prefix `bigquery://PROJECT`) and a table's options.
//!
//! ```toml
//! [[stores]]
//! prefix = "bigquery://my-project"
//! endpoint = "http://127.0.0.1:9050"
//! options = { grpc_endpoint = "http://127.0.0.1:9060", skip_signature = "true" }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use crate::error::{BigQueryError, Result};
use crate::location::TableRef;

/// BigQuery's REST endpoint.
pub const DEFAULT_REST_ENDPOINT: &str = "https://bigquery.googleapis.com";
/// The Storage APIs' gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "https://bigquerystorage.googleapis.com";

/// Settings of the BigQuery client for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigQueryConfig {
    /// The REST endpoint (tables, datasets, jobs).
    pub rest_endpoint: String,
    /// The gRPC endpoint (Storage Read and Write).
    pub grpc_endpoint: String,
    /// Send no credentials (emulators).
    pub skip_signature: bool,
    /// Retries of a request that failed with a retryable error.
    pub retries: usize,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Timeout of connecting.
    pub connect_timeout: Duration,
    /// Credential options for object_store's GCP providers (`google_service_account`, ...).
    pub credential_options: BTreeMap<String, String>,
}

impl Default for BigQueryConfig {
    fn default() -> Self {
        BigQueryConfig::from_settings(&StoreSettings::default())
    }
}

/// The client options of a table or a write (also with a `store.` prefix), besides the
/// credential options of object_store's GCP providers (`google_*`, `gcp_*`).
pub const TABLE_OPTION_KEYS: [&str; 6] = [
    "endpoint",
    "grpc_endpoint",
    "skip_signature",
    "retries",
    "timeout_secs",
    "connect_timeout_secs",
];

/// Whether `key` (lower case, as DataFusion passes a statement's option keys) is a client
/// option of a BigQuery table: one of [`TABLE_OPTION_KEYS`] or a credential option.
///
/// ```
/// use spate_bigquery::is_table_option;
/// assert!(is_table_option("store.endpoint") && is_table_option("google_service_account"));
/// assert!(!is_table_option("endpont"));
/// ```
pub fn is_table_option(key: &str) -> bool {
    let key = key.strip_prefix("store.").unwrap_or(key);
    TABLE_OPTION_KEYS.contains(&key) || key.starts_with("google_") || key.starts_with("gcp_")
}

impl BigQueryConfig {
    /// The settings for `table` in `config`, with `options` (a table's) on top.
    pub fn resolve(
        config: &StoreConfig,
        table: &TableRef,
        options: &BTreeMap<String, String>,
    ) -> Result<BigQueryConfig> {
        let mut settings = config.settings_for(&table.settings_key());
        for (key, value) in options {
            let key = key
                .trim_start_matches("format.")
                .trim_start_matches("store.");
            match key {
                "endpoint" => settings.endpoint = Some(value.clone()),
                "retries" => settings.retries = Some(parse_number(key, value)?),
                "timeout_secs" => settings.timeout_secs = Some(parse_number(key, value)?),
                "connect_timeout_secs" => {
                    settings.connect_timeout_secs = Some(parse_number(key, value)?)
                }
                _ => {
                    settings.options.insert(key.to_string(), value.clone());
                }
            }
        }
        let config = BigQueryConfig::from_settings(&settings);
        if let Some(value) = settings.options.get("skip_signature")
            && !matches!(value.as_str(), "true" | "false")
        {
            return Err(BigQueryError::InvalidOption {
                option: "skip_signature".into(),
                value: value.clone(),
                reason: "expected true or false".into(),
            });
        }
        Ok(config)
    }

    /// The client settings in one `[[stores]]` entry.
    pub fn from_settings(settings: &StoreSettings) -> BigQueryConfig {
        let option = |key: &str| settings.options.get(key).cloned();
        BigQueryConfig {
            rest_endpoint: settings
                .endpoint
                .clone()
                .unwrap_or_else(|| DEFAULT_REST_ENDPOINT.into())
                .trim_end_matches('/')
                .to_string(),
            grpc_endpoint: option("grpc_endpoint")
                .unwrap_or_else(|| DEFAULT_GRPC_ENDPOINT.into())
                .trim_end_matches('/')
                .to_string(),
            skip_signature: option("skip_signature").is_some_and(|v| v == "true"),
            retries: settings.retries(),
            timeout: settings.timeout(),
            connect_timeout: settings.connect_timeout(),
            credential_options: settings
                .options
                .iter()
                .filter(|(k, _)| k.starts_with("google_") || k.starts_with("gcp_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// `value` of option `key` as a count ([`spate_connectors::parse_count`]).
fn parse_number<T: TryFrom<u64>>(key: &str, value: &str) -> Result<T> {
    let invalid = |reason: String| BigQueryError::InvalidOption {
        option: key.to_string(),
        value: value.to_string(),
        reason,
    };
    let count = spate_connectors::parse_count(value, 0).map_err(|e| match e {
        spate_connectors::ConnectorError::InvalidValue { expected, .. } => {
            invalid(format!("expected {expected}"))
        }
        other => invalid(other.to_string()),
    })?;
    T::try_from(count).map_err(|_| invalid("too large".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_prefix_then_table_options() {
        let config = StoreConfig::parse(
            "[[stores]]\nprefix = \"bigquery://p\"\nendpoint = \"http://127.0.0.1:9050/\"\n\
             options = { grpc_endpoint = \"http://127.0.0.1:9060\", skip_signature = \"true\" }",
        )
        .unwrap();
        let table = TableRef::parse("p.d.t").unwrap();
        let resolved = BigQueryConfig::resolve(&config, &table, &BTreeMap::new()).unwrap();
        assert_eq!(resolved.rest_endpoint, "http://127.0.0.1:9050");
        assert_eq!(resolved.grpc_endpoint, "http://127.0.0.1:9060");
        assert!(resolved.skip_signature);
        let other = TableRef::parse("q.d.t").unwrap();
        let options = BTreeMap::from([("retries".to_string(), "9".to_string())]);
        let resolved = BigQueryConfig::resolve(&config, &other, &options).unwrap();
        assert_eq!(resolved.rest_endpoint, DEFAULT_REST_ENDPOINT);
        assert_eq!((resolved.retries, resolved.skip_signature), (9, false));
        let bad = BTreeMap::from([("skip_signature".to_string(), "yes".to_string())]);
        assert!(BigQueryConfig::resolve(&config, &other, &bad).is_err());
    }
}
