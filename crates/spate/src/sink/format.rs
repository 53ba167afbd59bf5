//! [`SinkFormatFactory`]: a [`TableSink`] registered as a DataFusion file format, so that
//! `COPY ... STORED AS <sink>` is planned by DataFusion (see the [module doc](super)).
//!
//! The factory turns a COPY's options into a [`SinkFormat`] (the save mode apart, keys
//! without DataFusion's `format.` prefix); the format's `create_writer_physical_plan` asks
//! the sink for the writer plan. Reading through the format is refused: sinks are read
//! through their table providers (`STORED AS DELTA` tables, `bigquery://` tables).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session as DfSession;
use datafusion::common::GetExt;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory};
use datafusion::datasource::physical_plan::{
    FileOpener, FileScanConfig, FileSinkConfig, FileSource,
};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionState;
use datafusion::physical_expr::{LexRequirement, PhysicalExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use object_store::{ObjectMeta, ObjectStore};

use super::{SinkWrite, TableSink};
use crate::writer::SaveMode;

/// A sink as a file format factory, registered under the sink's name.
#[derive(Debug)]
pub(crate) struct SinkFormatFactory {
    sink: Arc<dyn TableSink>,
}

impl SinkFormatFactory {
    pub(crate) fn new(sink: Arc<dyn TableSink>) -> Arc<Self> {
        Arc::new(SinkFormatFactory { sink })
    }

    /// The sink it writes into.
    pub(crate) fn sink(&self) -> Arc<dyn TableSink> {
        Arc::clone(&self.sink)
    }
}

impl GetExt for SinkFormatFactory {
    fn get_ext(&self) -> String {
        self.sink.name().to_string()
    }
}

impl FileFormatFactory for SinkFormatFactory {
    fn create(
        &self,
        _state: &dyn DfSession,
        format_options: &HashMap<String, String>,
    ) -> DfResult<Arc<dyn FileFormat>> {
        let mut mode = None;
        let mut options = Vec::new();
        for (key, value) in format_options {
            let key = key.strip_prefix("format.").unwrap_or(key);
            if key.eq_ignore_ascii_case("mode") {
                mode = Some(value.parse::<SaveMode>()?);
            } else {
                options.push((key.to_string(), value.clone()));
            }
        }
        // Options come from a hash map: sorted, so that errors name the same key each run.
        options.sort();
        Ok(Arc::new(SinkFormat {
            sink: Arc::clone(&self.sink),
            // A COPY appends unless told otherwise (DataFrameWriter passes its own mode).
            mode: mode.unwrap_or(SaveMode::Append),
            options,
        }))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(SinkFormat {
            sink: Arc::clone(&self.sink),
            mode: SaveMode::Append,
            options: Vec::new(),
        })
    }
}

/// One COPY's writing into a sink: the sink with the COPY's mode and options.
#[derive(Debug)]
pub(crate) struct SinkFormat {
    sink: Arc<dyn TableSink>,
    mode: SaveMode,
    options: Vec<(String, String)>,
}

impl SinkFormat {
    fn not_readable(&self) -> DataFusionError {
        DataFusionError::NotImplemented(format!(
            "reading STORED AS {} files; read the table instead",
            self.sink.name().to_uppercase()
        ))
    }
}

#[async_trait]
impl FileFormat for SinkFormat {
    fn get_ext(&self) -> String {
        self.sink.name().to_string()
    }

    fn get_ext_with_compression(&self, _compression: &FileCompressionType) -> DfResult<String> {
        Ok(self.get_ext())
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _state: &dyn DfSession,
        _store: &Arc<dyn ObjectStore>,
        _objects: &[ObjectMeta],
    ) -> DfResult<SchemaRef> {
        Err(self.not_readable())
    }

    async fn infer_stats(
        &self,
        _state: &dyn DfSession,
        _store: &Arc<dyn ObjectStore>,
        _table_schema: SchemaRef,
        _object: &ObjectMeta,
    ) -> DfResult<datafusion::common::Statistics> {
        Err(self.not_readable())
    }

    async fn create_physical_plan(
        &self,
        _state: &dyn DfSession,
        _conf: FileScanConfig,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.not_readable())
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn DfSession,
        conf: FileSinkConfig,
        _order_requirements: Option<LexRequirement>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("not a SessionState".into()))?;
        let write = SinkWrite {
            target: conf.original_url.clone(),
            mode: self.mode,
            partition_by: conf
                .table_partition_cols
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            options: self.options.clone(),
        };
        match self.sink.plan_write(state, &write, input).await? {
            Some(plan) => Ok(plan),
            // Nothing to write: a plan of no rows, with the count column of a write.
            None => Ok(Arc::new(EmptyExec::new(count_schema()))),
        }
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(NoReadSource {
            name: self.sink.name(),
            table_schema,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// The output of a write: one `count` column.
fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::UInt64,
        false,
    )]))
}

/// The file source DataFusion asks every format for; a sink has no files to open.
#[derive(Clone)]
struct NoReadSource {
    name: &'static str,
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl FileSource for NoReadSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> DfResult<Arc<dyn FileOpener>> {
        Err(DataFusionError::NotImplemented(format!(
            "reading STORED AS {} files; read the table instead",
            self.name.to_uppercase()
        )))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        self.name
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
}
