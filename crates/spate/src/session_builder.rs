//! [`SessionBuilder`]: settings in, a [`Session`] out.
//!
//! Every spate setting the builder takes, from a typed method (`.shuffle_partitions(8)`),
//! a key (`.config("spate.shuffle_partitions", "8")`), the `[spate]` table of
//! `spate.toml` (`.storage(file)`) or the environment's fault injection
//! (`.fault_injection_from_env()`), lands in one [`SpateConfig`], which becomes the
//! session's DataFusion configuration extension; later calls override earlier ones, key
//! by key. [`SessionBuilder::build`] then resolves what depends on the machine (memory
//! limit, threads) and builds the DataFusion context around them.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::catalog::TableProviderFactory;
use datafusion::config::ExtensionOptions;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::context::SessionContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;

use spate_connectors::object_stores::{StoreConfig, StoreRegistry};
use spate_executor::FaultInjection;

use crate::catalog::{DataSchema, SpateTableFactory};
use crate::config::{
    ByteSize, ExecutorKind, FAULT_ENV, SessionOptions, SpateConfig, SpateExtension,
};
use crate::error::{Result, SpateError};
use crate::memory::PeakMemoryPool;
use crate::progress::Progress;
use crate::session::{Session, SessionInner};
use crate::spark_settings::SparkSettings;

/// The default catalog and schema names, as in DataFusion.
pub(crate) const CATALOG: &str = "datafusion";
pub(crate) const SCHEMA: &str = "public";
/// How many of the largest memory consumers an out-of-memory error lists.
const TOP_CONSUMERS_IN_ERRORS: NonZeroUsize = NonZeroUsize::new(3).unwrap();

/// Builds a [`Session`]; see [`Session::builder`].
#[derive(Debug, Default)]
pub struct SessionBuilder {
    config: SpateConfig,
    /// DataFusion settings (`datafusion.*` keys), checked in [`Self::build`].
    datafusion: Vec<(String, String)>,
    cluster: Option<spate_cluster::ClusterUrl>,
    params: Vec<(String, String)>,
    storage: StoreConfig,
    errors: Vec<SpateError>,
}

impl SessionBuilder {
    /// The most memory queries may use before operators spill to disk
    /// (`spate.memory_limit`).
    ///
    /// ```
    /// let s = spate::Session::builder().memory_limit(spate::ByteSize::mib(256)).build().unwrap();
    /// assert_eq!(s.options().memory_limit.to_string(), "256.0 MiB");
    /// ```
    pub fn memory_limit(mut self, limit: ByteSize) -> Self {
        self.config.memory_limit = Some(limit);
        self
    }

