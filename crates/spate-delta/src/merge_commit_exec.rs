//! [`DeltaMergeCommitExec`]: merges its input's rows into a Delta table and commits the
//! change as one new version; returns one row: what it did ([`crate::merge_output_schema`]).
//!
//! # Algorithm
//! The input is the merge's source, planned and optimized like any query and gathered
//! into one partition, so this runs once, after every source task finished:
//! 1. collect the source rows (the source of a merge is the change set, small next to
//!    the target);
//! 2. hand them to delta-rs's merge with the table as read at planning
//!    ([`crate::merge::run_merge`]): it scans the target files the join predicate can
//!    match, joins them with the source (full outer where `NOT MATCHED` clauses need it),
//!    evaluates the clauses in order per row, writes the rewritten files and the inserted
//!    rows, and commits the removes and adds as one version, checking it against any
//!    version committed since planning;
//! 3. return the counts and the version.
//!
//! ```text
//! DeltaMergeCommitExec    one task: collect source rows ─► delta-rs merge ─► one commit
//!   CoalescePartitionsExec
//!     <the source query>  run by the session's executor
//! ```
//!
//! A failed merge commits nothing: the files it wrote are not in the log, which no reader
//! sees. The operator has effects beyond its output, so executors never retry it.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, SessionStateBuilder, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use futures::TryStreamExt;

use crate::merge::{MergeSpec, merge_output_schema, run_merge};

/// Merges the rows of its input into a Delta table; see the module doc.
#[derive(Debug)]
pub(crate) struct DeltaMergeCommitExec {
    input: Arc<dyn ExecutionPlan>,
    /// The table as read at planning.
    table: DeltaTable,
    /// The table, for messages.
    location: String,
    spec: MergeSpec,
    properties: Arc<PlanProperties>,
}

impl DeltaMergeCommitExec {
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        table: DeltaTable,
        location: String,
        spec: MergeSpec,
    ) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(merge_output_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        DeltaMergeCommitExec {
            input,
            table,
            location,
            spec,
            properties,
        }
    }
}

impl DisplayAs for DeltaMergeCommitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeltaMergeCommitExec: table={}, ", self.location)?;
        crate::merge_node::fmt_spec(&self.spec, f)
    }
}

impl ExecutionPlan for DeltaMergeCommitExec {
    fn name(&self) -> &str {
        "DeltaMergeCommitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
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
        let [input] = <[_; 1]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("DeltaMergeCommitExec takes one input".into())
        })?;
        Ok(Arc::new(DeltaMergeCommitExec::new(
            input,
            self.table.clone(),
            self.location.clone(),
            self.spec.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "DeltaMergeCommitExec has one partition, not {partition}"
            )));
        }
        let input = self.input.execute(0, Arc::clone(&context))?;
        let schema = self.input.schema();
        let table = self.table.clone();
        let location = self.location.clone();
        let spec = self.spec.clone();
        let output = futures::stream::once(async move {
            let rows: Vec<RecordBatch> = input.try_collect().await?;
            // delta-rs plans its join in a session of its own: this task's settings and
            // runtime (memory pool, object stores).
            let state = SessionStateBuilder::new()
                .with_config(context.session_config().clone())
                .with_runtime_env(context.runtime_env())
                .with_default_features()
                .build();
            let source = SessionContext::new_with_state(state.clone())
                .read_table(Arc::new(MemTable::try_new(schema, vec![rows])?))?;
            let done = run_merge(state, table, &location, source, &spec).await?;
            Ok(done.to_batch()?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            merge_output_schema(),
            output,
        )))
    }
}
