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

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
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

use crate::error::DeltaError;

/// The column of the writers' output holding one `add` action as JSON.
pub(crate) const ADD_COLUMN: &str = "add";
/// The column of the writers' output holding rows written (on the last row of a task).
pub(crate) const ROWS_COLUMN: &str = "rows";

/// Writes its input's partitions as data files of a Delta table; see the module doc.
#[derive(Debug)]
pub(crate) struct DeltaWriterExec {
    input: Arc<dyn ExecutionPlan>,
    /// The table's schema, partition columns included, as the writer takes it.
    table_schema: SchemaRef,
    config: WriterConfig,
    /// The store with `/` at the table's root.
    store: ObjectStoreRef,
    /// The table, for messages.
    location: String,
    properties: Arc<PlanProperties>,
}

impl DeltaWriterExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        table_schema: SchemaRef,
        config: WriterConfig,
        store: ObjectStoreRef,
        location: String,
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
            table_schema,
            config,
            store,
            location,
            properties,
        }
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
        write!(f, "DeltaWriterExec: table={}", self.location)
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
            Arc::clone(&self.table_schema),
            self.config.clone(),
            Arc::clone(&self.store),
            self.location.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let task = WriteTask {
            table_schema: Arc::clone(&self.table_schema),
            writer: DeltaWriter::new(Arc::clone(&self.store), self.config.clone()),
            location: self.location.clone(),
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