    /// Worker threads and plan partitions, at least 1 (`spate.threads`).
    ///
    /// ```
    /// let s = spate::Session::builder().threads(0).build().unwrap();
    /// assert_eq!(s.options().threads, 1);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.config.threads = Some(threads.max(1));
        self
    }

    /// The contents of `spate.toml`: object-store settings per URL prefix (endpoints,
    /// regions, credentials), and the settings of its `[spate]` and `[datafusion]` tables,
    /// applied now (so later calls override them).
    ///
    /// ```
    /// let file = "[spate]\nshuffle_partitions = 6\n[[stores]]\nprefix = \"s3://lake/\"\nregion = \"eu-west-1\"";
    /// let config = spate_connectors::object_stores::StoreConfig::parse(file).unwrap();
    /// let s = spate::Session::builder().storage(config).build().unwrap();
    /// assert_eq!(s.options().storage.stores.len(), 1);
    /// assert_eq!(s.config().shuffle_partitions, Some(6));
    /// ```
    pub fn storage(mut self, config: StoreConfig) -> Self {
        for (key, value) in &config.settings {
            self = self.config(key, value);
        }
        self.storage = config;
        self
    }

    /// Reduce partitions of every shuffle of spate's executor, at least 1
    /// (`spate.shuffle_partitions`; by default chosen per query).
    ///
    /// ```
    /// let s = spate::Session::builder().shuffle_partitions(7).build().unwrap();
    /// assert_eq!(s.config().shuffle_partitions, Some(7));
    /// ```
    pub fn shuffle_partitions(mut self, partitions: usize) -> Self {
        self.config.shuffle_partitions = Some(partitions.max(1));
        self
    }

    /// Where spill files go (`spate.spill_dir`; default: the system's temp directory).
    /// Spill files are removed when their query ends.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let s = spate::Session::builder().spill_dir(dir.path()).build().unwrap();
    /// assert_eq!(s.options().spill_dir.as_deref(), Some(dir.path()));
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        match dir.into().into_os_string().into_string() {
            Ok(dir) => self.config.spill_dir = Some(dir),
            Err(dir) => self.errors.push(SpateError::InvalidOption {
                option: "spate.spill_dir".into(),
                value: dir.to_string_lossy().into_owned(),
                reason: "the path is not valid UTF-8".into(),
            }),
        }
        self
    }

    /// Whether spate's executor re-plans queries from the sizes their stages actually
    /// produce (`spate.adaptive`, on by default): a partitioned join whose build side
    /// turns out small becomes a broadcast join, so its probe side is never shuffled.
    ///
    /// ```
    /// let s = spate::Session::builder().adaptive(false).build().unwrap();
    /// assert!(!s.config().adaptive);
    /// ```
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.config.adaptive = adaptive;
        self
    }

    /// How many times spate's executor retries a failed task before the query fails
    /// (`spate.task_retries`, default 3; 0 turns retries off). Errors no retry can fix
    /// fail at once.
    ///
    /// ```
    /// let s = spate::Session::builder().task_retries(5).build().unwrap();
    /// assert_eq!(s.config().task_retries, 5);
    /// ```
    pub fn task_retries(mut self, retries: usize) -> Self {
        self.config.task_retries = retries;
        self
    }

    /// Faults for spate's executor to inject, to check that queries survive them: this
    /// fraction of task attempts fail, this fraction of shuffle blocks are corrupted, as
    /// the seed picks them (`spate.inject_*`).
    ///
    /// ```
    /// use spate::{FaultInjection, Fraction};
    /// let faults = FaultInjection {
    ///     task_failures: Fraction::new(0.2).unwrap(),
    ///     shuffle_corruption: Fraction::new(0.05).unwrap(),
    ///     seed: 7,
    /// };
    /// let s = spate::Session::builder().inject_faults(faults).build().unwrap();
    /// assert_eq!(s.config().faults(), Some(faults));
    /// ```
    pub fn inject_faults(mut self, faults: FaultInjection) -> Self {
        self.config.inject_task_failures = faults.task_failures;
        self.config.inject_shuffle_corruption = faults.shuffle_corruption;
        self.config.inject_seed = faults.seed;
        self
    }

    /// The explicit switch for fault injection from the environment, for test and
    /// benchmark harnesses that start spate as a process: `SPATE_INJECT_TASK_FAILURES`,
    /// `SPATE_INJECT_SHUFFLE_CORRUPTION`, `SPATE_INJECT_SEED` and `SPATE_TASK_RETRIES`
    /// become `spate.inject_task_failures`, `spate.inject_shuffle_corruption`,
    /// `spate.inject_seed` and `spate.task_retries`. Nothing else reads these variables,
    /// so a stray one cannot make a normal run's tasks fail. A bad value fails
    /// [`Self::build`], naming the variable.
    pub fn fault_injection_from_env(mut self) -> Self {
        for (var, key) in FAULT_ENV {
            if let Ok(value) = std::env::var(var) {
                self = self.config(key, &value);
                if let Some(SpateError::InvalidOption { option, .. }) = self.errors.last_mut()
                    && option == key
                {
                    *option = var.to_string();
                }
            }
        }
        self
    }

    /// Which executor runs queries (`spate.executor`; spate's by default).
    ///
    /// ```
    /// let s = spate::Session::builder().executor(spate::ExecutorKind::DataFusion).build().unwrap();
    /// assert_eq!(s.options().executor, spate::ExecutorKind::DataFusion);
    /// ```
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.config.executor = executor;
        self
    }

    /// The SQL dialect statements are written in (`spate.dialect`; DataFusion's by
    /// default). In the Spark dialect the session parses Spark SQL and knows Spark's
    /// names of functions such as `array` (see `docs/spark-sql.md`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let s = spate::Session::builder().dialect(spate::SqlDialect::Spark).build()?;
    /// assert_eq!(s.config().dialect, spate::SqlDialect::Spark);
    /// s.sql("SET spark.sql.shuffle.partitions = 16").await?;
    /// let df = s.sql("SELECT `x` FROM VALUES (1), (2) AS t(`x`)").await?;
    /// assert_eq!(df.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn dialect(mut self, dialect: crate::SqlDialect) -> Self {
        self.config.dialect = dialect;
        self
    }

    /// Runs statements on the cluster whose scheduler listens at `url` (`df://HOST:PORT`,
    /// see `spate cluster`) instead of in this process. Tables are resolved here, as
    /// always; the scheduler and executors read their files at the same paths, so they
    /// must see the same files (one machine, or a shared file system). Statements that
    /// cannot run on a cluster yet (Delta tables, object stores) fail before anything runs.
    /// A malformed URL fails in [`Self::build`]; an unreachable scheduler when a statement
    /// runs.
    ///
    /// ```
    /// let s = spate::Session::builder().cluster("df://127.0.0.1:50050").build().unwrap();
    /// assert_eq!(s.options().executor, spate::ExecutorKind::Cluster);
    /// assert!(spate::Session::builder().cluster("127.0.0.1:50050").build().is_err());
    /// ```
    pub fn cluster(mut self, url: &str) -> Self {
        match url.parse() {
            Ok(url) => {
                self.cluster = Some(url);
                self.config.executor = ExecutorKind::Cluster;
            }
            Err(err) => self.errors.push(SpateError::Cluster(err)),
        }
        self
    }

    /// A value for `${name}` in SQL.
    ///
    /// ```
    /// let s = spate::Session::builder().param("day", "2026-11-23").build().unwrap();
    /// let script = s.prepare_script("x.sql", "select '${day}'").unwrap();
    /// assert_eq!(script.statements[0].sql, "select '2026-11-23'");
    /// ```
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// A setting by key: any `spate.*` key of [`SpateConfig`] (see
    /// `docs/configuration.md`), or any DataFusion `datafusion.*` option. Bad keys and
    /// values fail in [`Self::build`], naming the key.
    ///
    /// ```
    /// let ok = spate::Session::builder()
    ///     .config("spate.threads", "2")
    ///     .config("spate.shuffle_partitions", "8")
    ///     .config("spate.adaptive", "false")
    ///     .config("datafusion.execution.batch_size", "1024")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(ok.options().threads, 2);
    /// assert_eq!(ok.config().shuffle_partitions, Some(8));
    /// assert!(spate::Session::builder().config("datafusion.no_such_key", "1").build().is_err());
    /// assert!(spate::Session::builder().config("spate.memory_limit", "lots").build().is_err());
    /// ```
    pub fn config(mut self, key: &str, value: &str) -> Self {
        match key.strip_prefix("spate.") {
            Some(name) => {
                if let Err(err) = self.config.set(name, value) {
                    self.errors.push(invalid_setting(key, value, err));
                }
            }
            None => self.datafusion.push((key.into(), value.into())),
        }
        self
    }

    /// Builds the session.
    ///
    /// ```
    /// let session = spate::Session::builder().build().unwrap();
    /// assert_eq!(session.options().executor, spate::ExecutorKind::Spate);
    /// ```
    pub fn build(mut self) -> Result<Session> {
        if !self.errors.is_empty() {
            return Err(self.errors.swap_remove(0));
        }
        let options = self.resolve()?;
        let config = self.session_config(&options)?;
        let limit = usize::try_from(options.memory_limit.bytes()).unwrap_or(usize::MAX);
        let pool = Arc::new(PeakMemoryPool::new(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            TOP_CONSUMERS_IN_ERRORS,
        ))));
        let stores = Arc::new(StoreRegistry::new(options.storage.clone()));
        let runtime = runtime(&options, &pool, &stores)?;
        let bigquery = Arc::new(spate_bigquery::BigQueryRegistry::new(
            options.storage.clone(),
        ));
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features();
        if self.config.dialect == crate::SqlDialect::Spark {
            state = crate::dialect::with_spark_functions(state);
        }
        let mut state = state
            .with_query_planner(crate::planner::SpateQueryPlanner::new())
            .with_table_factories(table_factories(&stores, &bigquery))
            .build();
        for sink in crate::sink::formats(&stores, &bigquery) {
            state.register_file_format(sink, true)?;
        }
        if self.config.dialect == crate::SqlDialect::Spark {
            crate::spark_functions::register(&mut state)?;
        }
        let state = match &options.cluster {
            Some(url) => spate_cluster::client_state(state, url, Arc::clone(&stores))?,
            None => state,
        };
        let ctx = SessionContext::new_with_state(state);
        let schema = Arc::new(DataSchema::default());
        ctx.catalog(CATALOG)
            .ok_or_else(|| SpateError::InvalidOption {
                option: "datafusion.catalog.default_catalog".into(),
                value: CATALOG.into(),
                reason: "the default catalog is missing".into(),
            })?
            .register_schema(SCHEMA, Arc::clone(&schema) as _)?;
        schema.attach(ctx.state_weak_ref());
        let params = options.params.iter().cloned().collect();
        Ok(Session {
            inner: Arc::new(SessionInner {
                ctx,
                options,
                schema,
                params,
                progress: Arc::new(Progress::default()),
                memory: pool,
                stores,
                bigquery,
            }),
        })
    }

    /// The session's options, with the machine's defaults filled into the settings they
    /// stand for (so `SHOW ALL` shows the memory limit and threads in use).
    fn resolve(&mut self) -> Result<SessionOptions> {
        if self.config.shuffle_partitions == Some(0) {
            return Err(SpateError::InvalidOption {
                option: "spate.shuffle_partitions".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let memory_limit = *self
            .config
            .memory_limit
            .get_or_insert_with(crate::system::default_memory_limit);
        let threads = self
            .config
            .threads
            .get_or_insert_with(crate::system::available_cores);
        *threads = (*threads).max(1);
        Ok(SessionOptions {
            memory_limit,
            threads: *threads,
            executor: self.config.executor,
            cluster: self.cluster.clone(),
            spill_dir: self.config.spill_dir.as_ref().map(Into::into),
            params: std::mem::take(&mut self.params),
            storage: std::mem::take(&mut self.storage),
        })
    }

    /// DataFusion's configuration: spate's defaults, the executor's needs, the spate
    /// extension, then the `datafusion.*` settings given.
    fn session_config(&self, options: &SessionOptions) -> Result<SessionConfig> {
        let mut config = for_executor(
            options,
            SessionConfig::new()
                .with_target_partitions(options.threads)
                .with_information_schema(true)
                .with_default_catalog_and_schema(CATALOG, SCHEMA)
                .with_option_extension(SpateExtension(self.config.clone()))
                .with_option_extension(SparkSettings::default()),
        )?;
        // Each sort keeps a merge buffer out of the pool; DataFusion's fixed 10 MiB makes
        // every sort fail under small limits, so it is sized from the limit (users may
        // still set it).
        let sort_reserve = options.memory_limit.bytes() / (4 * options.threads as u64).max(1);
        // Batches sized from the memory each thread has (users may still set it).
        config = config.with_batch_size(crate::system::default_batch_size(
            options.memory_limit,
            options.threads,
        ));
        // Spark types `1.5` as `decimal(2,1)` (see `spark_literals`).
        if self.config.dialect == crate::SqlDialect::Spark {
            config.options_mut().sql_parser.parse_float_as_decimal = true;
        }
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes = execution
            .sort_spill_reservation_bytes
            .min(usize::try_from(sort_reserve).unwrap_or(usize::MAX));
        for (key, value) in &self.datafusion {
            config
                .options_mut()
                .set(key, value)
                .map_err(|e| invalid_setting(key, value, e))?;
        }
        Ok(config)
    }
}

/// The error for setting `key` to `value`, with DataFusion's reason.
fn invalid_setting(key: &str, value: &str, err: DataFusionError) -> SpateError {
    let reason = match err {
        DataFusionError::Configuration(reason) => reason,
        DataFusionError::Context(context, _) => context,
        other => SpateError::from(other).to_string(),
    };
    SpateError::InvalidOption {
        option: key.into(),
        value: value.into(),
        reason,
    }
}

/// The runtime: the memory pool, spill files in the spill directory, spate's object
/// stores, and no listing cache (pipelines write a directory and read it back in one
/// session, and DataFusion's cache never expires, so reads would miss the new files).
fn runtime(
    options: &SessionOptions,
    pool: &Arc<PeakMemoryPool>,
    stores: &Arc<StoreRegistry>,
) -> Result<Arc<RuntimeEnv>> {
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let disk = match &options.spill_dir {
        Some(dir) => {
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()]))
        }
        None => DiskManagerBuilder::default(),
    };
    Ok(RuntimeEnvBuilder::new()
        .with_disk_manager_builder(disk)
        .with_object_store_registry(Arc::clone(stores) as _)
        .with_memory_pool(Arc::clone(pool) as _)
        .with_cache_manager(caches)
        .build_arc()?)
}

