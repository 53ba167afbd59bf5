//! [`BigQueryRegistry`]: a session's BigQuery settings and counters — the way to open a
//! table as a provider or plan a write to one.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::sink::DataSinkExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use parking_lot::Mutex;
use spate_connectors::object_stores::StoreConfig;

use crate::client::BigQueryClient;
use crate::config::BigQueryConfig;
use crate::error::{BigQueryError, Result};
use crate::io_counters::{BigQueryIo, IoCounters};
use crate::location::TableRef;
use crate::provider::BigQueryTable;
use crate::sink::{BigQuerySink, SinkOptions};

/// BigQuery for one session: `spate.toml`'s `bigquery://` settings and what was moved.
#[derive(Debug, Default)]
pub struct BigQueryRegistry {
    config: StoreConfig,
    counters: Mutex<BTreeMap<String, Arc<IoCounters>>>,
}

impl BigQueryRegistry {
    /// A registry with these settings (the contents of `spate.toml`).
    pub fn new(config: StoreConfig) -> BigQueryRegistry {
        BigQueryRegistry {
            config,
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Opens `location` (`bigquery://P/D/T` or `P.D.T`) as a table; `options` are a
    /// table's (`endpoint`, `grpc_endpoint`, `skip_signature`, `retries`, credentials).
    pub async fn open(
        &self,
        location: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<Arc<BigQueryTable>> {
        let table = TableRef::parse(location)?;
        let config = BigQueryConfig::resolve(&self.config, &table, options)?;
        let client = BigQueryClient::new(&table, &config)?;
        let counters = self.counters(&table);
        let opened =
            BigQueryTable::open(table.clone(), Arc::clone(&client), counters, config.retries).await;
        match opened {
            Err(BigQueryError::TableNotFound { .. })
                if !client.rest.dataset_exists(&table).await? =>
            {
                Err(BigQueryError::DatasetNotFound {
                    dataset: table.dataset_name(),
                })
            }
            other => Ok(Arc::new(other?)),
        }
    }

    /// Plans writing the rows of `input` to `location` with `options`: a `DataSinkExec`
    /// over a [`BigQuerySink`]. The table is looked up now (only read: a missing table is
    /// created when the write runs, so `EXPLAIN` creates nothing).
    pub async fn plan_write(
        &self,
        location: &str,
        table_options: &BTreeMap<String, String>,
        input: Arc<dyn ExecutionPlan>,
        options: SinkOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table = TableRef::parse(location)?;
        let config = BigQueryConfig::resolve(&self.config, &table, table_options)?;
        let client = BigQueryClient::new(&table, &config)?;
        let counters = self.counters(&table);
        let sink = BigQuerySink::prepare(table, client, counters, &input.schema(), options).await?;
        // The sink reads one stream: the partitions of the input are merged into it (a plan
        // that went through the physical optimizer gets this from EnforceDistribution).
        let input: Arc<dyn ExecutionPlan> = if input.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(input))
        } else {
            input
        };
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    /// Appends the rows of the Parquet file `parquet` to the existing table `location`
    /// with one load job (the way to compare the Storage Write API against).
    pub async fn load_parquet(&self, location: &str, parquet: &std::path::Path) -> Result<()> {
        let table = TableRef::parse(location)?;
        let config = BigQueryConfig::resolve(&self.config, &table, &BTreeMap::new())?;
        let client = BigQueryClient::new(&table, &config)?;
        let bytes = std::fs::read(parquet).map_err(|e| BigQueryError::InvalidOption {
            option: "parquet".into(),
            value: parquet.display().to_string(),
            reason: e.to_string(),
        })?;
        client.rest.load_parquet(&table, bytes.into()).await
    }

    /// What was moved so far, per table, in the order of their names.
    pub fn io(&self) -> Vec<BigQueryIo> {
        self.counters
            .lock()
            .iter()
            .map(|(name, counters)| counters.snapshot(name))
            .collect()
    }

    fn counters(&self, table: &TableRef) -> Arc<IoCounters> {
        Arc::clone(self.counters.lock().entry(table.to_string()).or_default())
    }
}
