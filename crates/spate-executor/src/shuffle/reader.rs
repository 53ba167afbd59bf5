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
//!
//! After an adaptive re-plan ([`crate::adaptive`]) a reader's partition `i` is instead
//! what its [`ReadSpec`] `i` says: several adjacent reduce partitions (coalesced), or
//! one reduce partition from some of the map outputs only (one slice of a skewed
//! partition), or a copy of a partition that other tasks read too (the side of a split
//! join partition that every slice needs).

use std::fmt;
use std::ops::Range;
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

/// What one partition of a reader reads: some reduce partitions of some map outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSpec {
    /// Adjacent reduce partitions, read one after the other.
    pub partitions: Range<usize>,
    /// The map outputs to read them from, in task order; `None` for all.
    pub maps: Option<Range<usize>>,
    /// Reads a copy and leaves the partition for the other tasks that read it.
    pub shared: bool,
}

impl ReadSpec {
    /// All of reduce partition `partition`, taken.
    pub fn whole(partition: usize) -> Self {
        ReadSpec {
            partitions: partition..partition + 1,
            maps: None,
            shared: false,
        }
    }
}

/// Reads a stage's shuffled output; see the module doc.
#[derive(Debug)]
pub struct ShuffleReaderExec {
    stage: StageId,
    schema: SchemaRef,
    store: Arc<ShuffleStore>,
    properties: Arc<PlanProperties>,
    /// Per output partition, what it reads; `None`: partition `p` reads reduce partition
    /// `p` whole.
    reads: Option<Arc<[ReadSpec]>>,
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
        let schema = stage.body().schema();
        let partitioning = match &stage.output {
            StageOutputKind::Shuffle(Partitioning::Hash(exprs, n)) => {
                Partitioning::Hash(exprs.clone(), *n)
            }
            StageOutputKind::Shuffle(other) => {
                Partitioning::UnknownPartitioning(other.partition_count())
            }
            StageOutputKind::PassThrough | StageOutputKind::Result => {
                Partitioning::UnknownPartitioning(stage.output_partitions())
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
            reads: None,
        }
    }

    /// This reader with output partition `i` reading `reads[i]`. A hash partitioning stays
    /// a hash partitioning on the same keys (rows of one key still meet in one partition)
    /// with `reads.len()` partitions.
    pub fn with_reads(&self, reads: Vec<ReadSpec>) -> Self {
        let partitioning = match self.properties.output_partitioning() {
            Partitioning::Hash(exprs, _) => Partitioning::Hash(exprs.clone(), reads.len()),
            _ => Partitioning::UnknownPartitioning(reads.len()),
        };
        // A task reading several partitions, or parts of one, reads rows no one sorted
        // together: orderings and per-partition constants no longer hold.
        let mut equivalence = self.properties.equivalence_properties().clone();
        equivalence.clear_orderings();
        equivalence.clear_per_partition_constants();
        let properties = self
            .properties
            .as_ref()
            .clone()
            .with_partitioning(partitioning)
            .with_eq_properties(equivalence);
        ShuffleReaderExec {
            stage: self.stage,
            schema: Arc::clone(&self.schema),
            store: Arc::clone(&self.store),
            properties: Arc::new(properties),
            reads: Some(reads.into()),
        }
    }

    /// Whether an adaptive re-plan chose what it reads.
    pub fn is_adapted(&self) -> bool {
        self.reads.is_some()
    }

    /// What output partition `partition` reads.
    pub fn read_spec(&self, partition: usize) -> ReadSpec {
        match &self.reads {
            Some(reads) => reads
                .get(partition)
                .cloned()
                .unwrap_or(ReadSpec::whole(partition)),
            None => ReadSpec::whole(partition),
        }
    }

    /// The stage it reads.
    pub fn stage(&self) -> StageId {
        self.stage
    }

    /// The in-memory size of `partition`'s rows, known once the stage it reads is done.
    pub fn partition_bytes(&self, partition: usize) -> Option<u64> {
        self.store
            .read_bytes(self.stage, &self.read_spec(partition))
    }
}

impl DisplayAs for ShuffleReaderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ShuffleReaderExec: stage={}, partitioning={}",
            self.stage,
            self.properties.output_partitioning()
        )?;
        if let Some(reads) = &self.reads {
            let split = reads.iter().filter(|r| r.maps.is_some()).count();
            write!(f, ", adaptive reads={}", reads.len())?;
            if split > 0 {
                write!(f, " ({split} slices of skewed partitions)")?;
            }
        }
        Ok(())
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
        let spec = self.read_spec(partition);
        let outputs = self.store.outputs_for(self.stage, &spec)?;
        let stage = self.stage;
        let retain = self.store.retains();
        let shared = spec.shared;
        let pieces = spec.partitions.flat_map(move |p| {
            outputs
                .clone()
                .into_iter()
                .filter(move |(_, o)| o.as_ref().is_none_or(|o| o.covers(p)))
                .map(move |(task, o)| (p, task, o))
        });
        let batches = futures::stream::iter(pieces)
            .map(move |(partition, task, output)| {
                let read = match output {
                    Some(output) => output.read(stage, partition, retain, shared),
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
                match read {
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
