//! [`ShuffleReaderExec`]: a leaf that reads one reduce partition of a finished stage.
//!
//! Partition `p` streams, for every map task of the stage in task order, that task's
//! batches for `p`: first the spilled segments, batch by batch, then the batches still in
//! memory, which the reader takes over (each partition is read once, unless the store
//! retains what it lends for retries). A map output that is missing (discarded as lost)
//! or whose block cannot be read back is reported as
//! [`crate::ExecutorError::MapOutputLost`], which makes its map task run again. For a
//! pass-through stage, partition `p` is exactly map task `p`'s output, in order, so a
//! merge above the reader still sees sorted partitions.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;

use super::store::ShuffleStore;
use crate::error::ExecutorError;
use crate::stage::{Stage, StageId, StageOutputKind};

/// Reads a stage's shuffled output; see the module doc.
#[derive(Debug)]
pub struct ShuffleReaderExec {
    stage: StageId,
    schema: SchemaRef,
    store: Arc<ShuffleStore>,
    properties: Arc<PlanProperties>,
}

impl ShuffleReaderExec {
    /// The reader of `stage`'s output. `equivalence` is what holds of its rows: for a
    /// shuffle, what the exchange it replaces promised (an ordering survives when one
    /// ordered map task feeds every partition; a column fixed by a filter stays fixed).
    pub fn for_stage(
        stage: &Stage,
        store: Arc<ShuffleStore>,
        equivalence: EquivalenceProperties,
    ) -> Self {
        let schema = stage.plan.schema();
        let partitioning = match &stage.output {
            StageOutputKind::Shuffle(Partitioning::Hash(exprs, n)) => {
                Partitioning::Hash(exprs.clone(), *n)
            }
            StageOutputKind::Shuffle(other) => {
                Partitioning::UnknownPartitioning(other.partition_count())
            }
            StageOutputKind::PassThrough | StageOutputKind::Result => {
                Partitioning::UnknownPartitioning(stage.tasks())
            }
        };
        let properties = PlanProperties::new(
            equivalence,
            partitioning,
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        ShuffleReaderExec {
            stage: stage.id,
            schema,
            store,
            properties: Arc::new(properties),
        }
    }

    /// The stage it reads.
    pub fn stage(&self) -> StageId {
        self.stage
    }

    /// The in-memory size of `partition`'s rows, known once the stage it reads is done.
    pub fn partition_bytes(&self, partition: usize) -> Option<u64> {
        self.store.partition_bytes(self.stage, partition)
    }
}

impl DisplayAs for ShuffleReaderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ShuffleReaderExec: stage={}, partitioning={}",
            self.stage,
            self.properties.output_partitioning()
        )
    }
}

impl ExecutionPlan for ShuffleReaderExec {
    fn name(&self) -> &str {
        "ShuffleReaderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
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
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "ShuffleReaderExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let outputs = self.store.outputs(self.stage)?;
        let stage = self.stage;
        let retain = self.store.retains();
        let batches = futures::stream::iter(outputs.into_iter().enumerate())
            .map(move |(task, output)| {
                let taken = match output {
                    Some(output) => output.take(stage, partition, retain),
                    None => Err(DataFusionError::External(Box::new(
                        ExecutorError::MapOutputLost {
                            stage,
                            task,
                            attempt: 0,
                            partition,
                            reason: "it is missing".into(),
                        },
                    ))),
                };
                match taken {
                    Ok(batches) => futures::stream::iter(batches).boxed(),
                    Err(err) => futures::stream::once(async move { Err(err) }).boxed(),
                }
            })
            .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        )))
    }
}
