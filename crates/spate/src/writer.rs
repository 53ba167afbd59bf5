//! [`DataFrameWriter`]: writes a DataFrame's rows to files, with Spark's save modes.
//!
//! # Algorithm
//! Rows are first written by DataFusion's file sinks into a hidden staging path beside the
//! target (`.spate-staging-<id>-<name>`), so that a failed write leaves nothing behind at
//! the target. Then, by save mode:
//! - `ErrorIfExists` / `Ignore`: checked before anything runs; the staged result is moved
//!   into place with one rename.
//! - `Overwrite`: the old target is renamed aside, the staged result renamed in, and the
//!   old target removed, so readers see either the old or the new data.
//! - `Append`: each staged file is moved into the target directory (same relative path,
//!   so partition directories merge).
//!
//! A target whose name ends in the format's extension (`out/report.parquet`) is written as
//! one file; any other target is a directory of files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::logical_expr::LogicalPlanBuilder;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::catalog::FileFormatKind;
use crate::dataframe::DataFrame;
use crate::error::{Result, SpateError};

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaveMode {
    /// Fail if the target exists (the default, as in Spark).
    #[default]
    ErrorIfExists,
    /// Replace the target.
    Overwrite,
    /// Add files to the target directory.
    Append,
    /// Do nothing if the target exists.
    Ignore,
}

impl std::str::FromStr for SaveMode {
    type Err = SpateError;

    /// A COPY's `mode` option: `append`, `overwrite`, `error` (or `errorifexists`),
    /// `ignore`, case-insensitive.
    ///
    /// ```
    /// assert_eq!("Overwrite".parse::<spate::SaveMode>().ok(), Some(spate::SaveMode::Overwrite));
    /// assert!("replace".parse::<spate::SaveMode>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "append" => Ok(SaveMode::Append),
            "overwrite" => Ok(SaveMode::Overwrite),
            "error" | "errorifexists" => Ok(SaveMode::ErrorIfExists),
            "ignore" => Ok(SaveMode::Ignore),
            _ => Err(SpateError::InvalidOption {
                option: "mode".into(),
                value: text.to_string(),
                reason: "expected append, overwrite, error or ignore".into(),
            }),
        }
    }
}

impl SaveMode {
    /// The mode as a COPY's `mode` option takes it.
    pub(crate) fn option_value(self) -> &'static str {
        match self {
            SaveMode::ErrorIfExists => "error",
            SaveMode::Overwrite => "overwrite",
            SaveMode::Append => "append",
            SaveMode::Ignore => "ignore",
        }
    }
}

impl From<SaveMode> for spate_delta::WriteMode {
    fn from(mode: SaveMode) -> Self {
        match mode {
            SaveMode::ErrorIfExists => spate_delta::WriteMode::ErrorIfExists,
            SaveMode::Overwrite => spate_delta::WriteMode::Overwrite,
            SaveMode::Append => spate_delta::WriteMode::Append,
            SaveMode::Ignore => spate_delta::WriteMode::Ignore,
        }
    }
}

impl From<SaveMode> for spate_bigquery::WriteMode {
    fn from(mode: SaveMode) -> Self {
        match mode {
            SaveMode::ErrorIfExists => spate_bigquery::WriteMode::ErrorIfExists,
            SaveMode::Overwrite => spate_bigquery::WriteMode::Overwrite,
            SaveMode::Append => spate_bigquery::WriteMode::Append,
            SaveMode::Ignore => spate_bigquery::WriteMode::Ignore,
        }
    }
}

/// Writes a DataFrame; see [`DataFrame::write`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// use spate::{SaveMode, Session};
/// let dir = tempfile::tempdir().unwrap();
/// let session = Session::new()?;
/// let df = session.sql("select * from (values ('2026-11-23', 1), ('2026-11-24', 2)) t(day, n)").await?;
/// let out = dir.path().join("counts");
/// let written = df.clone().write().mode(SaveMode::Overwrite).partition_by(&["day"]).parquet(&out).await?;
/// assert_eq!(written, 2);
/// assert!(out.join("day=2026-11-23").is_dir());
/// assert!(df.write().parquet(&out).await.is_err()); // ErrorIfExists
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DataFrameWriter {
    df: DataFrame,
    mode: SaveMode,
    partition_by: Vec<String>,
    options: HashMap<String, String>,
}

