//! [`DeltaWriterExec`]: writes each input partition as Parquet data files of a Delta
//! table, in parallel, and returns the files' `add` actions without committing them.
//!
//! # Algorithm
//! Every input partition is one task. A task conforms each batch to the table's schema
//! (columns by name, types cast where the write is lossless, checked at planning) and
//! feeds it to a delta-rs `DeltaWriter`, which splits the rows by partition values and
//! keeps one open Parquet file per partition value, closing it at the target file size
//! and recording per-file statistics (row count, per-column min/max/null counts) that
//! readers use to skip files. When the input ends the task closes its files and emits
//! one row per file: the `add` action as JSON. Nothing is visible to readers until
//! [`crate::commit_exec::DeltaCommitExec`] commits those actions in one log entry; files
//! of a task that fails are aborted or left unreferenced.
//!
//! ```text
//!  partition 0 ─▶ DeltaWriter ─▶ part-00000-….parquet (day=…/) ─▶ add {path, stats}
//!  partition 1 ─▶ DeltaWriter ─▶ part-00000-….parquet          ─▶ add {path, stats}
//! ```
//!
//! What a writer needs besides its input and the session's Parquet settings is plain data,
//! [`WriterSpec`], so that a writer can be rebuilt in another process
//! ([`DeltaWriterExec::rebuild`]: spate's cluster ships writers to its executors).

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use std::num::NonZeroU64;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::config::ParquetOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
use deltalake::logstore::ObjectStoreRef;
use futures::StreamExt;

use crate::error::{DeltaError, Result as DeltaResult};
use crate::location::DeltaLocation;

/// The column of the writers' output holding one `add` action as JSON.
pub(crate) const ADD_COLUMN: &str = "add";
/// The column of the writers' output holding rows written (on the last row of a task).
pub(crate) const ROWS_COLUMN: &str = "rows";

/// What a Delta writer writes, as plain data: the table and how its files are cut and
/// described. With the session's Parquet settings it makes delta-rs's `WriterConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterSpec {
    /// The table.
    pub location: DeltaLocation,
    /// The table's schema, partition columns included, as the writer takes it.
    pub table_schema: SchemaRef,
    pub partition_columns: Vec<String>,
    /// The size at which a data file is closed and the next one started.
    pub target_file_size: Option<NonZeroU64>,
    /// How many leading columns get statistics (`None`: all of them), when
    /// [`Self::stats_columns`] does not name them.
    pub indexed_columns: Option<u64>,
    /// The columns that get statistics, when the table names them.
    pub stats_columns: Option<Vec<String>>,
}

impl WriterSpec {
    /// delta-rs's writer settings: this spec with the Parquet settings `parquet`.
    pub fn writer_config(&self, parquet: &ParquetOptions) -> DeltaResult<WriterConfig> {
        let writer_properties = parquet
            .into_writer_properties_builder()
            .map_err(DeltaError::from)?
            .build();
        // delta-rs does not export the type of the indexed-columns setting; it parses the
        // table property's text (`-1`: all columns).
        let indexed = self
            .indexed_columns
            .map_or("-1".to_string(), |n| n.to_string());
        let indexed =
            TryFrom::try_from(indexed.as_str()).map_err(|_| DeltaError::InvalidOption {
                option: "delta.dataSkippingNumIndexedCols".into(),
                value: indexed.clone(),
                reason: "not a column count".into(),
            })?;
        Ok(WriterConfig::new(
            Arc::clone(&self.table_schema),
            self.partition_columns.clone(),
            Some(writer_properties),
            self.target_file_size,
            None,
            indexed,
            self.stats_columns.clone(),
        ))
    }
}

/// The count of delta-rs's indexed-columns setting (`None`: all columns), from its debug
/// form (`NumColumns(32)`, `AllColumns`): delta-rs does not export its type.
pub(crate) fn indexed_columns(setting: &impl fmt::Debug) -> Option<u64> {
    format!("{setting:?}")
        .strip_prefix("NumColumns(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
}

/// Writes its input's partitions as data files of a Delta table; see the module doc.
#[derive(Debug)]
pub struct DeltaWriterExec {
    input: Arc<dyn ExecutionPlan>,
    spec: WriterSpec,
    config: WriterConfig,
    /// The store with `/` at the table's root.
    store: ObjectStoreRef,
    properties: Arc<PlanProperties>,
}

impl DeltaWriterExec {
    pub(crate) fn new(
        input: Arc<dyn ExecutionPlan>,
        spec: WriterSpec,
        config: WriterConfig,
        store: ObjectStoreRef,
    ) -> Self {
        let partitions = input.properties().output_partitioning().partition_count();
        let schema = output_schema();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        DeltaWriterExec {
            input,
            spec,
            config,
            store,
            properties,
        }
    }

    /// A writer of `spec` over `input` in another process: its store from `runtime`, its
    /// Parquet settings `parquet` (the statement's own, which travel with it).
    pub fn rebuild(
        spec: WriterSpec,
        input: Arc<dyn ExecutionPlan>,
        runtime: &RuntimeEnv,
        parquet: &ParquetOptions,
    ) -> DeltaResult<Self> {
        let config = spec.writer_config(parquet)?;
        let store = spec.location.log_store(runtime)?.object_store(None);
        Ok(DeltaWriterExec::new(input, spec, config, store))
    }

    /// What it writes.
    pub fn spec(&self) -> &WriterSpec {
        &self.spec
    }

    /// The schema of its output: per data file its `add` action as JSON, and per task the
    /// rows written (on a row with no action).
    pub fn output_schema() -> SchemaRef {
        output_schema()
    }
}

/// `add` (JSON, null on a task's summary row) and `rows`.
pub(crate) fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(ADD_COLUMN, DataType::Utf8, true),
        Field::new(ROWS_COLUMN, DataType::UInt64, false),
    ]))
}

