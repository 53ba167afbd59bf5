//! Building one object store from a URL and its settings.
//!
//! Each cloud's builder starts from its environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), then
//! takes the endpoint, region and options of the settings. Unknown option keys are errors
//! that name the key, never silently ignored. Requests time out and retry a bounded number
//! of times, so a dead endpoint fails in seconds.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

use super::azurite_store::AzuriteStore;
use super::settings::StoreSettings;
use crate::error::{ConnectorError, Result};

/// `url` as it may be shown to people: no user info, no query string, no fragment (where
/// signed URLs and inline credentials live).
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The store serving `url` (scheme and authority; the path is the caller's).
pub(crate) fn build_store(url: &Url, settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>> {
    let shown = display_url(url);
    let (scheme, _) = ObjectStoreScheme::parse(url).map_err(|_| ConnectorError::UnknownScheme {
        scheme: url.scheme().to_string(),
        url: shown.clone(),
    })?;
    let store_error = |e: object_store::Error| ConnectorError::Store {
        url: shown.clone(),
        reason: e.to_string(),
    };
    let base = format!("{}://{}", url.scheme(), url.authority());
    let http_endpoint = settings
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let client = ClientOptions::new()
        .with_timeout(settings.timeout())
        .with_connect_timeout(settings.connect_timeout())
        .with_allow_http(settings.allow_http.unwrap_or(http_endpoint));
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: settings.retries(),
        retry_timeout: settings.timeout() * (settings.retries() as u32 + 1),
    };
    let store: Arc<dyn ObjectStore> = match scheme {
        ObjectStoreScheme::Local => Arc::new(LocalFileSystem::new()),
        ObjectStoreScheme::Memory => Arc::new(InMemory::new()),
        ObjectStoreScheme::AmazonS3 => {
            let mut builder = AmazonS3Builder::from_env()
                .with_url(base)
                .with_client_options(client)
                .with_retry(retry);
            if let Some(endpoint) = &settings.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = &settings.region {
                builder = builder.with_region(region);
            }
            for (key, value) in &settings.options {
                let parsed: AmazonS3ConfigKey = parse_key(key, &shown)?;
                builder = builder.with_config(parsed, value);
            }
            Arc::new(builder.build().map_err(store_error)?)
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            if settings.endpoint.is_some() {
                return Err(ConnectorError::Store {
                    url: shown,
                    reason: "'endpoint' is not supported for gs:// URLs: put gcs_base_url in the \
                             service-account JSON (google_service_account or google_service_account_key)"
                        .into(),
                });
            }
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_url(base)
                .with_client_options(client)
                .with_retry(retry);
            for (key, value) in &settings.options {
                let parsed: GoogleConfigKey = parse_key(key, &shown)?;
                builder = builder.with_config(parsed, value);
            }
            Arc::new(builder.build().map_err(store_error)?)
        }
        ObjectStoreScheme::MicrosoftAzure => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_url(base)
                .with_client_options(client)
                .with_retry(retry);
            let mut emulator = false;
            for (key, value) in &settings.options {
                let parsed: AzureConfigKey = parse_key(key, &shown)?;
                if parsed == AzureConfigKey::UseEmulator && settings.endpoint.is_some() {
                    emulator = matches!(value.to_ascii_lowercase().as_str(), "true" | "1");
                    continue;
                }
                builder = builder.with_config(parsed, value);
            }
            match &settings.endpoint {
                Some(endpoint) if emulator => Arc::new(AzuriteStore::new(Arc::new(
                    azurite_at(builder, endpoint).build().map_err(store_error)?,
                ))),
                Some(endpoint) => Arc::new(
                    builder
                        .with_endpoint(endpoint.clone())
                        .build()
                        .map_err(store_error)?,
                ),
                None => Arc::new(builder.build().map_err(store_error)?),
            }
        }
        ObjectStoreScheme::Http => Arc::new(
            HttpBuilder::new()
                .with_url(base)
                .with_client_options(client)
                .with_retry(retry)
                .build()
                .map_err(store_error)?,
        ),
        other => {
            return Err(ConnectorError::UnknownScheme {
                scheme: format!("{other:?}"),
                url: shown,
            });
        }
    };
    Ok(store)
}

/// Azurite's development account, used when the settings name no account.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The key of Azurite's development account (public, documented by Microsoft).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An Azurite emulator at `endpoint` (`azure_storage_use_emulator` with an endpoint).
///
/// object_store's emulator mode reads the address from `AZURITE_BLOB_STORAGE_URL` only;
/// with an endpoint in the settings the store instead talks to `endpoint/<account>` as an
/// ordinary account over HTTP, which is what the emulator mode does underneath, and the
/// caller wraps it in an [`AzuriteStore`] for the one thing the emulator mode does besides
/// (listing from an offset). The account and key default to Azurite's development account.
fn azurite_at(mut builder: MicrosoftAzureBuilder, endpoint: &str) -> MicrosoftAzureBuilder {
    let account = builder
        .get_config_value(&AzureConfigKey::AccountName)
        .unwrap_or_else(|| AZURITE_ACCOUNT.to_string());
    let has_credential = [
        AzureConfigKey::AccessKey,
        AzureConfigKey::SasKey,
        AzureConfigKey::Token,
    ]
    .iter()
    .any(|key| builder.get_config_value(key).is_some());
    if !has_credential {
        builder = builder.with_access_key(AZURITE_KEY);
    }
    builder
        .with_account(account.clone())
        .with_endpoint(format!("{}/{account}", endpoint.trim_end_matches('/')))
        .with_allow_http(true)
}

/// Parses an option key; `aws.access_key_id` and `aws_access_key_id` are the same key.
fn parse_key<K: std::str::FromStr>(key: &str, url: &str) -> Result<K> {
    key.to_ascii_lowercase()
        .replace('.', "_")
        .parse()
        .map_err(|_| ConnectorError::UnknownOption {
            key: key.to_string(),
            url: url.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        let url =
            Url::parse("https://user:hunter2@host/data/x.parquet?X-Amz-Signature=abc").unwrap();
        assert_eq!(display_url(&url), "https://host/data/x.parquet");
    }

    #[test]
    fn unknown_schemes_and_options_are_named() {
        let err = build_store(
            &Url::parse("ftp://host/x").unwrap(),
            &StoreSettings::default(),
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("unsupported URL scheme 'ftp'"),
            "{err}"
        );
        let settings = StoreSettings {
            options: [("aws.acces_key".to_string(), "x".to_string())].into(),
            ..StoreSettings::default()
        };
        let err = build_store(&Url::parse("s3://bucket/x").unwrap(), &settings)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "unknown option 'aws.acces_key' for s3://bucket/x"
        );
    }

    #[test]
    fn builds_each_kind_of_store() {
        let settings = StoreSettings {
            region: Some("us-east-1".into()),
            options: [
                ("aws_access_key_id".to_string(), "id".to_string()),
                ("aws_secret_access_key".to_string(), "secret".to_string()),
            ]
            .into(),
            ..StoreSettings::default()
        };
        for url in [
            "s3://bucket/",
            "s3a://bucket/x",
            "file:///tmp",
            "https://example.com/data/",
        ] {
            assert!(
                build_store(&Url::parse(url).unwrap(), &settings).is_ok(),
                "{url}"
            );
        }
    }
}
