//! [`DeltaTableFactory`]: `CREATE EXTERNAL TABLE ... STORED AS DELTA`.
//!
//! ```sql
//! -- an existing table, read at its newest version at every query
//! CREATE EXTERNAL TABLE sales STORED AS DELTA LOCATION 's3://lake/sales/';
//! -- a new table (created empty when the location holds none; checked when it does)
//! CREATE EXTERNAL TABLE daily (day DATE, store INT, units BIGINT)
//! STORED AS DELTA PARTITIONED BY (day) LOCATION './warehouse/daily/'
//! OPTIONS ('partitionOverwriteMode' 'dynamic');
//! -- time travel
//! CREATE EXTERNAL TABLE daily_v3 STORED AS DELTA LOCATION './warehouse/daily/' OPTIONS ('version' '3');
//! ```
//!
//! Options: `version` or `timestamp` (time travel, read-only), the write options of
//! [`crate::DeltaWriteOptions::set`] (defaults of every `INSERT` into the table), and the
//! object store's (`aws.*`, `google_*`, `azure.*`), which configure the store as for any
//! other table.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::CreateExternalTable;
use deltalake::kernel::{Action, StructType};
use deltalake::logstore::LogStoreRef;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::SaveMode;
use spate_connectors::object_stores::{StoreRegistry, is_store_option};

use crate::config::DeltaWriteOptions;
use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;
use crate::provider::DeltaTableProvider;
use crate::table::{TableVersion, open_table};
use crate::write::new_table_schema;

/// The factory behind `STORED AS DELTA`; see the module doc.
#[derive(Debug)]
pub struct DeltaTableFactory {
    stores: Arc<StoreRegistry>,
}

impl DeltaTableFactory {
    /// A factory whose tables use the session's object stores.
    pub fn new(stores: Arc<StoreRegistry>) -> Self {
        DeltaTableFactory { stores }
    }

    async fn create_table(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<DeltaTableProvider> {
        let [location] = cmd.locations.as_slice() else {
            return Err(DeltaError::InvalidOption {
                option: "LOCATION".into(),
                value: cmd.locations.join(", "),
                reason: "a Delta table has one location".into(),
            });
        };
        let at = DeltaLocation::parse(location)?;
        let shown = at.to_string();
        let mut storage = BTreeMap::new();
        let mut writes = DeltaWriteOptions::default();
        let (mut version, mut timestamp) = (None, None);
        for (key, value) in &cmd.options {
            let key = key.trim_start_matches("format.");
            match key {
                "version" => version = Some(value.as_str()),
                "timestamp" => timestamp = Some(value.as_str()),
                _ if is_store_option(key) => {
                    storage.insert(key.to_string(), value.clone());
                }
                _ => writes.set(key, value)?,
            }
        }
        if !storage.is_empty() {
            self.stores
                .configure(at.url(), &storage)
                .map_err(|e| DeltaError::InvalidOption {
                    option: "OPTIONS".into(),
                    value: shown.clone(),
                    reason: e.to_string(),
                })?;
        }
        let version = TableVersion::parse(version, timestamp)?;
        let opened = open_table(state.runtime_env(), &at, version).await?;
        let declared = cmd.schema.as_arrow();
        match &opened.table {
            Some(table) => {
                let snapshot = table
                    .snapshot()
                    .map_err(|e| DeltaError::from_delta(&shown, e))?
                    .snapshot();
                let partitions = snapshot.metadata().partition_columns().to_vec();
                if !cmd.table_partition_cols.is_empty() && cmd.table_partition_cols != partitions {
                    return Err(DeltaError::PartitionMismatch {
                        location: shown,
                        table: partitions.join(", "),
                        requested: cmd.table_partition_cols.join(", "),
                    });
                }
                check_declared(&shown, declared, &snapshot.arrow_schema())?;
            }
            None if declared.fields().is_empty() => {
                return Err(DeltaError::TableNotFound {
                    location: format!(
                        "{shown} (give the columns, and PARTITIONED BY, to create one)"
                    ),
                });
            }
            None => {
                let schema = new_table_schema(&shown, declared, &cmd.table_partition_cols)?;
                create_empty(&opened.log_store, &shown, schema, &cmd.table_partition_cols).await?;
            }
        }
        DeltaTableProvider::open(state, at, version, writes).await
    }
}

#[async_trait]
impl TableProviderFactory for DeltaTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> DFResult<Arc<dyn TableProvider>> {
        let provider = self
            .create_table(state, cmd)
            .await
            .map_err(DataFusionError::from)?;
        Ok(Arc::new(provider))
    }
}

/// Version 0 of a new, empty table.
async fn create_empty(
    log_store: &LogStoreRef,
    shown: &str,
    schema: StructType,
    partitions: &[String],
) -> Result<()> {
    CreateBuilder::new()
        .with_log_store(log_store.clone())
        .with_columns(schema.fields().cloned())
        .with_partition_columns(partitions.to_vec())
        .with_save_mode(SaveMode::ErrorIfExists)
        .with_actions(Vec::<Action>::new())
        .await
        .map(|_| ())
        .map_err(|e| DeltaError::from_delta(shown, e))
}

/// Columns declared in `CREATE EXTERNAL TABLE` must be the table's.
fn check_declared(shown: &str, declared: &Schema, table: &Schema) -> Result<()> {
    if declared.fields().is_empty() {
        return Ok(());
    }
    let names = |s: &Schema| {
        let mut names: Vec<String> = s.fields().iter().map(|f| f.name().clone()).collect();
        names.sort();
        names
    };
    if names(declared) != names(table) {
        return Err(DeltaError::SchemaMismatch {
            location: shown.to_string(),
            detail: format!(
                "CREATE EXTERNAL TABLE declares columns ({}) but the table has ({})",
                names(declared).join(", "),
                names(table).join(", ")
            ),
        });
    }
    Ok(())
}
