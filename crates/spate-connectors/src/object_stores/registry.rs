//! [`StoreRegistry`]: DataFusion's object-store registry, building stores on first use.
//!
//! Remote stores (everything but local files and memory) are stacked as
//!
//! ```text
//! ReadAheadStore           fetches windows ahead of sequential scans (read_ahead_mib)
//!   CountingStore          counts requests and bytes; splits a ranged read into one
//!     LimitStore           request per coalesced range, each taking a permit here
//!       InFlightStore      tracks the requests in flight (at most the cap)
//!         the cloud's store
//! ```
//!
//! so [`StoreRegistry::io`] reports requests and bytes per bucket, and no store ever has
//! more than its `max_concurrent_requests` requests in flight. A GET holds its permit until
//! its body is read or dropped: a plan that must read more of one streamed body (CSV,
//! JSON) before it reads on in another of the same store needs a cap above the number of
//! such bodies, which is why the cap is a default of 16 and not 1 or 2.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use object_store::limit::LimitStore;
use parking_lot::RwLock;
use url::Url;

use super::builder::{build_store, display_url};
use super::counting_store::{Counters, CountingStore, StoreIo};
use super::in_flight_store::InFlightStore;
use super::read_ahead_store::ReadAheadStore;
use super::settings::{StoreConfig, StoreSettings};
use crate::error::{ConnectorError, Result};

/// Prefixes of the option keys that go to object_store (`aws.access_key_id`,
/// `azure_storage_account_key`, ...).
const OBJECT_STORE_PREFIXES: [&str; 6] = ["aws.", "aws_", "gcp.", "google_", "azure.", "azure_"];

/// The prefix of spate's own store settings in a table's options: `store.` and the key's
/// name in `spate.toml` (DataFusion takes a key without a dot for a format option).
const SETTING_PREFIX: &str = "store.";

/// Whether a table option (`CREATE EXTERNAL TABLE ... OPTIONS`) configures the object
/// store rather than the format: object_store's keys (`aws.*`, `google_*`, `azure_*`, ...)
/// and spate's store settings (`store.max_concurrent_requests`).
pub fn is_store_option(key: &str) -> bool {
    key.starts_with(SETTING_PREFIX) || OBJECT_STORE_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Everything a [`StoreRegistry`] builds its stores from, so that another process (a
/// cluster's scheduler and executors) builds the same ones ([`StoreRegistry::from_settings`]):
/// the settings per URL prefix (`spate.toml`), and the settings of each store a table's
/// options configured ([`StoreRegistry::configure`]), by bucket (`scheme://authority` in
/// their `prefix`). It holds credentials: never print it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// The settings per URL prefix.
    pub prefixes: Vec<StoreSettings>,
    /// The settings of configured stores, one per bucket, used instead of `prefixes` there.
    pub buckets: Vec<StoreSettings>,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefixes = |list: &[StoreSettings]| -> Vec<String> {
            list.iter().map(|s| s.prefix.clone()).collect()
        };
        f.debug_struct("RegistrySettings")
            .field("prefixes", &prefixes(&self.prefixes))
            .field("buckets", &prefixes(&self.buckets))
            .finish_non_exhaustive()
    }
}

/// Object stores by `scheme://authority`, built from the URL the first time it is seen.
#[derive(Debug, Default)]
pub struct StoreRegistry {
    config: StoreConfig,
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    /// The settings of the stores tables configured, by bucket.
    configured: RwLock<BTreeMap<String, StoreSettings>>,
    /// The counters of each remote store, kept when a store is rebuilt with new options.
    counters: RwLock<BTreeMap<String, Arc<Counters>>>,
}

impl StoreRegistry {
    /// A registry with these settings (the contents of `spate.toml`).
    pub fn new(config: StoreConfig) -> Self {
        StoreRegistry {
            config,
            stores: RwLock::new(HashMap::new()),
            configured: RwLock::new(BTreeMap::new()),
            counters: RwLock::new(BTreeMap::new()),
        }
    }