impl DataFrameWriter {
    pub(crate) fn new(df: DataFrame) -> Self {
        DataFrameWriter {
            df,
            mode: SaveMode::default(),
            partition_by: Vec::new(),
            options: HashMap::new(),
        }
    }

    /// What to do when the target exists.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::SaveMode;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t");
    /// df.clone().write().parquet(&path).await?;
    /// assert_eq!(df.write().mode(SaveMode::Ignore).parquet(&path).await?, 0);
    /// # Ok(()) }
    /// ```
    pub fn mode(mut self, mode: SaveMode) -> Self {
        self.mode = mode;
        self
    }

    /// Writes one directory per value of these columns (`day=2026-11-23/`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// df.write().partition_by(&["name"]).parquet(dir.path().join("t")).await?;
    /// assert!(dir.path().join("t/name=a").is_dir());
    /// # Ok(()) }
    /// ```
    pub fn partition_by(mut self, columns: &[&str]) -> Self {
        self.partition_by = columns.iter().map(|c| c.to_string()).collect();
        self
    }

    /// A writer option: `compression`, `delimiter`, `header`, or any DataFusion `format.*`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.csv");
    /// df.write().option("delimiter", "|").csv(&path).await?;
    /// assert!(std::fs::read_to_string(&path).unwrap().starts_with("id|name|price"));
    /// # Ok(()) }
    /// ```
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// Writes Parquet; returns the number of rows written.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(df.write().parquet(dir.path().join("one.parquet")).await?, 2);
    /// assert!(dir.path().join("one.parquet").is_file());
    /// # Ok(()) }
    /// ```
    pub async fn parquet(self, path: impl AsRef<Path>) -> Result<u64> {
        self.save(FileFormatKind::Parquet, path.as_ref()).await
    }

    /// Writes CSV with a header line; returns the number of rows written.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(df.write().csv(dir.path().join("rows")).await?, 2);
    /// assert!(dir.path().join("rows").is_dir());
    /// # Ok(()) }
    /// ```
    pub async fn csv(self, path: impl AsRef<Path>) -> Result<u64> {
        self.save(FileFormatKind::Csv, path.as_ref()).await
    }

