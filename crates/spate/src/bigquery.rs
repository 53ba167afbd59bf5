//! BigQuery tables in a session: `--table t=bigquery://P/D/T`, `session.read().bigquery()`,
//! `df.write().bigquery()`, `COPY (...) TO 'bigquery://P/D/T'` (the crate
//! `spate-bigquery` does the work; `STORED AS BIGQUERY` is its table factory).
//!
//! Writes go through the BigQuery sink ([`crate::sink`]): a COPY to a `bigquery://`
//! location writes BigQuery whatever `STORED AS` says, so a pipeline written for Delta
//! tables (`STORED AS DELTA PARTITIONED BY (day) OPTIONS ('mode' 'overwrite',
//! 'partitionOverwriteMode' 'dynamic')`) writes BigQuery tables when its warehouse is
//! `bigquery://PROJECT/DATASET`: the options mean the same there (replace the days
//! written, and no others).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dataframe::DataFrame;
use crate::error::Result;
use crate::session::Session;

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
