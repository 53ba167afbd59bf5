//! [`Session`]: the entry point of the library, and its [`SessionBuilder`].
//!
//! A session owns a DataFusion `SessionContext` set up the spate way: a memory pool of the
//! configured size that operators spill against, as many partitions as threads, spate's
//! table resolution for `--data` directories and `CREATE EXTERNAL TABLE`, and the executor
//! that runs physical plans ([`crate::execute`]). Sessions are cheap to clone; clones share
//! tables and settings.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use datafusion::catalog::TableProviderFactory;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::context::SessionContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;

use spate_connectors::object_stores::{StoreConfig, StoreRegistry};

use crate::catalog::{DataSchema, DirectoryTables, SpateTableFactory, TableSource};
use crate::config::{
    ByteSize, ExecutorKind, FaultSettings, SessionOptions, parse_fraction, parse_seed,
};
use crate::dataframe::DataFrame;
use crate::error::{Result, SpateError};
use crate::memory::PeakMemoryPool;
use crate::progress::Progress;
use crate::reader::DataFrameReader;
use spate_executor::FaultInjection;

/// The default catalog and schema names, as in DataFusion.
const CATALOG: &str = "datafusion";
const SCHEMA: &str = "public";
/// How many of the largest memory consumers an out-of-memory error lists.
const TOP_CONSUMERS_IN_ERRORS: NonZeroUsize = NonZeroUsize::new(3).unwrap();

/// A spate session: registers tables, runs SQL and builds DataFrames.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// let session = spate::Session::new()?;
/// let df = session.sql("select 1 + 1 as two").await?;
/// assert_eq!(df.count().await?, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

pub(crate) struct SessionInner {
    pub ctx: SessionContext,
    pub options: SessionOptions,
    pub schema: Arc<DataSchema>,
    pub params: HashMap<String, String>,
    pub progress: Arc<Progress>,
    pub memory: Arc<PeakMemoryPool>,
    pub stores: Arc<StoreRegistry>,
    pub bigquery: Arc<spate_bigquery::BigQueryRegistry>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with defaults sized from the machine: all cores, a memory limit that is
    /// a fraction of the memory available (cgroup limits included), and batches of 8192
    /// rows, fewer when each thread has less than 256 MiB of the limit (down to 1024).
    /// Shuffle partitions and their target size follow from each query's data.
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// assert!(session.options().threads >= 1);
    /// let small = spate::Session::builder()
    ///     .threads(2)
    ///     .memory_limit(spate::ByteSize::mib(64))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(small.context().state().config().batch_size(), 1024);
    /// ```
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// A builder to set the memory limit, threads and settings.
    ///
    /// ```
    /// use spate::{ByteSize, Session};
    /// let session = Session::builder()
    ///     .memory_limit(ByteSize::mib(512))
    ///     .threads(2)
    ///     .config("datafusion.execution.batch_size", "4096")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(session.options().threads, 2);
    /// ```
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// The options this session runs with.
    ///
    /// ```
    /// let session = spate::Session::builder().threads(3).build().unwrap();
    /// assert_eq!(session.options().threads, 3);
    /// ```
    pub fn options(&self) -> &SessionOptions {
        &self.inner.options
    }

    /// The DataFusion context underneath, for what spate does not wrap.
    ///
    /// ```
    /// let session = spate::Session::builder().threads(3).build().unwrap();
    /// assert_eq!(session.context().state().config().target_partitions(), 3);
    /// ```
    pub fn context(&self) -> &SessionContext {
        &self.inner.ctx
    }