    /// A registry that builds the stores the registry `settings` came from
    /// ([`StoreRegistry::settings`]) built, each on first use.
    pub fn from_settings(settings: RegistrySettings) -> Self {
        let registry = StoreRegistry::new(StoreConfig {
            stores: settings.prefixes,
            settings: Vec::new(),
        });
        *registry.configured.write() = settings
            .buckets
            .into_iter()
            .map(|s| (s.prefix.clone(), s))
            .collect();
        registry
    }

    /// What this registry builds its stores from; see [`RegistrySettings`].
    pub fn settings(&self) -> RegistrySettings {
        RegistrySettings {
            prefixes: self.config.stores.clone(),
            buckets: self.configured.read().values().cloned().collect(),
        }
    }

    /// Builds the store for `url` with `options` on top of the configured settings, and
    /// uses it from now on for that bucket or account (`CREATE EXTERNAL TABLE ... OPTIONS`).
    /// `options` are object_store's keys and spate's settings (see [`is_store_option`]).
    pub fn configure(&self, url: &Url, options: &BTreeMap<String, String>) -> Result<()> {
        let overrides = table_settings(url, options)?;
        let mut settings = self
            .config
            .settings_for(url.as_str())
            .merged_with(&overrides);
        settings.prefix = key(url);
        let store = self.remote(url, &settings, build_store(url, &settings)?);
        self.stores.write().insert(key(url), store);
        self.configured.write().insert(key(url), settings);
        Ok(())
    }

    /// Requests and bytes so far, per remote store, in the order of their names.
    pub fn io(&self) -> Vec<StoreIo> {
        self.counters
            .read()
            .iter()
            .map(|(name, counters)| counters.snapshot(name))
            .collect()
    }

    /// The last write store `store` (`scheme://bucket`, as in [`StoreIo::store`]) refused:
    /// where, and the store's answer.
    pub fn last_write_failure(&self, store: &str) -> Option<String> {
        self.counters.read().get(store)?.last_write_failure()
    }

    /// `store` capped at the settings' concurrent requests and counted, when it is
    /// remote (see the module's doc for the layers).
    fn remote(
        &self,
        url: &Url,
        settings: &StoreSettings,
        store: Arc<dyn ObjectStore>,
    ) -> Arc<dyn ObjectStore> {
        if matches!(url.scheme(), "file" | "memory") {
            return store;
        }
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let name = key(&shown);
        let counters = Arc::clone(self.counters.write().entry(name.clone()).or_default());
        let probed = InFlightStore::new(store, Arc::clone(&counters));
        let limited = LimitStore::new(probed, settings.max_concurrent_requests());
        let counted: Arc<dyn ObjectStore> = Arc::new(CountingStore::with_counters(
            name,
            Arc::new(limited),
            Arc::clone(&counters),
        ));
        match settings.read_ahead() {
            Some(window) => Arc::new(ReadAheadStore::new(counted, window, counters)),
            None => counted,
        }
    }
}

