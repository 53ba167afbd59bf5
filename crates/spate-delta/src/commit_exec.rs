//! [`DeltaCommitExec`]: commits the files [`crate::writer_exec::DeltaWriterExec`] wrote
//! as one new version of the table, and returns the number of rows written.
//!
//! # Algorithm
//! The input is the writers' output gathered into one partition, so this runs once,
//! after every writer task finished. It reads the `add` actions, then builds the commit:
//! - a new table: protocol, metadata (schema, partition columns) and the adds, as
//!   version 0;
//! - append: the adds;
//! - overwrite: the adds plus a `remove` for each file being replaced: every file, those
//!   whose partition values match `replaceWhere` (after checking that every new file
//!   matches it too), or those in a partition the new files fall in (dynamic).
//!
//! The commit writes `_delta_log/<version>.json` with put-if-absent. When another writer
//! took that version first, delta-rs's conflict checker reads what it committed: appends
//! that touch nothing this write read are retried at the next version; real conflicts
//! (files this overwrite removes were removed or added to concurrently) fail with
//! [`DeltaError::Conflict`]. A failed commit deletes the files this write added, so the
//! table is as it was; a writer killed before the commit leaves only unreferenced files,
//! which no reader sees.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::UInt64Array;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, StructType};
use deltalake::logstore::LogStoreRef;
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;

use crate::config::{OverwriteScope, WriteMode};
use crate::error::{DeltaError, Result};
use crate::table::remove_files;
use crate::writer_exec::{ADD_COLUMN, ROWS_COLUMN};

/// Everything a write needs to commit, decided at planning.
pub(crate) struct CommitPlan {
    /// The table, for messages.
    pub location: String,
    pub log_store: LogStoreRef,
    /// The table as read at planning; `None` for a new table.
    pub table: Option<DeltaTable>,
    /// The schema of a new table.
    pub new_schema: Option<StructType>,
    pub partition_columns: Vec<String>,
    pub mode: WriteMode,
    pub overwrite: OverwriteScope,
    /// `replaceWhere` compiled against [`Self::partition_schema`].
    pub replace_where: Option<Arc<dyn PhysicalExpr>>,
    /// The partition columns with their types.
    pub partition_schema: SchemaRef,
}

impl fmt::Debug for CommitPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitPlan")
            .field("location", &self.location)
            .field("mode", &self.mode)
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}

/// Commits what the writers wrote; see the module doc.
#[derive(Debug)]
pub struct DeltaCommitExec {
    input: Arc<dyn ExecutionPlan>,
    plan: Arc<CommitPlan>,
    properties: Arc<PlanProperties>,
}

impl DeltaCommitExec {
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, plan: Arc<CommitPlan>) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(count_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        DeltaCommitExec {
            input,
            plan,
            properties,
        }
    }
}

/// DataFusion's result of a write: one `count` row.
fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::UInt64,
        false,
    )]))
}

impl DisplayAs for DeltaCommitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeltaCommitExec: table={}, mode={:?}",
            self.plan.location, self.plan.mode
        )
    }
}

impl ExecutionPlan for DeltaCommitExec {
    fn name(&self) -> &str {
        "DeltaCommitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<datafusion::physical_plan::Distribution> {
        vec![datafusion::physical_plan::Distribution::SinglePartition]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("DeltaCommitExec takes one input".into()))?;
        Ok(Arc::new(DeltaCommitExec::new(
            input,
            Arc::clone(&self.plan),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "DeltaCommitExec has one partition, not {partition}"
            )));
        }
        let input = self.input.execute(0, context)?;
        let plan = Arc::clone(&self.plan);
        let output = futures::stream::once(async move {
            let written: Vec<RecordBatch> = input.try_collect().await?;
            let (adds, rows) = read_writer_output(&written)?;
            let paths: Vec<String> = adds.iter().map(|a| a.path.clone()).collect();
            if let Err(err) = plan.commit(adds).await {
                remove_files(&plan.log_store, &paths).await;
                return Err(DataFusionError::from(err));
            }
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![rows]));
            Ok(RecordBatch::try_new(count_schema(), vec![count])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            count_schema(),
            output,
        )))
    }
}

