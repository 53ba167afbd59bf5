//! Building one object store from a URL and its settings.
//!
//! Each cloud's builder starts from its environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), then
//! takes the endpoint, region, client settings and options of the settings (`spate.toml`
//! merged with a table's options) one key at a time: a key the settings give overrides the
//! environment's, and every key they do not give keeps the environment's value
//! (`AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` alone reach an S3-compatible server over
//! HTTP). Unknown option keys are errors that name the key, never silently ignored.
//! Requests time out and retry a bounded number of times, so a dead endpoint fails in
//! seconds.

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{
    BackoffConfig, ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig,
};
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
    let parts = StoreParts {
        base: format!("{}://{}", url.scheme(), url.authority()),
        client: client_settings(settings),
        retry: RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: settings.retries(),
            retry_timeout: settings.timeout() * (settings.retries() as u32 + 1),
        },
        shown,
    };
    match scheme {
        ObjectStoreScheme::Local => Ok(Arc::new(LocalFileSystem::new())),
        ObjectStoreScheme::Memory => Ok(Arc::new(InMemory::new())),
        ObjectStoreScheme::AmazonS3 => s3_store(parts, settings),
        ObjectStoreScheme::GoogleCloudStorage => gcs_store(parts, settings),
        ObjectStoreScheme::MicrosoftAzure => azure_store(parts, settings),
        ObjectStoreScheme::Http => http_store(parts),
        other => Err(ConnectorError::UnknownScheme {
            scheme: format!("{other:?}"),
            url: parts.shown,
        }),
    }
}

/// What every store's builder is given: the URL's scheme and authority, the client keys
/// of the settings, the retries, and the URL as shown in messages.
struct StoreParts {
    base: String,
    client: Vec<(ClientConfigKey, String)>,
    retry: RetryConfig,
    shown: String,
}

impl StoreParts {
    fn error(&self, e: object_store::Error) -> ConnectorError {
        ConnectorError::Store {
            url: self.shown.clone(),
            reason: e.to_string(),
        }
    }
}

/// `s3://`: the environment's settings, then the client keys, endpoint, region and
/// options of the settings over them.
fn s3_store(parts: StoreParts, settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::from_env()
        .with_url(&parts.base)
        .with_retry(parts.retry.clone());
    for (key, value) in &parts.client {
        builder = builder.with_config(AmazonS3ConfigKey::Client(*key), value);
    }
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    for (key, value) in &settings.options {
        let parsed: AmazonS3ConfigKey = parse_key(key, &parts.shown)?;
        builder = builder.with_config(parsed, value);
    }
    Ok(Arc::new(builder.build().map_err(|e| parts.error(e))?))
}

/// `gs://`: as `s3://`, without an endpoint (it lives in the service-account JSON).
fn gcs_store(parts: StoreParts, settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>> {
    if settings.endpoint.is_some() {
        return Err(ConnectorError::Store {
            url: parts.shown,
            reason: "'endpoint' is not supported for gs:// URLs: put gcs_base_url in the \
                     service-account JSON (google_service_account or google_service_account_key)"
                .into(),
        });
    }
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_url(&parts.base)
        .with_retry(parts.retry.clone());
    for (key, value) in &parts.client {
        builder = builder.with_config(GoogleConfigKey::Client(*key), value);
    }
    for (key, value) in &settings.options {
        let parsed: GoogleConfigKey = parse_key(key, &parts.shown)?;
        builder = builder.with_config(parsed, value);
    }
    Ok(Arc::new(builder.build().map_err(|e| parts.error(e))?))
}

/// `az://`, `abfs://`: as `s3://`; `use_emulator` with an endpoint means Azurite there.
fn azure_store(parts: StoreParts, settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>> {
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_url(&parts.base)
        .with_retry(parts.retry.clone());
    for (key, value) in &parts.client {
        builder = builder.with_config(AzureConfigKey::Client(*key), value);
    }
    let mut emulator = false;
    for (key, value) in &settings.options {
        let parsed: AzureConfigKey = parse_key(key, &parts.shown)?;
        if parsed == AzureConfigKey::UseEmulator && settings.endpoint.is_some() {
            emulator = matches!(value.to_ascii_lowercase().as_str(), "true" | "1");
            continue;
        }
        builder = builder.with_config(parsed, value);
    }
    let store: Arc<dyn ObjectStore> = match &settings.endpoint {
        Some(endpoint) if emulator => Arc::new(AzuriteStore::new(Arc::new(
            azurite_at(builder, endpoint)
                .build()
                .map_err(|e| parts.error(e))?,
        ))),
        Some(endpoint) => Arc::new(
            builder
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|e| parts.error(e))?,
        ),
        None => Arc::new(builder.build().map_err(|e| parts.error(e))?),
    };
    Ok(store)
}

/// `http://`, `https://`: the client keys and retries only.
fn http_store(parts: StoreParts) -> Result<Arc<dyn ObjectStore>> {
    let options = parts
        .client
        .iter()
        .fold(ClientOptions::new(), |o, (key, value)| {
            o.with_config(*key, value)
        });
    Ok(Arc::new(
        HttpBuilder::new()
            .with_url(&parts.base)
            .with_client_options(options)
            .with_retry(parts.retry.clone())
            .build()
            .map_err(|e| parts.error(e))?,
    ))
}

/// The client keys the settings give, to set one by one on a builder that read its
/// environment: `allow_http` when given (or `true` for an `http://` endpoint of the
/// settings), and the timeouts when given. A key left out keeps the environment's value,
/// or object_store's default (30 s per request, 5 s to connect, as spate's).
fn client_settings(settings: &StoreSettings) -> Vec<(ClientConfigKey, String)> {
    let http_endpoint = settings
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let mut keys = Vec::new();
    match settings.allow_http {
        Some(allow) => keys.push((ClientConfigKey::AllowHttp, allow.to_string())),
        None if http_endpoint => keys.push((ClientConfigKey::AllowHttp, "true".to_string())),
        None => {}
    }
    if settings.timeout_secs.is_some() {
        let secs = settings.timeout().as_secs();
        keys.push((ClientConfigKey::Timeout, format!("{secs}s")));
    }
    if settings.connect_timeout_secs.is_some() {
        let secs = settings.connect_timeout().as_secs();
        keys.push((ClientConfigKey::ConnectTimeout, format!("{secs}s")));
    }
    keys
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
    fn client_keys_are_only_those_the_settings_give() {
        assert!(client_settings(&StoreSettings::default()).is_empty());
        let http = StoreSettings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            timeout_secs: Some(7),
            ..StoreSettings::default()
        };
        assert_eq!(
            client_settings(&http),
            [
                (ClientConfigKey::AllowHttp, "true".to_string()),
                (ClientConfigKey::Timeout, "7s".to_string())
            ]
        );
        let refused = StoreSettings {
            allow_http: Some(false),
            ..http
        };
        assert_eq!(
            client_settings(&refused)[0],
            (ClientConfigKey::AllowHttp, "false".to_string())
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