/// The settings a table's `options` give its store: spate's settings (`store.*`), and
/// object_store's options (the rest).
fn table_settings(url: &Url, options: &BTreeMap<String, String>) -> Result<StoreSettings> {
    let mut settings = StoreSettings::default();
    for (key, value) in options {
        match key.strip_prefix(SETTING_PREFIX) {
            Some("max_concurrent_requests") => {
                let cap = whole_number(url, key, value, 1, "a whole number of at least 1")?;
                settings.max_concurrent_requests = Some(usize::try_from(cap).unwrap_or(usize::MAX));
            }
            Some("read_ahead_mib") => {
                let expected = "a whole number of MiB (0 turns reading ahead off)";
                settings.read_ahead_mib = Some(whole_number(url, key, value, 0, expected)?);
            }
            Some(_) => {
                return Err(ConnectorError::UnknownOption {
                    key: key.clone(),
                    url: display_url(url),
                });
            }
            None => {
                settings.options.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(settings)
}

/// `value`, of the option `key` of a table at `url`, as a whole number of at least `min`
/// ([`crate::parse_count`]); else an error naming the option, the URL and what was
/// `expected`.
fn whole_number(url: &Url, key: &str, value: &str, min: u64, expected: &str) -> Result<u64> {
    crate::parse_count(value, min).map_err(|_| ConnectorError::InvalidOption {
        key: key.to_string(),
        value: value.to_string(),
        url: display_url(url),
        expected: expected.to_string(),
    })
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.authority())
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.stores.write().insert(key(url), store)
    }

    fn deregister_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        self.stores
            .write()
            .remove(&key(url))
            .ok_or_else(|| DataFusionError::Plan(format!("no object store for {}", key(url))))
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        let key = key(url);
        if let Some(store) = self.stores.read().get(&key) {
            return Ok(Arc::clone(store));
        }
        let configured = self.configured.read().get(&key).cloned();
        let settings = configured.unwrap_or_else(|| self.config.settings_for(url.as_str()));
        let store =
            build_store(url, &settings).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let store = self.remote(url, &settings, store);
        Ok(Arc::clone(self.stores.write().entry(key).or_insert(store)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_built_once_per_bucket() {
        let registry = StoreRegistry::default();
        let a = registry
            .get_store(&Url::parse("file:///tmp/a").unwrap())
            .unwrap();
        let b = registry
            .get_store(&Url::parse("file:///var/b").unwrap())
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let err = registry
            .get_store(&Url::parse("ftp://h/x").unwrap())
            .unwrap_err();
        assert!(
            err.to_string().contains("unsupported URL scheme 'ftp'"),
            "{err}"
        );
    }

    /// A registry built from another's settings builds its stores from the same settings:
    /// the configured bucket's, not the prefix's.
    #[test]
    fn settings_rebuild_the_same_stores() {
        let prefix = StoreSettings {
            prefix: "s3://lake/".into(),
            region: Some("eu-west-1".into()),
            ..StoreSettings::default()
        };
        let registry = StoreRegistry::new(StoreConfig {
            stores: vec![prefix.clone()],
            settings: Vec::new(),
        });
        let options = BTreeMap::from([("aws_region".to_string(), "us-east-1".to_string())]);
        registry
            .configure(&Url::parse("s3://lake/t/").unwrap(), &options)
            .unwrap();
        let settings = registry.settings();
        assert_eq!(settings.prefixes, vec![prefix]);
        assert_eq!(settings.buckets.len(), 1);
        assert_eq!(settings.buckets[0].prefix, "s3://lake");
        assert_eq!(settings.buckets[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.buckets[0].options, options);
        let rebuilt = StoreRegistry::from_settings(settings.clone());
        assert_eq!(rebuilt.settings(), settings);
        assert!(
            !format!("{settings:?}").contains("us-east-1"),
            "Debug names prefixes only"
        );
    }

    #[test]
    fn tables_set_the_cap_by_name() {
        assert!(is_store_option("store.max_concurrent_requests"));
        assert!(is_store_option("aws.secret_access_key"));
        assert!(!is_store_option("format.delimiter"));
        let registry = StoreRegistry::default();
        let url = Url::parse("s3://lake/x/").unwrap();
        let options = |cap: &str| {
            BTreeMap::from([
                ("store.max_concurrent_requests".to_string(), cap.to_string()),
                ("aws_region".to_string(), "us-east-1".to_string()),
            ])
        };
        registry.configure(&url, &options("4")).unwrap();
        let settings = table_settings(&url, &options("4")).unwrap();
        assert_eq!(settings.max_concurrent_requests, Some(4));
        assert_eq!(
            settings.options.len(),
            1,
            "the cap is no object_store option"
        );
        for bad in ["0", "-1", "many"] {
            let err = registry.configure(&url, &options(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid option store.max_concurrent_requests '{bad}' for s3://lake/x/: \
                     expected a whole number of at least 1"
                )
            );
        }
        let typo = BTreeMap::from([("store.max_requests".to_string(), "4".to_string())]);
        let err = registry.configure(&url, &typo).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown option 'store.max_requests' for s3://lake/x/"
        );
    }
}