/// `config` set up for the session's executor: spate's planner settings, or Ballista's
/// for a cluster.
fn for_executor(options: &SessionOptions, mut config: SessionConfig) -> Result<SessionConfig> {
    match (options.executor, &options.cluster) {
        (ExecutorKind::Spate, None) => spate_executor::configure_session(&mut config),
        (ExecutorKind::Cluster, Some(_)) => config = spate_cluster::client_config(config),
        (ExecutorKind::DataFusion, None) => {}
        (_, cluster) => {
            return Err(SpateError::InvalidOption {
                option: "executor".into(),
                value: format!("{:?}", options.executor),
                reason: match cluster {
                    Some(url) => format!("statements run on the cluster at {url}"),
                    None => {
                        "a cluster is chosen by its URL: Session::builder().cluster(url)".into()
                    }
                },
            });
        }
    }
    Ok(config)
}

/// The factories of `CREATE EXTERNAL TABLE ... STORED AS`: spate's table resolution for
/// files, and Delta tables.
fn table_factories(
    stores: &Arc<StoreRegistry>,
    bigquery: &Arc<spate_bigquery::BigQueryRegistry>,
) -> HashMap<String, Arc<dyn TableProviderFactory>> {
    let delta: Arc<dyn TableProviderFactory> =
        Arc::new(spate_delta::DeltaTableFactory::new(Arc::clone(stores)));
    let factory: Arc<dyn TableProviderFactory> =
        Arc::new(SpateTableFactory::new(Arc::clone(stores)));
    let mut factories: HashMap<String, Arc<dyn TableProviderFactory>> =
        ["PARQUET", "CSV", "TSV", "JSON", "NDJSON", "ARROW"]
            .into_iter()
            .map(|name| (name.to_string(), Arc::clone(&factory)))
            .collect();
    factories.insert("DELTA".to_string(), delta);
    factories.insert(
        "BIGQUERY".to_string(),
        crate::bigquery::table_factory(bigquery),
    );
    factories
}
