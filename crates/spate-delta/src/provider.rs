//! [`DeltaTableProvider`]: a Delta table as a DataFusion table: scans read the newest
//! version (or the pinned one of a time-travel table), `INSERT INTO` appends and
//! `INSERT OVERWRITE` replaces through [`crate::write::plan_write`].

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::config::{DeltaWriteOptions, WriteMode};
use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;
use crate::table::{TableVersion, open_table};
use crate::write::plan_write;

/// A Delta table registered in a session; see the module doc.
#[derive(Debug)]
pub struct DeltaTableProvider {
    location: DeltaLocation,
    version: TableVersion,
    schema: SchemaRef,
    write_defaults: DeltaWriteOptions,
}

impl DeltaTableProvider {
    /// Opens the table at `location` (at `version`) in the session's stores. `writes`
    /// are the options of `INSERT`s into it (`partitionOverwriteMode`, `targetFileSize`).
    pub async fn open(
        state: &dyn Session,
        location: DeltaLocation,
        version: TableVersion,
        writes: DeltaWriteOptions,
    ) -> Result<Self> {
        let scan = scan_provider(state, &location, version).await?;
        Ok(DeltaTableProvider {
            location,
            version,
            schema: scan.schema(),
            write_defaults: writes,
        })
    }

    /// Where the table is.
    pub fn location(&self) -> &DeltaLocation {
        &self.location
    }

    /// The version this table reads.
    pub fn version(&self) -> TableVersion {
        self.version
    }
}

/// delta-rs's scan of the table at `version`, loaded now.
async fn scan_provider(
    state: &dyn Session,
    location: &DeltaLocation,
    version: TableVersion,
) -> Result<Arc<dyn TableProvider>> {
    let opened = open_table(state.runtime_env(), location, version).await?;
    let table = opened.table.ok_or_else(|| DeltaError::TableNotFound {
        location: location.to_string(),
    })?;
    table.table_provider().await.map_err(DeltaError::from)
}

#[async_trait]
impl TableProvider for DeltaTableProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // delta-rs skips files by their statistics and partition values; the filter
        // itself still runs above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let scan = scan_provider(state, &self.location, self.version).await?;
        if scan.schema().fields() != self.schema.fields() {
            return Err(DeltaError::SchemaMismatch {
                location: self.location.to_string(),
                detail: "the table's schema changed since it was registered; register it again"
                    .into(),
            }
            .into());
        }
        scan.scan(state, projection, filters, limit).await
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if self.version != TableVersion::Latest {
            return Err(DataFusionError::Plan(format!(
                "{} is registered at an older version (time travel); register it without 'version' or 'timestamp' to write to it",
                self.location
            )));
        }
        let mut options = self.write_defaults.clone();
        options.mode = match insert_op {
            InsertOp::Append => WriteMode::Append,
            InsertOp::Overwrite => WriteMode::Overwrite,
            InsertOp::Replace => {
                return Err(DataFusionError::NotImplemented(
                    "REPLACE INTO a Delta table; use INSERT OVERWRITE".into(),
                ));
            }
        };
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("not a SessionState".into()))?;
        let plan = plan_write(state, &self.location, input, &options).await?;
        plan.ok_or_else(|| DataFusionError::Internal("an INSERT had nothing to write".into()))
    }
}
