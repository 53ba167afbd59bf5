//! [`Credentials`]: OAuth tokens for BigQuery, from Google's application-default
//! credentials through object_store's GCP providers (the ones `gs://` uses).
//!
//! The providers look, in order, at a service-account key (`google_service_account` in
//! the options, or the file `GOOGLE_APPLICATION_CREDENTIALS` names), gcloud's user
//! credentials (`~/.config/gcloud/application_default_credentials.json`) and the metadata
//! server; their tokens have the `cloud-platform` scope and are cached until they expire.
//! With `skip_signature` no token is sent (emulators). Tokens are never printed: this
//! type's `Debug` shows the project only.

use std::fmt;
use std::time::Duration;

use object_store::gcp::{GcpCredentialProvider, GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::config::BigQueryConfig;
use crate::error::{BigQueryError, Result};

/// Where the bearer tokens of one project's requests come from.
#[derive(Clone)]
pub(crate) struct Credentials {
    project: String,
    provider: Option<GcpCredentialProvider>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("project", &self.project)
            .field("signed", &self.provider.is_some())
            .finish()
    }
}

impl Credentials {
    /// The credentials of `project` under `config`.
    pub fn new(project: &str, config: &BigQueryConfig) -> Result<Credentials> {
        if config.skip_signature {
            return Ok(Credentials {
                project: project.to_string(),
                provider: None,
            });
        }
        let no_credentials = |reason: String| BigQueryError::NoCredentials {
            project: project.to_string(),
            reason,
        };
        // The bucket is never used: only the builder's credential providers are.
        let mut builder = GoogleCloudStorageBuilder::from_env()
            .with_bucket_name("spate-bigquery-credentials")
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: config.retries,
                retry_timeout: Duration::from_secs(60),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(config.timeout)
                    .with_connect_timeout(config.connect_timeout),
            );
        for (key, value) in &config.credential_options {
            let key: GoogleConfigKey = key
                .parse()
                .map_err(|_| no_credentials(format!("unknown credential option '{key}'")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .build()
            .map_err(|e| no_credentials(one_line(&e.to_string())))?;
        Ok(Credentials {
            project: project.to_string(),
            provider: Some(std::sync::Arc::clone(store.credentials())),
        })
    }

    /// The `authorization` header's value, or `None` when requests go unsigned.
    pub async fn authorization(&self) -> Result<Option<String>> {
        let Some(provider) = &self.provider else {
            return Ok(None);
        };
        let credential =
            provider
                .get_credential()
                .await
                .map_err(|e| BigQueryError::NoCredentials {
                    project: self.project.clone(),
                    reason: one_line(&e.to_string()),
                })?;
        Ok(Some(format!("Bearer {}", credential.bearer)))
    }
}

/// `text` on one line, without object_store's "Generic GCS error: " prefix (the error
/// is about credentials, not about GCS).
pub(crate) fn one_line(text: &str) -> String {
    let text = text.trim_start_matches("Generic GCS error: ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