/// The add actions and the rows written, from the writers' output.
fn read_writer_output(batches: &[RecordBatch]) -> DFResult<(Vec<Add>, u64)> {
    let mut adds = Vec::new();
    let mut rows = 0u64;
    for batch in batches {
        let json = batch
            .column_by_name(ADD_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let counts = batch
            .column_by_name(ROWS_COLUMN)
            .and_then(|c| c.as_primitive_opt::<UInt64Type>());
        let (Some(json), Some(counts)) = (json, counts) else {
            return Err(DataFusionError::Internal(
                "unexpected output of the Delta writers".into(),
            ));
        };
        rows += counts.iter().flatten().sum::<u64>();
        for text in json.iter().flatten() {
            let add: Add = serde_json::from_str(text).map_err(|e| {
                DataFusionError::Internal(format!("cannot decode a Delta add action: {e}"))
            })?;
            adds.push(add);
        }
    }
    Ok((adds, rows))
}

impl CommitPlan {
    /// Commits `adds` as one new version; see the module doc.
    async fn commit(&self, adds: Vec<Add>) -> Result<()> {
        let delta = |e| DeltaError::from_delta(&self.location, e);
        if let Some(predicate) = &self.replace_where {
            let values: Vec<_> = adds.iter().map(|a| a.partition_values.clone()).collect();
            let matches = self.evaluate(predicate, &values)?;
            if let Some(i) = matches.iter().position(|m| !m) {
                return Err(DeltaError::ReplaceWhereViolation {
                    location: self.location.clone(),
                    predicate: self.replace_where_text(),
                    partition: hive_path(&values[i]),
                });
            }
        }
        let Some(table) = &self.table else {
            return self.create(adds).await;
        };
        let snapshot = table.snapshot().map_err(delta)?;
        let mut actions: Vec<Action> = Vec::with_capacity(adds.len());
        if self.mode == WriteMode::Overwrite {
            let files: Vec<_> = snapshot
                .snapshot()
                .file_views(self.log_store.as_ref(), None)
                .try_collect()
                .await
                .map_err(delta)?;
            let values: Vec<_> = files.iter().map(|f| f.partition_values_map()).collect();
            let doomed = match &self.overwrite {
                OverwriteScope::Table => vec![true; files.len()],
                OverwriteScope::ReplaceWhere(_) => match &self.replace_where {
                    Some(predicate) => self.evaluate(predicate, &values)?,
                    None => vec![true; files.len()],
                },
                OverwriteScope::WrittenPartitions => {
                    let written: HashSet<BTreeMap<String, Option<String>>> = adds
                        .iter()
                        .map(|a| a.partition_values.clone().into_iter().collect())
                        .collect();
                    values
                        .iter()
                        .map(|v| written.contains(&v.clone().into_iter().collect()))
                        .collect()
                }
            };
            for (file, doomed) in files.iter().zip(doomed) {
                if doomed {
                    actions.push(Action::Remove(file.remove_action(true)));
                }
            }
        }
        let predicate = self.operation_predicate(&adds);
        actions.extend(adds.into_iter().map(Action::Add));
        let operation = DeltaOperation::Write {
            mode: match self.mode {
                WriteMode::Overwrite => SaveMode::Overwrite,
                _ => SaveMode::Append,
            },
            partition_by: (!self.partition_columns.is_empty())
                .then(|| self.partition_columns.clone()),
            predicate,
        };
        CommitBuilder::default()
            .with_actions(actions)
            .build(Some(snapshot), self.log_store.clone(), operation)
            .await
            .map_err(delta)?;
        Ok(())
    }

    /// Version 0 of a new table, with its first files.
    async fn create(&self, adds: Vec<Add>) -> Result<()> {
        let schema = self
            .new_schema
            .clone()
            .ok_or_else(|| DeltaError::TableNotFound {
                location: self.location.clone(),
            })?;
        let created = CreateBuilder::new()
            .with_log_store(self.log_store.clone())
            .with_columns(schema.fields().cloned())
            .with_partition_columns(self.partition_columns.clone())
            .with_save_mode(SaveMode::ErrorIfExists)
            .with_actions(adds.into_iter().map(Action::Add))
            .await;
        let Err(err) = created else {
            return Ok(());
        };
        // Another writer created the table between planning and now: its first commit
        // took version 0, or the table is there now (delta-rs's own "already exists"
        // error is not a public type).
        let raced = matches!(err, DeltaTableError::VersionAlreadyExists(_))
            || self
                .log_store
                .is_delta_table_location()
                .await
                .unwrap_or(false);
        if raced {
            return Err(DeltaError::Conflict {
                location: self.location.clone(),
                reason: "another writer created the table first".into(),
            });
        }
        Err(DeltaError::from_delta(&self.location, err))
    }

    /// What the write read, for the conflict checker: the partitions it replaces.
    fn operation_predicate(&self, adds: &[Add]) -> Option<String> {
        if self.mode != WriteMode::Overwrite {
            return None;
        }
        match &self.overwrite {
            OverwriteScope::Table => None,
            OverwriteScope::ReplaceWhere(text) => Some(text.clone()),
            OverwriteScope::WrittenPartitions => {
                let mut terms: Vec<String> = adds
                    .iter()
                    .map(|a| {
                        let parts: Vec<String> = a
                            .partition_values
                            .iter()
                            .map(|(column, value)| match value {
                                Some(v) => format!("\"{column}\" = '{}'", v.replace('\'', "''")),
                                None => format!("\"{column}\" IS NULL"),
                            })
                            .collect();
                        format!("({})", parts.join(" AND "))
                    })
                    .collect();
                terms.sort();
                terms.dedup();
                (!terms.is_empty()).then(|| terms.join(" OR "))
            }
        }
    }

    fn replace_where_text(&self) -> String {
        match &self.overwrite {
            OverwriteScope::ReplaceWhere(text) => text.clone(),
            _ => String::new(),
        }
    }

    /// Evaluates a predicate on partition columns for each set of partition values (as
    /// the log stores them: text, `None` for null).
    fn evaluate(
        &self,
        predicate: &Arc<dyn PhysicalExpr>,
        values: &[HashMap<String, Option<String>>],
    ) -> Result<Vec<bool>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let mut columns: Vec<ArrayRef> = Vec::new();
        for field in self.partition_schema.fields() {
            let text: StringArray = values
                .iter()
                .map(|v| v.get(field.name()).cloned().flatten())
                .collect();
            columns.push(cast(&text, field.data_type())?);
        }
        let batch = RecordBatch::try_new(Arc::clone(&self.partition_schema), columns)?;
        let result = predicate.evaluate(&batch)?.into_array(batch.num_rows())?;
        let result = result
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DeltaError::InvalidOption {
                option: "replaceWhere".into(),
                value: self.replace_where_text(),
                reason: "not a true/false condition".into(),
            })?;
        Ok((0..result.len())
            .map(|i| result.is_valid(i) && result.value(i))
            .collect())
    }
}

/// `day=2026-11-23/store=3`, for messages.
fn hive_path(values: &HashMap<String, Option<String>>) -> String {
    let mut parts: Vec<String> = values
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_deref().unwrap_or("__HIVE_DEFAULT_PARTITION__")
            )
        })
        .collect();
    parts.sort();
    parts.join("/")
}

impl From<datafusion::arrow::error::ArrowError> for DeltaError {
    fn from(err: datafusion::arrow::error::ArrowError) -> Self {
        DeltaError::DataFusion(DataFusionError::ArrowError(Box::new(err), None))
    }
}
