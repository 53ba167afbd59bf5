//! [`BucketExec`]: a leaf that serves one piece of a join input, from memory or from a
//! spill file, as partition `p` of `n` (every other partition is empty).
//!
//! The grace join rebuilds DataFusion's `HashJoinExec` over pieces of its inputs; a
//! bucket leaf stands where the join's child was, so the join itself runs unchanged.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use parking_lot::Mutex;

use crate::spill_file::SpillFile;

/// Where a bucket's rows are.
#[derive(Debug)]
pub(crate) enum BucketSource {
    /// In memory; taken by the first execution.
    Memory(Mutex<Option<Vec<RecordBatch>>>),
    /// Partition `bucket` of a spill file.
    Spilled { file: Arc<SpillFile>, bucket: usize },
}

/// One piece of a join input; see the module doc.
#[derive(Debug)]
pub(crate) struct BucketExec {
    source: BucketSource,
    partition: usize,
    /// The in-memory size of its rows.
    bytes: u64,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl BucketExec {
    /// `source`'s rows (`bytes` of them in memory) as partition `partition` of
    /// `partitions`.
    pub fn new(
        source: BucketSource,
        bytes: u64,
        schema: SchemaRef,
        partition: usize,
        partitions: usize,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        BucketExec {
            source,
            partition,
            bytes,
            schema,
            properties: Arc::new(properties),
        }
    }

    /// The in-memory size of its rows.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl DisplayAs for BucketExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            BucketSource::Memory(_) => write!(f, "BucketExec: memory, bytes={}", self.bytes),
            BucketSource::Spilled { bucket, .. } => {
                write!(
                    f,
                    "BucketExec: spilled bucket {bucket}, bytes={}",
                    self.bytes
                )
            }
        }
    }
}

impl ExecutionPlan for BucketExec {
    fn name(&self) -> &str {
        "BucketExec"
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
                "BucketExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = Arc::clone(&self.schema);
        if partition != self.partition {
            let empty = futures::stream::empty();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, empty)));
        }
        let stream: SendableRecordBatchStream = match &self.source {
            BucketSource::Memory(batches) => {
                let batches = batches.lock().take().ok_or_else(|| {
                    DataFusionError::Internal("a grace join bucket was read twice".into())
                })?;
                let batches = futures::stream::iter(batches.into_iter().map(Ok));
                Box::pin(RecordBatchStreamAdapter::new(schema, batches))
            }
            BucketSource::Spilled { file, bucket } => {
                let batches = futures::stream::iter(file.read(*bucket));
                Box::pin(RecordBatchStreamAdapter::new(schema, batches))
            }
        };
        Ok(stream)
    }
}
