//! [`ServerRuntime`]: what the scheduler and the executors build their DataFusion
//! sessions and runtimes from.
//!
//! Both sides read files through spate's object-store registry (`spate-connectors`:
//! stores built from each cloud's environment variables on first use) and keep no listing
//! cache: a pipeline writes a directory and reads it back, and DataFusion's listing cache
//! never expires, so the scheduler would plan the read from the listing before the write.

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::RuntimeProducer;
use ballista_core::extension::{
    ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
};
use ballista_scheduler::SessionBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

use spate_connectors::object_stores::{StoreConfig, StoreRegistry};

use crate::scheduler_planner::SchedulerQueryPlanner;

/// The object stores and caches a server process shares among its sessions.
#[derive(Debug, Clone)]
pub(crate) struct ServerRuntime {
    stores: Arc<StoreRegistry>,
}

impl ServerRuntime {
    /// Stores from the process's environment (`AWS_*`, `GOOGLE_*`, `AZURE_*` variables).
    pub fn from_environment() -> Self {
        ServerRuntime {
            stores: Arc::new(StoreRegistry::new(StoreConfig::default())),
        }
    }

    /// A runtime whose spill files go to `temp_dir` (DataFusion's default when `None`).
    pub fn runtime_env(
        &self,
        temp_dir: Option<&PathBuf>,
    ) -> datafusion::error::Result<Arc<RuntimeEnv>> {
        let mut builder = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::clone(&self.stores) as _)
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
            Ok(SessionStateBuilder::new()
                .with_default_features()
                .with_config(config)
                .with_runtime_env(runtime.runtime_env(None)?)
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
        Arc::new(move |_config: &SessionConfig| runtime.runtime_env(Some(&work_dir)))
    }
}