    /// Writes newline-delimited JSON; returns the number of rows written.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// df.write().json(dir.path().join("r.json")).await?;
    /// assert_eq!(std::fs::read_to_string(dir.path().join("r.json")).unwrap().lines().count(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn json(self, path: impl AsRef<Path>) -> Result<u64> {
        self.save(FileFormatKind::Json, path.as_ref()).await
    }

    /// Writes a Delta Lake table at a path or URL (`s3://lake/sales/`); returns the number
    /// of rows written. The save mode applies to the table: `Append` adds a version,
    /// `Overwrite` replaces its rows (with option `replaceWhere` only the partitions the
    /// predicate selects, with `partitionOverwriteMode` `dynamic` only the partitions the
    /// rows fall in), `ErrorIfExists` and `Ignore` look for a table. Every task of the
    /// query writes its own files (cut at option `targetFileSize`, 128 MiB by default,
    /// each with its statistics) and all of them are committed as one new version, or
    /// none is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// use spate::{SaveMode, Session};
    /// let dir = tempfile::tempdir().unwrap();
    /// let table = dir.path().join("daily");
    /// let session = Session::new()?;
    /// let day = |d: &str| format!("select * from (values (DATE '{d}', 'a', 10), (DATE '{d}', 'b', 7)) t(day, store, units)");
    /// let first = session.sql(&day("2026-11-22")).await?;
    /// first.write().mode(SaveMode::Append).partition_by(&["day"]).delta(&table).await?;
    /// for _ in 0..2 {
    ///     // Re-running a day replaces exactly that day.
    ///     let rerun = session.sql(&day("2026-11-23")).await?;
    ///     rerun.write().mode(SaveMode::Overwrite).option("replaceWhere", "day = DATE '2026-11-23'").delta(&table).await?;
    /// }
    /// assert_eq!(session.read().delta(&table).await?.count().await?, 4);
    /// # Ok(()) }
    /// ```
    pub async fn delta(self, location: impl AsRef<Path>) -> Result<u64> {
        let target = location.as_ref().to_string_lossy().into_owned();
        self.write_sink("delta", target).await
    }

    /// Writes a BigQuery table, `PROJECT.DATASET.TABLE` or `bigquery://PROJECT/DATASET/TABLE`,
    /// through the Storage Write API; returns the rows written. The rows go to pending
    /// streams committed together once all are written, so a failed write leaves the table
    /// as it was; a missing table is created from the rows' schema. `Overwrite` replaces
    /// the table's rows (with option `partitionOverwriteMode` `dynamic`, only the rows of
    /// the `partition_by` values written) through a staging table and one job, so readers
    /// never see it empty. Options as for [`crate::DataFrameReader::bigquery`].
    pub async fn bigquery(self, table: &str) -> Result<u64> {
        self.write_sink("bigquery", table.to_string()).await
    }

    /// Writes into the table sink registered as `name` ([`crate::sink`]): the plan a
    /// `COPY ... STORED AS <name>` of these rows gets.
    async fn write_sink(self, name: &str, target: String) -> Result<u64> {
        let mut options = self.options.clone();
        options.insert("mode".into(), self.mode.option_value().into());
        self.copy(name, target, options).await
    }

    async fn save(self, kind: FileFormatKind, target: &Path) -> Result<u64> {
        let text = target.to_string_lossy().into_owned();
        if text.contains("://") {
            return self.save_to_store(kind, &text).await;
        }
        let exists = target.exists();
        let single_file = self.partition_by.is_empty()
            && kind
                .extensions()
                .iter()
                .any(|ext| target.to_string_lossy().ends_with(ext));
        match self.mode {
            SaveMode::ErrorIfExists if exists => {
                return Err(SpateError::AlreadyExists {
                    path: target.display().to_string(),
                });
            }
            SaveMode::Ignore if exists => return Ok(0),
            SaveMode::Append if single_file => {
                return Err(SpateError::InvalidOption {
                    option: "mode".into(),
                    value: "Append".into(),
                    reason: format!(
                        "{} names a single file; append writes into a directory",
                        target.display()
                    ),
                });
            }
            _ => {}
        }
        let parent = parent_dir(target)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let staging = parent.join(format!(".spate-staging-{}-{name}", unique_id()));
        if !single_file {
            std::fs::create_dir_all(&staging).map_err(|source| SpateError::Io {
                path: staging.clone(),
                source,
            })?;
        }
        let mut staging_url = staging.to_string_lossy().into_owned();
        if !single_file {
            staging_url.push('/');
        }
        let rows = match self.write_to(kind, staging_url).await {
            Ok(rows) => rows,
            Err(err) => {
                remove_path(&staging);
                return Err(err);
            }
        };
        let placed = match self.mode {
            SaveMode::Append if exists => append_into(&staging, target),
            SaveMode::Overwrite if exists => replace(&staging, target, &parent, &name),
            _ => rename(&staging, target),
        };
        if placed.is_err() {
            remove_path(&staging);
        }
        placed.map(|()| rows)
    }

    /// Writes to an object store, which has no rename: the files go to the target under
    /// new unique names; `Overwrite` then deletes the objects that were there before, and a
    /// failed write deletes the objects it added, so the target keeps the old data or gets
    /// the new, never a mix.
    async fn save_to_store(self, kind: FileFormatKind, target: &str) -> Result<u64> {
        let session = self.df.session().clone();
        let single_file = self.partition_by.is_empty()
            && kind.extensions().iter().any(|ext| target.ends_with(ext));
        let url = if single_file || target.ends_with('/') {
            target.to_string()
        } else {
            format!("{target}/")
        };
        let table_url = ListingTableUrl::parse(&url).map_err(|e| session.error(e))?;
        let store = session
            .context()
            .runtime_env()
            .object_store(&table_url)
            .map_err(|e| session.error(e))?;
        let before = list_objects(store.as_ref(), table_url.prefix())
            .await
            .map_err(|e| session.error(e))?;
        match self.mode {
            SaveMode::ErrorIfExists if !before.is_empty() => {
                return Err(SpateError::AlreadyExists {
                    path: target.to_string(),
                });
            }
            SaveMode::Ignore if !before.is_empty() => return Ok(0),
            SaveMode::Append if single_file => {
                return Err(SpateError::InvalidOption {
                    option: "mode".into(),
                    value: "Append".into(),
                    reason: format!("{target} names a single object; append writes into a prefix"),
                });
            }
            _ => {}
        }
        let io_before = session.store_io();
        let written = self
            .write_to(kind, url)
            .await
            .map_err(|e| session.with_refused_write(e, &io_before));
        let after = list_objects(store.as_ref(), table_url.prefix())
            .await
            .map_err(|e| session.error(e))?;
        let doomed: Vec<&ObjectPath> = match (&written, self.mode) {
            (Err(_), _) => after.iter().filter(|p| !before.contains(p)).collect(),
            (Ok(_), SaveMode::Overwrite) if !single_file => before.iter().collect(),
            _ => Vec::new(),
        };
        for path in doomed {
            store.delete(path).await.map_err(|e| {
                session.error(datafusion::error::DataFusionError::ObjectStore(Box::new(e)))
            })?;
        }
        written
    }

    /// Runs DataFusion's file sink for this DataFrame into `url` (a directory when it ends
    /// with `/`, else one file).
    async fn write_to(&self, kind: FileFormatKind, url: String) -> Result<u64> {
        let options = kind.qualified_options(&self.options);
        self.copy(kind.datafusion_name(), url, options).await
    }

    /// Plans and runs this DataFrame's `COPY` to `url` in the file format (or sink)
    /// registered as `format`; returns the rows written.
    async fn copy(
        &self,
        format: &str,
        url: String,
        options: HashMap<String, String>,
    ) -> Result<u64> {
        let session = self.df.session();
        let state = session.context().state();
        let factory =
            state
                .get_file_format_factory(format)
                .ok_or_else(|| SpateError::InvalidOption {
                    option: "format".into(),
                    value: format.into(),
                    reason: "this build cannot write it".into(),
                })?;
        let plan = LogicalPlanBuilder::copy_to(
            self.df.logical_plan().clone(),
            url,
            format_as_file_type(factory),
            options,
            self.partition_by.clone(),
        )
        .and_then(LogicalPlanBuilder::build)
        .map_err(|e| session.error(e))?;
        session.run_write(plan).await.map(|(rows, _)| rows)
    }
}

