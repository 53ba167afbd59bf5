//! [`ServerRuntime`]: what the scheduler and the executors build their DataFusion
//! sessions and runtimes from.
//!
//! Both sides read files through spate's object-store registry (`spate-connectors`:
//! stores built on first use from the settings the statement's client sent
//! ([`crate::shipped_stores`]) over this process's environment variables) and keep no
//! listing cache: a pipeline writes a directory and reads it back, and DataFusion's
//! listing cache never expires, so the scheduler would plan the read from the listing
//! before the write. Their session settings start from Ballista's defaults with the
//! extensions clients send registered ([`ServerRuntime::config_producer`]), so Ballista
//! sets those keys rather than dropping them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ballista_core::extension::SessionConfigExt;
use ballista_core::extension::{
    ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
};
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_scheduler::SessionBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

use spate_connectors::object_stores::{StoreConfig, StoreRegistry};

use crate::scheduler_planner::SchedulerQueryPlanner;
use crate::shipped_stores::{ShippedStores, shipped};

/// Registers, on a session config, the configuration extensions that clients' statements
/// carry (spate's `spate.*` settings), so that servers keep their keys.
pub type RegisterSettings = fn(SessionConfig) -> SessionConfig;

/// How many registries of distinct shipped settings a process keeps (each with its
/// stores' connections); past that it starts over.
const MAX_REGISTRIES: usize = 64;

/// The object stores and caches a server process shares among its sessions.
#[derive(Debug, Clone)]
pub(crate) struct ServerRuntime {
    /// Stores from this process's environment alone, for statements that send no settings.
    environment: Arc<StoreRegistry>,
    /// Stores per settings sent (encoded), so tasks of the same settings share stores.
    shipped: Arc<Mutex<HashMap<String, Arc<StoreRegistry>>>>,
    register_settings: RegisterSettings,
}

impl ServerRuntime {
    /// Stores from the process's environment (`AWS_*`, `GOOGLE_*`, `AZURE_*` variables)
    /// under what clients send; sessions with the extensions `register_settings` adds.
    pub fn new(register_settings: RegisterSettings) -> Self {
        ServerRuntime {
            environment: Arc::new(StoreRegistry::new(StoreConfig::default())),
            shipped: Arc::default(),
            register_settings,
        }
    }

    /// The session config every statement's settings are set on: Ballista's defaults,
    /// spate's extensions and the shipped stores'.
    pub fn config_producer(&self) -> ConfigProducer {
        let register = self.register_settings;
        Arc::new(move || {
            register(SessionConfig::new_with_ballista())
                .with_option_extension(ShippedStores::default())
        })
    }

    /// The stores of a statement whose settings are `config`.
    fn stores(&self, config: &SessionConfig) -> datafusion::error::Result<Arc<StoreRegistry>> {
        let Some((key, settings)) = shipped(config)? else {
            return Ok(Arc::clone(&self.environment));
        };
        let mut registries = self
            .shipped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !registries.contains_key(&key) && registries.len() >= MAX_REGISTRIES {
            registries.clear();
        }
        Ok(Arc::clone(registries.entry(key).or_insert_with(|| {
            Arc::new(StoreRegistry::from_settings(settings))
        })))
    }

    /// A runtime for a statement whose settings are `config`, whose spill files go to
    /// `temp_dir` (DataFusion's default when `None`).
    pub fn runtime_env(
        &self,
        config: &SessionConfig,
        temp_dir: Option<&PathBuf>,
    ) -> datafusion::error::Result<Arc<RuntimeEnv>> {
        let mut builder = RuntimeEnvBuilder::new()
            .with_object_store_registry(self.stores(config)? as _)
            .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0));
        if let Some(dir) = temp_dir {
            builder = builder.with_temp_file_path(dir.clone());
        }
        builder.build_arc()
    }

    /// The scheduler's sessions: Ballista's default session (its optimizer rules and
    /// functions) on this runtime, planned by [`SchedulerQueryPlanner`].
    pub fn session_builder(&self) -> SessionBuilder {
        let runtime = self.clone();
        Arc::new(move |config: SessionConfig| {
            let runtime_env = runtime.runtime_env(&config, None)?;
            Ok(SessionStateBuilder::new()
                .with_default_features()
                .with_config(config)
                .with_runtime_env(runtime_env)
                .with_query_planner(Arc::new(SchedulerQueryPlanner::default()))
                .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
                .with_scalar_functions(ballista_scalar_functions())
                .with_aggregate_functions(ballista_aggregate_functions())
                .with_window_functions(ballista_window_functions())
                .build())
        })
    }

    /// The executors' task runtimes, spilling into `work_dir`. Ballista adds each task's
    /// memory pool on top.
    pub fn runtime_producer(&self, work_dir: PathBuf) -> RuntimeProducer {
        let runtime = self.clone();
        Arc::new(move |config: &SessionConfig| runtime.runtime_env(config, Some(&work_dir)))
    }
}
