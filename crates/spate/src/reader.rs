//! [`DataFrameReader`]: `session.read().format("csv").option("delimiter", "|").load(path)`.

use std::collections::HashMap;
use std::path::Path;

use crate::catalog::{FileFormatKind, TableSource, resolve_table};
use crate::dataframe::DataFrame;
use crate::error::Result;
use crate::session::Session;

/// Reads files into a [`DataFrame`]; see [`Session::read`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("rates.txt");
/// std::fs::write(&path, "code|rate\nEUR|1.1\nGBP|1.3\n").unwrap();
/// let session = spate::Session::new()?;
/// let df = session.read().format("csv").option("delimiter", "|").load(&path).await?;
/// assert_eq!(df.count().await?, 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DataFrameReader {
    session: Session,
    format: Option<String>,
    options: HashMap<String, String>,
}

impl DataFrameReader {
    pub(crate) fn new(session: Session) -> Self {
        DataFrameReader {
            session,
            format: None,
            options: HashMap::new(),
        }
    }

    /// The format (`parquet`, `csv`, `tsv`, `json`, `arrow`); told from file names if unset.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("data.txt"), "a\n1\n2\n").unwrap();
    /// let df = session.read().format("csv").load(dir.path().join("data.txt")).await?;
    /// assert_eq!(df.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn format(mut self, format: &str) -> Self {
        self.format = Some(format.to_string());
        self
    }

    /// A reader option: `header`, `delimiter`, `quote`, or any DataFusion `format.*` key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("x.csv"), "1;2\n3;4\n").unwrap();
    /// let df = session.read().option("delimiter", ";").option("header", "false").csv(dir.path().join("x.csv")).await?;
    /// assert_eq!(df.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// Reads a file, a directory of files, or a Hive-partitioned tree.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("day=2026-11-23")).unwrap();
    /// std::fs::write(dir.path().join("day=2026-11-23/p.csv"), "n\n5\n").unwrap();
    /// let df = session.read().load(dir.path()).await?;
    /// assert_eq!(spate::io::string_rows(&df.collect().await?)?, [["5", "2026-11-23"]]);
    /// # Ok(()) }
    /// ```
    pub async fn load(self, path: impl AsRef<Path>) -> Result<DataFrame> {
        let format = self
            .format
            .as_deref()
            .map(FileFormatKind::parse)
            .transpose()?;
        let location = path.as_ref().to_string_lossy().into_owned();
        let source = TableSource {
            name: location.clone(),
            location,
            format,
            options: self.options,
        };
        let table = resolve_table(&self.session.context().state(), &source).await?;
        let df = self
            .session
            .context()
            .read_table(table)
            .map_err(|e| self.session.error(e))?;
        Ok(DataFrame::new(self.session, df))
    }

    /// Reads Parquet.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// df.write().parquet(dir.path().join("t")).await?;
    /// assert_eq!(session.read().parquet(dir.path().join("t")).await?.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn parquet(self, path: impl AsRef<Path>) -> Result<DataFrame> {
        self.format("parquet").load(path).await
    }

    /// Reads CSV with a header line.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("x.csv"), "a,b\n1,2\n").unwrap();
    /// assert_eq!(session.read().csv(dir.path().join("x.csv")).await?.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub async fn csv(self, path: impl AsRef<Path>) -> Result<DataFrame> {
        self.format("csv").load(path).await
    }

    /// Reads newline-delimited JSON.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("x.json"), "{\"a\": 1}\n{\"a\": 2}\n").unwrap();
    /// assert_eq!(session.read().json(dir.path().join("x.json")).await?.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn json(self, path: impl AsRef<Path>) -> Result<DataFrame> {
        self.format("json").load(path).await
    }

    /// Reads a Delta Lake table at its newest version, or an older one with option
    /// `versionAsOf` (a version number) or `timestampAsOf` (`2026-11-23 10:00:00`, UTC).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// df.clone().write().delta(dir.path().join("t")).await?;
    /// df.write().mode(spate::SaveMode::Append).delta(dir.path().join("t")).await?;
    /// assert_eq!(session.read().delta(dir.path().join("t")).await?.count().await?, 4);
    /// let v0 = session.read().option("versionAsOf", "0").delta(dir.path().join("t")).await?;
    /// assert_eq!(v0.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn delta(self, path: impl AsRef<Path>) -> Result<DataFrame> {
        let location = path.as_ref().to_string_lossy().into_owned();
        let at = spate_delta::DeltaLocation::parse(&location)?;
        let (mut version, mut timestamp) = (None, None);
        for (key, value) in &self.options {
            match key.to_ascii_lowercase().as_str() {
                "versionasof" | "version" => version = Some(value.as_str()),
                "timestampasof" | "timestamp" => timestamp = Some(value.as_str()),
                _ => {
                    return Err(crate::SpateError::InvalidOption {
                        option: key.clone(),
                        value: value.clone(),
                        reason: "Delta reads take versionAsOf or timestampAsOf".into(),
                    });
                }
            }
        }
        let version = spate_delta::TableVersion::parse(version, timestamp)?;
        let state = self.session.context().state();
        let table = spate_delta::DeltaTableProvider::open(
            &state,
            at,
            version,
            spate_delta::DeltaWriteOptions::default(),
        )
        .await?;
        let df = self
            .session
            .context()
            .read_table(std::sync::Arc::new(table))
            .map_err(|e| self.session.error(e))?;
        Ok(DataFrame::new(self.session, df))
    }

    /// Reads a BigQuery table, `PROJECT.DATASET.TABLE` or `bigquery://PROJECT/DATASET/TABLE`,
    /// through the Storage Read API: each query's columns and exact filters are applied by
    /// BigQuery, its streams read in parallel. Options: `endpoint`, `grpc_endpoint`,
    /// `skip_signature`, `retries`, `timeout_secs` and credential keys (`google_*`), on top
    /// of `spate.toml`'s `[[stores]]` with prefix `bigquery://PROJECT`.
    pub async fn bigquery(self, table: &str) -> Result<DataFrame> {
        let options = self.options.into_iter().collect();
        self.session.read_bigquery(table, &options).await
    }
}
