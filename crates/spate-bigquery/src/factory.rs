//! [`BigQueryTableFactory`]: `CREATE EXTERNAL TABLE t STORED AS BIGQUERY LOCATION
//! 'bigquery://P/D/T' [OPTIONS (...)]`.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::CreateExternalTable;

use crate::registry::BigQueryRegistry;

/// The table factory of `STORED AS BIGQUERY`.
#[derive(Debug)]
pub struct BigQueryTableFactory {
    registry: Arc<BigQueryRegistry>,
}

impl BigQueryTableFactory {
    /// A factory opening tables through `registry`.
    pub fn new(registry: Arc<BigQueryRegistry>) -> BigQueryTableFactory {
        BigQueryTableFactory { registry }
    }
}

#[async_trait]
impl TableProviderFactory for BigQueryTableFactory {
    async fn create(
        &self,
        _state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> DFResult<Arc<dyn TableProvider>> {
        if !cmd.schema.fields().is_empty() {
            return Err(DataFusionError::Plan(format!(
                "CREATE EXTERNAL TABLE {} STORED AS BIGQUERY takes its columns from BigQuery; leave them out",
                cmd.name
            )));
        }
        let options: BTreeMap<String, String> = cmd
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let [location] = cmd.locations.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "CREATE EXTERNAL TABLE {} STORED AS BIGQUERY takes one location",
                cmd.name
            )));
        };
        let table = self.registry.open(location, &options).await?;
        Ok(table)
    }
}
