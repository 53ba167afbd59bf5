//! BigQuery tables in a session: `--table t=bigquery://P/D/T`, `session.read().bigquery()`,
//! `df.write().bigquery()`, `COPY (...) TO 'bigquery://P/D/T'` (the crate
//! `spate-bigquery` does the work; `STORED AS BIGQUERY` is its table factory).
//!
//! A COPY to a `bigquery://` location writes BigQuery whatever `STORED AS` says, so a
//! pipeline written for Delta tables (`STORED AS DELTA PARTITIONED BY (day) OPTIONS
//! ('mode' 'overwrite', 'partitionOverwriteMode' 'dynamic')`) writes BigQuery tables
//! when its warehouse is `bigquery://PROJECT/DATASET`: the options mean the same there
//! (replace the days written, and no others).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::sql::parser::{CopyToSource, CopyToStatement};
use spate_bigquery::{SinkOptions, WriteMode, is_bigquery_location};
use spate_delta::PartitionOverwriteMode;

use crate::dataframe::DataFrame;
use crate::error::Result;
use crate::execute::ExecutionMetrics;
use crate::session::Session;
use crate::writer::SaveMode;

/// Whether a COPY writes to a BigQuery table.
pub(crate) fn is_bigquery_copy(copy: &CopyToStatement) -> bool {
    is_bigquery_location(&copy.target)
}

/// The options of a BigQuery write from its save mode, partition columns and options:
/// `partitionOverwriteMode` `dynamic` with `Overwrite` replaces the partitions written.
/// Table options (`endpoint`, `grpc_endpoint`, `skip_signature`, ...) are returned apart.
fn write_options(
    mode: SaveMode,
    partition_by: &[String],
    options: &BTreeMap<String, String>,
    writers: usize,
) -> Result<(SinkOptions, BTreeMap<String, String>)> {
    let mut dynamic = false;
    let mut table_options = BTreeMap::new();
    for (key, value) in options {
        match key.trim_start_matches("format.") {
            k if k.eq_ignore_ascii_case("partitionOverwriteMode") => {
                dynamic =
                    value.parse::<PartitionOverwriteMode>()? == PartitionOverwriteMode::Dynamic;
            }
            k => {
                table_options.insert(k.to_string(), value.clone());
            }
        }
    }
    let mode = WriteMode::from(mode);
    let replace_by = if dynamic && mode == WriteMode::Overwrite {
        partition_by.to_vec()
    } else {
        Vec::new()
    };
    let sink = SinkOptions {
        mode,
        replace_by,
        writers,
    };
    Ok((sink, table_options))
}

impl Session {
    /// Registers the BigQuery table at `location` as `name`.
    pub(crate) async fn register_bigquery(&self, name: &str, location: &str) -> Result<()> {
        let table = self.inner.bigquery.open(location, &BTreeMap::new()).await?;
        self.inner.ctx.register_table(name, table)?;
        Ok(())
    }

    /// A BigQuery table (`PROJECT.DATASET.TABLE` or `bigquery://...`) as a DataFrame.
    pub(crate) async fn read_bigquery(
        &self,
        location: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<DataFrame> {
        let table = self.inner.bigquery.open(location, options).await?;
        let df = self
            .inner
            .ctx
            .read_table(table)
            .map_err(|e| self.error(e))?;
        Ok(DataFrame::new(self.clone(), df))
    }

    /// Writes `df`'s rows to a BigQuery table; returns the rows written.
    pub(crate) async fn write_bigquery(
        &self,
        df: &DataFrame,
        location: &str,
        mode: SaveMode,
        partition_by: &[String],
        options: &BTreeMap<String, String>,
    ) -> Result<(u64, ExecutionMetrics)> {
        let (sink, table_options) = write_options(mode, partition_by, options, 1)?;
        let input = self.physical_plan(df.logical_plan()).await?;
        let plan = self
            .inner
            .bigquery
            .plan_write(location, &table_options, input, sink)
            .await?;
        let (batches, metrics) = crate::execute::collect_with_metrics(self, plan).await?;
        Ok((crate::statement::count_column(&batches), metrics))
    }

    /// Runs `COPY (query) TO 'bigquery://P/D/T' [PARTITIONED BY (...)] [OPTIONS (...)]`:
    /// option `mode` (`append`, the default; `overwrite`; `error`; `ignore`) and
    /// `partitionOverwriteMode`, as for Delta tables.
    pub(crate) async fn run_bigquery_copy(
        &self,
        copy: &CopyToStatement,
    ) -> Result<(u64, ExecutionMetrics)> {
        let (mode, given) = crate::writer::copy_options(copy)?;
        let mode = mode.unwrap_or(SaveMode::Append);
        let options: BTreeMap<String, String> = given.into_iter().collect();
        let sql = match &copy.source {
            CopyToSource::Relation(name) => format!("SELECT * FROM {name}"),
            CopyToSource::Query(query) => query.to_string(),
        };
        let df = self.sql(&sql).await?;
        self.write_bigquery(&df, &copy.target, mode, &copy.partitioned_by, &options)
            .await
    }

    /// Streams, rows and bytes moved to and from each BigQuery table since the session
    /// started. Each statement's share is in its
    /// [`ExecutionMetrics::bigquery_io`](crate::ExecutionMetrics::bigquery_io).
    pub fn bigquery_io(&self) -> Vec<spate_bigquery::BigQueryIo> {
        self.inner.bigquery.io()
    }
}

/// Each table's counts in `after` less those in `before`, tables that moved nothing left
/// out.
pub(crate) fn io_since(
    before: &[spate_bigquery::BigQueryIo],
    after: Vec<spate_bigquery::BigQueryIo>,
) -> Vec<spate_bigquery::BigQueryIo> {
    after
        .into_iter()
        .map(|a| match before.iter().find(|b| b.table == a.table) {
            Some(b) => a.since(b),
            None => a,
        })
        .filter(|io| !io.is_empty())
        .collect()
}

/// The table factory of `STORED AS BIGQUERY`, for the session's factories.
pub(crate) fn table_factory(
    registry: &Arc<spate_bigquery::BigQueryRegistry>,
) -> Arc<dyn datafusion::catalog::TableProviderFactory> {
    Arc::new(spate_bigquery::BigQueryTableFactory::new(Arc::clone(
        registry,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_overwrite_replaces_the_partitions_written() {
        let options = BTreeMap::from([
            ("partitionOverwriteMode".to_string(), "dynamic".to_string()),
            ("skip_signature".to_string(), "true".to_string()),
        ]);
        let by = vec!["day".to_string()];
        let (sink, table) = write_options(SaveMode::Overwrite, &by, &options, 1).unwrap();
        assert_eq!(sink.replace_by, by);
        assert_eq!(table.len(), 1);
        let (append, _) = write_options(SaveMode::Append, &by, &options, 1).unwrap();
        assert!(append.replace_by.is_empty());
        let bad = BTreeMap::from([("partitionOverwriteMode".to_string(), "x".to_string())]);
        assert!(write_options(SaveMode::Overwrite, &by, &bad, 1).is_err());
    }
}
