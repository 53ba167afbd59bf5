//! [`StoreRegistry`]: DataFusion's object-store registry, building stores on first use.
//!
//! Remote stores (everything but local files and memory) are wrapped in a
//! [`CountingStore`], so [`StoreRegistry::io`] reports requests and bytes per bucket.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use parking_lot::RwLock;
use url::Url;

use super::builder::build_store;
use super::counting_store::{Counters, CountingStore, StoreIo};
use super::settings::{StoreConfig, StoreSettings};
use crate::error::Result;

/// Object stores by `scheme://authority`, built from the URL the first time it is seen.
#[derive(Debug, Default)]
pub struct StoreRegistry {
    config: StoreConfig,
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    /// The counters of each remote store, kept when a store is rebuilt with new options.
    counters: RwLock<BTreeMap<String, Arc<Counters>>>,
}

impl StoreRegistry {
    /// A registry with these settings (the contents of `spate.toml`).
    pub fn new(config: StoreConfig) -> Self {
        StoreRegistry {
            config,
            stores: RwLock::new(HashMap::new()),
            counters: RwLock::new(BTreeMap::new()),
        }
    }

    /// Builds the store for `url` with `options` on top of the configured settings, and
    /// uses it from now on for that bucket or account (`CREATE EXTERNAL TABLE ... OPTIONS`).
    pub fn configure(&self, url: &Url, options: &BTreeMap<String, String>) -> Result<()> {
        let overrides = StoreSettings {
            options: options.clone(),
            ..StoreSettings::default()
        };
        let settings = self
            .config
            .settings_for(url.as_str())
            .merged_with(&overrides);
        let store = self.counted(url, build_store(url, &settings)?);
        self.stores.write().insert(key(url), store);
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

    /// `store` wrapped to count its requests, when it is remote.
    fn counted(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        if matches!(url.scheme(), "file" | "memory") {
            return store;
        }
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let name = key(&shown);
        let counters = Arc::clone(self.counters.write().entry(name.clone()).or_default());
        Arc::new(CountingStore::with_counters(name, store, counters))
    }
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
        let settings = self.config.settings_for(url.as_str());
        let store =
            build_store(url, &settings).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let store = self.counted(url, store);
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
}