    /// Counters of the statement running now (rows and bytes read), for progress displays.
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// assert!(session.progress().snapshot().is_none(), "nothing runs yet");
    /// ```
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.inner.progress)
    }

    /// Requests and bytes per remote object store (`s3://bucket`, `az://container`, ...)
    /// since the session started. Each statement's share is in its
    /// [`ExecutionMetrics::store_io`](crate::ExecutionMetrics::store_io).
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// assert!(session.store_io().is_empty(), "local files are not counted");
    /// ```
    pub fn store_io(&self) -> Vec<spate_connectors::object_stores::StoreIo> {
        self.inner.stores.io()
    }

    /// A reader for files: `session.read().format("csv").option("delimiter", "|").load(path)`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("x.csv"), "a\n1\n").unwrap();
    /// assert_eq!(session.read().csv(dir.path().join("x.csv")).await?.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn read(&self) -> DataFrameReader {
        DataFrameReader::new(self.clone())
    }

    /// Registers the file, directory or partitioned tree at `path` as table `name`, reading
    /// its schema now so that a bad path fails here.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("people.csv"), "name,age\nada,36\nalan,41\n").unwrap();
    /// let session = spate::Session::new()?;
    /// session.register("people", dir.path().join("people.csv")).await?;
    /// let df = session.sql("select name from people where age > 40").await?;
    /// assert_eq!(df.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub async fn register(&self, name: &str, path: impl AsRef<Path>) -> Result<()> {
        let location = path.as_ref().to_string_lossy().into_owned();
        if spate_bigquery::is_bigquery_location(&location) {
            return self.register_bigquery(name, &location).await;
        }
        self.register_source(TableSource::new(name, location)).await
    }

    pub(crate) async fn register_source(&self, source: TableSource) -> Result<()> {
        let table = crate::catalog::resolve_table(&self.inner.ctx.state(), &source).await?;
        self.inner.ctx.register_table(source.name.as_str(), table)?;
        Ok(())
    }

    /// Registers every entry of `dir` as a table named after it: `dir/lineitem.parquet` and
    /// `dir/lineitem/` both become `lineitem` (lower-cased, so unquoted SQL finds it).
    /// Tables are read when a query first uses them. Returns the table names.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("orders")).unwrap();
    /// std::fs::write(dir.path().join("orders/part-0.csv"), "id,total\n1,9.5\n").unwrap();
    /// std::fs::write(dir.path().join("Items.csv"), "id\n1\n").unwrap();
    /// let session = spate::Session::new()?;
    /// let tables = session.register_directory(dir.path())?;
    /// assert_eq!(tables, vec!["items", "orders"]);
    /// # Ok(()) }
    /// ```
    pub fn register_directory(&self, dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|_| SpateError::PathNotFound {
            path: dir.display().to_string(),
        })?;
        let mut tables = DirectoryTables::new(dir.display().to_string());
        for entry in entries {
            let entry = entry.map_err(|source| SpateError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            tables.add(
                &file_name,
                path.is_dir(),
                path.to_string_lossy().into_owned(),
            )?;
        }
        Ok(self.add_pending_tables(tables.into_tables()))
    }

    /// Registers every subdirectory and data file directly under the object-store
    /// directory `url` (`s3://bucket/warehouse/`) as a table named after it, like
    /// [`Session::register_directory`] does for a local one. Returns the table names.
    pub async fn register_remote_directory(&self, url: &str) -> Result<Vec<String>> {
        let found = crate::catalog::remote_directory_tables(&self.inner.ctx.state(), url).await?;
        Ok(self.add_pending_tables(found))
    }

    fn add_pending_tables(&self, found: HashMap<String, String>) -> Vec<String> {
        let mut names: Vec<String> = found.keys().cloned().collect();
        names.sort();
        for (name, location) in found {
            self.inner
                .schema
                .add_pending(TableSource::new(name, location));
        }
        names
    }

    /// Runs one SQL statement. DDL (`CREATE ...`, `DROP ...`, `SET ...`) takes effect now;
    /// a query returns a lazy [`DataFrame`]. `${name}` parameters of the session are
    /// filled in. For many statements use [`Session::run_script`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// session.sql("create view answer as select 42 as x").await?;
    /// let df = session.sql("select x from answer").await?;
    /// assert_eq!(spate::io::string_rows(&df.collect().await?)?, [["42"]]);
    /// # Ok(()) }
    /// ```
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let statements = crate::script::split_statements(sql);
        let [statement] = statements.as_slice() else {
            return Err(SpateError::InvalidOption {
                option: "sql".into(),
                value: sql.chars().take(60).collect(),
                reason: format!(
                    "expected one statement, found {}; use run_script for several",
                    statements.len()
                ),
            });
        };
        let prepared = self.prepare_statement("<sql>", statement)?;
        let plan = self.plan_statement(&prepared).await?;
        let df = self
            .inner
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| self.error(e))?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// Fails, naming `part`, when this session runs on a cluster: for what spate runs in
    /// this process around DataFusion's plans (Delta writes and merges), which a cluster
    /// cannot run yet.
    pub(crate) fn refuse_on_cluster(&self, part: &str) -> Result<()> {
        match &self.inner.options.cluster {
            Some(_) => Err(SpateError::Cluster(
                spate_cluster::ClusterError::Unsupported {
                    part: part.to_string(),
                    reason: "Delta tables do not run on a cluster in this version".into(),
                },
            )),
            None => Ok(()),
        }
    }

    /// Wraps a DataFusion error with this session's memory limit for the message.
    pub(crate) fn error(&self, err: datafusion::error::DataFusionError) -> SpateError {
        if crate::error::is_disk_full(&err) {
            let dir = self
                .inner
                .options
                .spill_dir
                .clone()
                .unwrap_or_else(std::env::temp_dir);
            return SpateError::DiskFull {
                dir: dir.display().to_string(),
            };
        }
        let limit = self.inner.options.memory_limit.to_string();
        SpateError::from_datafusion(err, Some(&limit))
    }
}