/// The directory a target goes in; it must exist (nothing is created above the target).
fn parent_dir(target: &Path) -> Result<PathBuf> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(SpateError::PathNotFound {
            path: parent.display().to_string(),
        });
    }
    Ok(parent)
}

fn unique_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpateError + '_ {
    move |source| SpateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(io_error(to))
}

fn replace(staging: &Path, target: &Path, parent: &Path, name: &str) -> Result<()> {
    let old = parent.join(format!(".spate-old-{}-{name}", unique_id()));
    rename(target, &old)?;
    if let Err(err) = rename(staging, target) {
        // Put the old data back: an overwrite that fails must not lose it.
        let _ = std::fs::rename(&old, target);
        return Err(err);
    }
    remove_path(&old);
    Ok(())
}

/// Moves every file below `staging` to the same relative place below `target`.
fn append_into(staging: &Path, target: &Path) -> Result<()> {
    if !target.is_dir() {
        return Err(SpateError::InvalidOption {
            option: "mode".into(),
            value: "Append".into(),
            reason: format!("{} is a file, not a directory", target.display()),
        });
    }
    let mut pending = vec![staging.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(staging).unwrap_or(&path);
            let dest = target.join(relative);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io_error(parent))?;
            }
            rename(&path, &dest)?;
        }
    }
    remove_path(staging);
    Ok(())
}

async fn list_objects(
    store: &dyn ObjectStore,
    prefix: &ObjectPath,
) -> datafusion::error::Result<Vec<ObjectPath>> {
    let objects: Vec<ObjectPath> = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await?;
    Ok(objects)
}

fn remove_path(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}
