//! [`DeltaLocation`]: where a Delta table lives, and the delta-rs log store for it.
//!
//! spate builds one object store per bucket from its own settings (`spate.toml`, table
//! options, environment; see `spate-connectors`). delta-rs must read and commit through
//! that same store, not build its own from other settings: [`DeltaLocation::log_store`]
//! takes the store from the session's object-store registry and hands it to delta-rs.
//! delta-rs only knows log stores for `file://` and `memory://` unless told more; for the
//! cloud schemes this crate registers delta-rs's default log store, which commits a
//! version by writing `_delta_log/NNN.json` with a conditional put (`PutMode::Create`,
//! `If-None-Match: *` on S3), so two writers can never both create the same version and
//! no lock service is needed.

use std::sync::{Arc, Once};

use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use deltalake::logstore::{
    LogStore, LogStoreFactory, LogStoreRef, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, logstore_with,
};
use url::Url;

use crate::error::{DeltaError, Result};

/// URL schemes whose stores support conditional put, committed with delta-rs's default
/// log store.
const CLOUD_SCHEMES: [&str; 8] = ["s3", "s3a", "gs", "az", "abfs", "abfss", "azure", "adl"];

/// The location of a Delta table: a URL (`s3://lake/sales/`) or a local directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct DeltaLocation {
    url: Url,
}

impl DeltaLocation {
    /// Parses a URL or a local path (relative paths are taken from the working directory).
    ///
    /// ```
    /// let at = spate_delta::DeltaLocation::parse("s3://lake/sales").unwrap();
    /// assert_eq!(at.url().as_str(), "s3://lake/sales/");
    /// let local = spate_delta::DeltaLocation::parse("/tmp/warehouse/sales").unwrap();
    /// assert_eq!(local.url().as_str(), "file:///tmp/warehouse/sales/");
    /// assert_eq!(local.to_string().trim_end_matches('/'), "/tmp/warehouse/sales");
    /// ```
    pub fn parse(location: &str) -> Result<Self> {
        let invalid = |reason: String| DeltaError::InvalidOption {
            option: "location".into(),
            value: location.to_string(),
            reason,
        };
        let mut url = if location.contains("://") {
            Url::parse(location).map_err(|e| invalid(e.to_string()))?
        } else {
            let path = std::path::absolute(location).map_err(|e| invalid(e.to_string()))?;
            Url::from_directory_path(&path)
                .map_err(|()| invalid("not an absolute directory path".into()))?
        };
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(DeltaLocation { url })
    }

    /// The table's URL, ending with `/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The local directory of a `file://` location.
    pub fn local_path(&self) -> Option<std::path::PathBuf> {
        (self.url.scheme() == "file")
            .then(|| self.url.to_file_path().ok())
            .flatten()
    }

    /// The URL of the store the table lives in (`s3://lake`, `file:///`).
    pub(crate) fn store_url(&self) -> Result<ObjectStoreUrl> {
        let root = format!("{}://{}", self.url.scheme(), self.url.authority());
        ObjectStoreUrl::parse(root).map_err(DeltaError::from)
    }

    /// The session's store for this location.
    pub(crate) fn root_store(&self, runtime: &RuntimeEnv) -> Result<ObjectStoreRef> {
        runtime
            .object_store(self.store_url()?)
            .map_err(DeltaError::from)
    }

    /// A delta-rs log store over the session's object store for this location.
    pub fn log_store(&self, runtime: &RuntimeEnv) -> Result<LogStoreRef> {
        register_cloud_log_stores();
        let root = self.root_store(runtime)?;
        logstore_with(root, &self.url, StorageConfig::default())
            .map_err(|e| DeltaError::from_delta(&self.to_string(), e))
    }
}

impl std::fmt::Display for DeltaLocation {
    /// Local tables show as paths; URLs without user info or query strings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.local_path() {
            Some(path) => {
                let text = path.display().to_string();
                let shown = match text.strip_suffix('/') {
                    Some(trimmed) if !trimmed.is_empty() => trimmed,
                    _ => text.as_str(),
                };
                write!(f, "{shown}")
            }
            None => {
                let shown = spate_connectors::object_stores::display_url(&self.url);
                write!(f, "{shown}")
            }
        }
    }
}

/// delta-rs's default (conditional-put) log store, for any scheme.
#[derive(Debug, Default)]
struct ConditionalPutLogStores;

impl LogStoreFactory for ConditionalPutLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Registers [`ConditionalPutLogStores`] for the cloud schemes, once per process.
fn register_cloud_log_stores() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        let factories = logstore_factories();
        for scheme in CLOUD_SCHEMES {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                factories
                    .entry(url)
                    .or_insert_with(|| Arc::new(ConditionalPutLogStores));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_end_with_a_slash_and_hide_secrets() {
        let at = DeltaLocation::parse("s3://key:secret@lake/sales?x=1").unwrap();
        assert_eq!(at.to_string(), "s3://lake/sales/");
        let rel = DeltaLocation::parse("warehouse/t").unwrap();
        assert!(
            rel.url().as_str().ends_with("/warehouse/t/"),
            "{}",
            rel.url()
        );
        assert!(DeltaLocation::parse("s3://[bad").is_err());
    }

    #[test]
    fn cloud_locations_get_a_log_store_over_the_sessions_store() {
        let runtime = RuntimeEnv::default();
        let store: ObjectStoreRef = Arc::new(object_store::memory::InMemory::new());
        let bucket = Url::parse("s3://lake").unwrap();
        runtime.register_object_store(&bucket, Arc::clone(&store));
        let at = DeltaLocation::parse("s3://lake/sales").unwrap();
        let log_store = at.log_store(&runtime).unwrap();
        assert!(Arc::ptr_eq(&log_store.root_object_store(None), &store));
        assert_eq!(log_store.name(), "DefaultLogStore");
    }
}
