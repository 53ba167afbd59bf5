//! [`Session`]: the entry point of the library, and its [`SessionBuilder`].
//!
//! A session owns a DataFusion `SessionContext` set up the spate way: a memory pool of the
//! configured size that operators spill against, as many partitions as threads, spate's
//! table resolution for `--data` directories and `CREATE EXTERNAL TABLE`, and the executor
//! that runs physical plans ([`crate::execute`]). Sessions are cheap to clone; clones share
//! tables and settings.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::execution::context::SessionContext;

use spate_connectors::object_stores::StoreRegistry;

use crate::catalog::{DataSchema, DirectoryTables, TableSource};
use crate::config::{SessionOptions, SpateConfig};
use crate::dataframe::DataFrame;
use crate::error::{Result, SpateError};
use crate::memory::PeakMemoryPool;
use crate::progress::Progress;
use crate::reader::DataFrameReader;
pub use crate::session_builder::SessionBuilder;

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

    /// spate's settings as they are now: as built, changed by any `SET spate.x = ...`
    /// since. The next statement runs with these.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let session = spate::Session::builder().shuffle_partitions(4).build()?;
    /// session.sql("set spate.shuffle_partitions = 8").await?;
    /// assert_eq!(session.config().shuffle_partitions, Some(8));
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> SpateConfig {
        SpateConfig::of(self.inner.ctx.state().config().options())
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

    /// Counters of the statement running now (rows and bytes read, and under spate's
    /// executor its stages with their tasks), for progress displays.
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

    /// The names of the session's tables and views, sorted: those registered, those found
    /// in data directories (not read yet until a query uses them) and those created by
    /// SQL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let session = spate::Session::new()?;
    /// session.sql("create view b as select 1 as x").await?;
    /// session.sql("create view a as select 2 as y").await?;
    /// assert_eq!(session.table_names(), ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn table_names(&self) -> Vec<String> {
        use datafusion::catalog::SchemaProvider;
        self.inner.schema.table_names()
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
    /// this process outside DataFusion's plans (MERGE, writes into sinks other than Delta),
    /// which a cluster cannot run yet.
    pub(crate) fn refuse_on_cluster(&self, part: &str) -> Result<()> {
        match &self.inner.options.cluster {
            Some(_) => Err(SpateError::Cluster(
                spate_cluster::ClusterError::Unsupported {
                    part: part.to_string(),
                    reason: "it runs in this process, outside the plans a cluster runs".into(),
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