impl DisplayAs for DeltaWriterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeltaWriterExec: table={}", self.spec.location)
    }
}

impl ExecutionPlan for DeltaWriterExec {
    fn name(&self) -> &str {
        "DeltaWriterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("DeltaWriterExec takes one input".into()))?;
        Ok(Arc::new(DeltaWriterExec::new(
            input,
            self.spec.clone(),
            self.config.clone(),
            Arc::clone(&self.store),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let task = WriteTask {
            table_schema: Arc::clone(&self.spec.table_schema),
            writer: DeltaWriter::new(Arc::clone(&self.store), self.config.clone()),
            location: self.spec.location.to_string(),
        };
        let output = futures::stream::once(task.run(input));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            output_schema(),
            output,
        )))
    }
}

/// One partition's write.
struct WriteTask {
    table_schema: SchemaRef,
    writer: DeltaWriter,
    location: String,
}

impl WriteTask {
    async fn run(mut self, mut input: SendableRecordBatchStream) -> Result<RecordBatch> {
        let mut rows = 0u64;
        while let Some(batch) = input.next().await {
            let written = match batch.and_then(|b| conform(&b, &self.table_schema)) {
                Ok(batch) => {
                    rows += batch.num_rows() as u64;
                    self.writer.write(&batch).await.map_err(|e| self.error(e))
                }
                Err(e) => Err(e),
            };
            if let Err(err) = written {
                // Abort the open files (multipart uploads on object stores); they were
                // never referenced by the log.
                let _ = self.writer.abort().await;
                return Err(err);
            }
        }
        let location = self.location.clone();
        let adds = self
            .writer
            .close()
            .await
            .map_err(|e| DataFusionError::from(DeltaError::from_delta(&location, e)))?;
        let mut json: Vec<Option<String>> = Vec::with_capacity(adds.len() + 1);
        for add in &adds {
            let text = serde_json::to_string(add).map_err(|e| {
                DataFusionError::Execution(format!("cannot encode a Delta add action: {e}"))
            })?;
            json.push(Some(text));
        }
        json.push(None);
        let mut counts = vec![0u64; adds.len()];
        counts.push(rows);
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(json)),
            Arc::new(UInt64Array::from(counts)),
        ];
        Ok(RecordBatch::try_new(output_schema(), columns)?)
    }

    fn error(&self, err: deltalake::DeltaTableError) -> DataFusionError {
        DeltaError::from_delta(&self.location, err).into()
    }
}

/// The batch's columns in the table's order and types (the planner checked that every
/// cast is one a write may do).
fn conform(batch: &RecordBatch, table_schema: &SchemaRef) -> Result<RecordBatch> {
    let input = batch.schema();
    let mut columns = Vec::with_capacity(table_schema.fields().len());
    for field in table_schema.fields() {
        let index = input.index_of(field.name())?;
        let column = batch.column(index);
        columns.push(if column.data_type() == field.data_type() {
            Arc::clone(column)
        } else {
            cast(column, field.data_type())?
        });
    }
    Ok(RecordBatch::try_new(Arc::clone(table_schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count read from delta-rs's setting makes the same setting again.
    #[test]
    fn indexed_columns_survive_the_round_trip() {
        let parquet = ParquetOptions::default();
        for count in [None, Some(0), Some(32), Some(5)] {
            let spec = WriterSpec {
                location: DeltaLocation::parse("/tmp/t").unwrap(),
                table_schema: output_schema(),
                partition_columns: Vec::new(),
                target_file_size: None,
                indexed_columns: count,
                stats_columns: None,
            };
            let config = spec.writer_config(&parquet).unwrap();
            let text = format!("{config:?}");
            let setting = text
                .split("num_indexed_cols: ")
                .nth(1)
                .and_then(|rest| rest.split(", stats_columns").next())
                .unwrap();
            assert_eq!(indexed_columns(&setting_of(setting)), count, "{text}");
        }
    }

    /// A stand-in whose debug form is `text`.
    fn setting_of(text: &str) -> impl fmt::Debug + '_ {
        struct Shown<'a>(&'a str);
        impl fmt::Debug for Shown<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        Shown(text)
    }
}
