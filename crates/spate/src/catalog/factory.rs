//! `CREATE EXTERNAL TABLE` through spate's table resolution.
//!
//! When the statement gives no columns, the table is resolved like a `--data` table: typed
//! Hive partition columns, merged file schemas, errors that name the file. When it gives
//! columns (or ordering, or an unbounded source), DataFusion's own factory builds it as
//! written: the user has said exactly what they want.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider, TableProviderFactory};
use datafusion::datasource::listing_table_factory::ListingTableFactory;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::CreateExternalTable;
use spate_connectors::object_stores::{StoreRegistry, is_store_option};
use url::Url;

use super::format::FileFormatKind;
use super::resolve::{TableSource, resolve_table};
use crate::error::SpateError;

/// The table factory spate registers for every file format.
#[derive(Debug)]
pub(crate) struct SpateTableFactory {
    fallback: ListingTableFactory,
    stores: Arc<StoreRegistry>,
}

impl SpateTableFactory {
    pub fn new(stores: Arc<StoreRegistry>) -> Self {
        SpateTableFactory {
            fallback: ListingTableFactory::default(),
            stores,
        }
    }

    /// Takes the storage options (`'aws.access_key_id' '...'`,
    /// `'store.max_concurrent_requests' '4'`) out of the statement and configures the location's
    /// store with them; the rest are format options.
    fn configure_store(&self, cmd: &CreateExternalTable) -> DFResult<CreateExternalTable> {
        let (storage, format): (BTreeMap<_, _>, HashMap<_, _>) = {
            let mut storage = BTreeMap::new();
            let mut format = HashMap::new();
            for (key, value) in &cmd.options {
                if is_store_option(key) {
                    storage.insert(key.clone(), value.clone());
                } else {
                    format.insert(key.clone(), value.clone());
                }
            }
            (storage, format)
        };
        if !storage.is_empty() {
            for location in &cmd.locations {
                let url = Url::parse(location).map_err(|e| {
                    DataFusionError::Plan(format!(
                        "storage options need a URL location, not {location}: {e}"
                    ))
                })?;
                self.stores
                    .configure(&url, &storage)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
            }
        }
        let mut cmd = cmd.clone();
        cmd.options = format;
        Ok(cmd)
    }
}

#[async_trait]
impl TableProviderFactory for SpateTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> DFResult<Arc<dyn TableProvider>> {
        let cmd = &self.configure_store(cmd)?;
        let explicit = !cmd.schema.fields().is_empty()
            || !cmd.order_exprs.is_empty()
            || cmd.unbounded
            || cmd.locations.len() != 1;
        let state_ref = state.as_any().downcast_ref::<SessionState>();
        let (Some(session_state), false) = (state_ref, explicit) else {
            return self.fallback.create(state, cmd).await;
        };
        let format = FileFormatKind::from_name(&cmd.file_type).ok_or_else(|| {
            DataFusionError::Plan(format!("unsupported file type {}", cmd.file_type))
        })?;
        let source = TableSource {
            name: cmd.name.to_string(),
            location: cmd.locations[0].clone(),
            format: Some(format),
            options: cmd.options.clone(),
        };
        let table = resolve_table(session_state, &source)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        check_declared_partitions(&table, cmd)?;
        Ok(table)
    }
}

/// `PARTITIONED BY (a, b)` without column types must name the partition keys found on disk.
fn check_declared_partitions(
    table: &Arc<dyn TableProvider>,
    cmd: &CreateExternalTable,
) -> DFResult<()> {
    let schema = table.schema();
    for name in &cmd.table_partition_cols {
        if schema.field_with_name(name).is_err() {
            return Err(DataFusionError::External(Box::new(
                SpateError::BadPartitioning {
                    path: cmd.locations.first().cloned().unwrap_or_default(),
                    reason: format!(
                        "unknown partition column `{name}`: no `{name}=...` directories"
                    ),
                },
            )));
        }
    }
    Ok(())
}