/// Builds a [`Session`]; see [`Session::builder`].
#[derive(Debug, Default)]
pub struct SessionBuilder {
    options: SessionOptions,
    faults: FaultSettings,
    errors: Vec<SpateError>,
}

impl SessionBuilder {
    /// The most memory queries may use before operators spill to disk.
    ///
    /// ```
    /// let s = spate::Session::builder().memory_limit(spate::ByteSize::mib(256)).build().unwrap();
    /// assert_eq!(s.options().memory_limit.to_string(), "256.0 MiB");
    /// ```
    pub fn memory_limit(mut self, limit: ByteSize) -> Self {
        self.options.memory_limit = limit;
        self
    }

    /// Worker threads and plan partitions (at least 1).
    ///
    /// ```
    /// let s = spate::Session::builder().threads(0).build().unwrap();
    /// assert_eq!(s.options().threads, 1);
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.options.threads = threads.max(1);
        self
    }

    /// Object-store settings per URL prefix (endpoints, regions, credentials), as in
    /// `spate.toml`.
    ///
    /// ```
    /// let config = spate_connectors::object_stores::StoreConfig::parse("[[stores]]\nprefix = \"s3://lake/\"\nregion = \"eu-west-1\"").unwrap();
    /// let s = spate::Session::builder().storage(config).build().unwrap();
    /// assert_eq!(s.options().storage.stores.len(), 1);
    /// ```
    pub fn storage(mut self, config: StoreConfig) -> Self {
        self.options.storage = config;
        self
    }

    /// Reduce partitions of every shuffle of spate's executor (by default the plan's).
    ///
    /// ```
    /// let s = spate::Session::builder().shuffle_partitions(7).build().unwrap();
    /// assert_eq!(s.options().shuffle_partitions, Some(7));
    /// ```
    pub fn shuffle_partitions(mut self, partitions: usize) -> Self {
        self.options.shuffle_partitions = Some(partitions.max(1));
        self
    }

    /// Where spill files go (default: the system's temp directory). Spill files are
    /// removed when their query ends.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let s = spate::Session::builder().spill_dir(dir.path()).build().unwrap();
    /// assert_eq!(s.options().spill_dir.as_deref(), Some(dir.path()));
    /// ```
    pub fn spill_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.options.spill_dir = Some(dir.into());
        self
    }

    /// Whether spate's executor re-plans queries from the sizes their stages actually
    /// produce (on by default): a partitioned join whose build side turns out small
    /// becomes a broadcast join, so its probe side is never shuffled.
    ///
    /// ```
    /// let s = spate::Session::builder().adaptive(false).build().unwrap();
    /// assert!(!s.options().adaptive);
    /// ```
    pub fn adaptive(mut self, adaptive: bool) -> Self {
        self.options.adaptive = adaptive;
        self
    }

    /// How many times spate's executor retries a failed task before the query fails
    /// (default 3, or `SPATE_TASK_RETRIES`; 0 turns retries off). Errors no retry can
    /// fix fail at once.
    ///
    /// ```
    /// let s = spate::Session::builder().task_retries(5).build().unwrap();
    /// assert_eq!(s.options().task_retries, 5);
    /// ```
    pub fn task_retries(mut self, retries: usize) -> Self {
        self.faults.task_retries = Some(retries);
        self
    }

    /// Faults for spate's executor to inject, to check that queries survive them: this
    /// fraction of task attempts fail, this fraction of shuffle blocks are corrupted, as
    /// the seed picks them. Without it, [`Self::build`] reads `SPATE_INJECT_TASK_FAILURES`,
    /// `SPATE_INJECT_SHUFFLE_CORRUPTION` and `SPATE_INJECT_SEED`.
    ///
    /// ```
    /// use spate::{FaultInjection, Fraction};
    /// let faults = FaultInjection {
    ///     task_failures: Fraction::new(0.2).unwrap(),
    ///     shuffle_corruption: Fraction::new(0.05).unwrap(),
    ///     seed: 7,
    /// };
    /// let s = spate::Session::builder().inject_faults(faults).build().unwrap();
    /// assert_eq!(s.options().faults, faults);
    /// ```
    pub fn inject_faults(mut self, faults: FaultInjection) -> Self {
        self.faults = FaultSettings {
            task_failures: Some(faults.task_failures),
            shuffle_corruption: Some(faults.shuffle_corruption),
            seed: Some(faults.seed),
            ..self.faults
        };
        self
    }

    /// Which executor runs queries (spate's by default).
    ///
    /// ```
    /// let s = spate::Session::builder().executor(spate::ExecutorKind::DataFusion).build().unwrap();
    /// assert_eq!(s.options().executor, spate::ExecutorKind::DataFusion);
    /// ```
    pub fn executor(mut self, executor: ExecutorKind) -> Self {
        self.options.executor = executor;
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
                self.options.cluster = Some(url);
                self.options.executor = ExecutorKind::Cluster;
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
        self.options.params.push((name.into(), value.into()));
        self
    }

    /// A setting by key: `spate.memory_limit`, `spate.threads`, `spate.executor`,
    /// `spate.task_retries`, `spate.inject_task_failures`, `spate.inject_shuffle_corruption`,
    /// `spate.inject_seed`, or any DataFusion `datafusion.*` option. Bad keys and values
    /// fail in [`Self::build`].
    ///
    /// ```
    /// let ok = spate::Session::builder().config("spate.threads", "2").config("datafusion.execution.batch_size", "1024").build().unwrap();
    /// assert_eq!(ok.options().threads, 2);
    /// assert!(spate::Session::builder().config("datafusion.no_such_key", "1").build().is_err());
    /// ```
    pub fn config(mut self, key: &str, value: &str) -> Self {
        let result = match key {
            "spate.memory_limit" => value.parse().map(|v| self.options.memory_limit = v),
            "spate.threads" => value
                .parse::<usize>()
                .map(|v| self.options.threads = v.max(1))
                .map_err(|e| SpateError::InvalidOption {
                    option: key.into(),
                    value: value.into(),
                    reason: e.to_string(),
                }),
            "spate.executor" => value.parse().map(|v| self.options.executor = v),
            "spate.task_retries" => value
                .parse::<usize>()
                .map(|v| self.faults.task_retries = Some(v))
                .map_err(|e| SpateError::InvalidOption {
                    option: key.into(),
                    value: value.into(),
                    reason: e.to_string(),
                }),
            "spate.inject_task_failures" => {
                parse_fraction(key, value).map(|v| self.faults.task_failures = Some(v))
            }
            "spate.inject_shuffle_corruption" => {
                parse_fraction(key, value).map(|v| self.faults.shuffle_corruption = Some(v))
            }
            "spate.inject_seed" => parse_seed(key, value).map(|v| self.faults.seed = Some(v)),
            _ => {
                self.options.settings.push((key.into(), value.into()));
                Ok(())
            }
        };
        if let Err(err) = result {
            self.errors.push(err);
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
        if let Some(err) = self.errors.pop() {
            return Err(err);
        }
        let mut options = self.options;
        let env = |var: &str| std::env::var(var).ok();
        options.faults = self.faults.resolve(env)?;
        if let Some(retries) = self.faults.task_retries(env)? {
            options.task_retries = retries;
        }
        let mut config = for_executor(
            &options,
            SessionConfig::new()
                .with_target_partitions(options.threads)
                .with_information_schema(true)
                .with_default_catalog_and_schema(CATALOG, SCHEMA),
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
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes = execution
            .sort_spill_reservation_bytes
            .min(usize::try_from(sort_reserve).unwrap_or(usize::MAX));
        for (key, value) in &options.settings {
            config
                .options_mut()
                .set(key, value)
                .map_err(|e| SpateError::InvalidOption {
                    option: key.clone(),
                    value: value.clone(),
                    reason: SpateError::from(e).to_string(),
                })?;
        }
        let limit = usize::try_from(options.memory_limit.bytes()).unwrap_or(usize::MAX);
        let pool = Arc::new(PeakMemoryPool::new(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            TOP_CONSUMERS_IN_ERRORS,
        ))));
        // No listing cache: pipelines write a directory and read it back in one session,
        // and DataFusion's cache never expires, so reads would miss the new files.
        let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
        let stores = Arc::new(StoreRegistry::new(options.storage.clone()));
        let disk = match &options.spill_dir {
            Some(dir) => DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            None => DiskManagerBuilder::default(),
        };
        let runtime = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(disk)
            .with_object_store_registry(Arc::clone(&stores) as _)
            .with_memory_pool(Arc::clone(&pool) as _)
            .with_cache_manager(caches)
            .build_arc()?;
        let bigquery = Arc::new(spate_bigquery::BigQueryRegistry::new(
            options.storage.clone(),
        ));
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_table_factories(table_factories(&stores, &bigquery))
            .build();
        let state = match &options.cluster {
            Some(url) => spate_cluster::client_state(state, url)?,
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
