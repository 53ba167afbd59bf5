//! [`DeltaWriteFiles`]: the writing half of a Delta write, as it travels: from the client
//! to the scheduler as a logical node over the rows' query, from the scheduler to the
//! executors as the `DeltaWriterExec` it plans into.
//!
//! Both carry one [`DeltaWriteNode`]: delta-rs writer settings as plain data
//! ([`spate_delta::WriterSpec`]: the table's URL and schema, partition columns, target file
//! size, statistics settings). The Parquet settings are not in it: they are the
//! statement's, which travel with every task, and each side builds the writer from them
//! ([`spate_delta::DeltaWriterExec::rebuild`]), with its store from the shipped store
//! settings ([`crate::shipped_stores`]).
//!
//! ```text
//! client                     scheduler                      executors
//! DeltaWriteFiles ──codec──▶ DeltaWriteFiles ──planner──▶ DeltaWriterExec ──codec──▶ DeltaWriterExec
//!   (logical, over the       ([`DeltaWritePlanner`])        (one task per partition: Parquet
//!    rows' query)                                           files, their `add` actions out)
//! ```
//!
//! The commit is not here: the client makes it, once, from the actions the job returned
//! ([`crate::cluster_delta_write`]).

use std::cmp::Ordering;
use std::num::NonZeroU64;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use datafusion_proto::protobuf;
use prost::Message;
use spate_delta::{DeltaLocation, DeltaWriterExec, WriterSpec};

/// What starts an encoded [`DeltaWriteFiles`], to tell it from Ballista's nodes.
const MAGIC: &[u8] = b"spate-delta-write\0";

/// A Delta writer as it travels; see the module doc.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeltaWriteNode {
    /// The table's URL.
    #[prost(string, tag = "1")]
    location: String,
    #[prost(message, optional, tag = "2")]
    table_schema: Option<protobuf::Schema>,
    #[prost(string, repeated, tag = "3")]
    partition_columns: Vec<String>,
    #[prost(uint64, optional, tag = "4")]
    target_file_size: Option<u64>,
    /// Leading columns with statistics; none: all.
    #[prost(uint64, optional, tag = "5")]
    indexed_columns: Option<u64>,
    /// Whether the table names its statistics columns ([`Self::stats_columns`]).
    #[prost(bool, tag = "6")]
    names_stats_columns: bool,
    #[prost(string, repeated, tag = "7")]
    stats_columns: Vec<String>,
}

impl DeltaWriteNode {
    fn of(spec: &WriterSpec) -> Result<Self> {
        Ok(DeltaWriteNode {
            location: spec.location.url().to_string(),
            table_schema: Some(spec.table_schema.as_ref().try_into()?),
            partition_columns: spec.partition_columns.clone(),
            target_file_size: spec.target_file_size.map(NonZeroU64::get),
            indexed_columns: spec.indexed_columns,
            names_stats_columns: spec.stats_columns.is_some(),
            stats_columns: spec.stats_columns.clone().unwrap_or_default(),
        })
    }

    fn spec(&self) -> Result<WriterSpec> {
        let bad = |what: &str| DataFusionError::Internal(format!("bad Delta writer: {what}"));
        let schema = self.table_schema.as_ref().ok_or_else(|| bad("no schema"))?;
        Ok(WriterSpec {
            location: DeltaLocation::parse(&self.location)?,
            table_schema: Arc::new(Schema::try_from(schema)?),
            partition_columns: self.partition_columns.clone(),
            target_file_size: self.target_file_size.and_then(NonZeroU64::new),
            indexed_columns: self.indexed_columns,
            stats_columns: self.names_stats_columns.then(|| self.stats_columns.clone()),
        })
    }

    /// The writer over `input` this node describes, in the process of `context`.
    fn writer(
        &self,
        input: Arc<dyn ExecutionPlan>,
        context: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let parquet = &context.session_config().options().execution.parquet;
        let writer =
            DeltaWriterExec::rebuild(self.spec()?, input, context.runtime_env().as_ref(), parquet)?;
        Ok(Arc::new(writer))
    }
}

/// The node of `plan` when it is a Delta writer (the physical codec's encoding).
pub(crate) fn encode(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<DeltaWriteNode>> {
    plan.downcast_ref::<DeltaWriterExec>()
        .map(|writer| DeltaWriteNode::of(writer.spec()))
        .transpose()
}

/// The writer `node` describes over the one input of `inputs` (the physical codec's
/// decoding, on an executor).
pub(crate) fn decode(
    node: &DeltaWriteNode,
    inputs: &[Arc<dyn ExecutionPlan>],
    context: &TaskContext,
) -> Result<Arc<dyn ExecutionPlan>> {
    match inputs {
        [input] => node.writer(Arc::clone(input), context),
        _ => Err(DataFusionError::Internal(format!(
            "a Delta writer with {} inputs",
            inputs.len()
        ))),
    }
}

/// A logical node writing its input's rows as data files of a Delta table; its rows are
/// the writers' output (`add` actions, rows written). See the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DeltaWriteFiles {
    /// The encoded [`DeltaWriteNode`].
    node: Vec<u8>,
    /// The table, for plans shown.
    location: String,
    input: LogicalPlan,
    schema: DFSchemaRef,
}

impl DeltaWriteFiles {
    /// Writes `input`'s rows as `writer` (the client's plan of the write) would.
    pub fn new(writer: &DeltaWriterExec, input: LogicalPlan) -> Result<Self> {
        let spec = writer.spec();
        Ok(DeltaWriteFiles {
            node: DeltaWriteNode::of(spec)?.encode_to_vec(),
            location: spec.location.to_string(),
            input,
            schema: Arc::new(DFSchema::try_from(writer.schema().as_ref().clone())?),
        })
    }

    fn decode_node(bytes: &[u8]) -> Result<DeltaWriteNode> {
        DeltaWriteNode::decode(bytes)
            .map_err(|e| DataFusionError::Internal(format!("bad Delta writer: {e}")))
    }
}

impl PartialOrd for DeltaWriteFiles {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.node.partial_cmp(&other.node) {
            Some(Ordering::Equal) => self.input.partial_cmp(&other.input),
            order => order,
        }
    }
}

impl UserDefinedLogicalNodeCore for DeltaWriteFiles {
    fn name(&self) -> &str {
        "DeltaWriteFiles"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "DeltaWriteFiles: table={}", self.location)
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        let [input] = <[_; 1]>::try_from(inputs)
            .map_err(|_| DataFusionError::Internal("DeltaWriteFiles takes one input".into()))?;
        Ok(DeltaWriteFiles {
            input,
            ..self.clone()
        })
    }

    /// Every column of the input is written.
    fn necessary_children_exprs(&self, _output_columns: &[usize]) -> Option<Vec<Vec<usize>>> {
        Some(vec![(0..self.input.schema().fields().len()).collect()])
    }
}

/// The logical codec's encoding of `node` when it is a [`DeltaWriteFiles`] (its input
/// travels beside it).
pub(crate) fn encode_logical(node: &dyn UserDefinedLogicalNode) -> Option<Vec<u8>> {
    let files = node.as_any().downcast_ref::<DeltaWriteFiles>()?;
    Some([MAGIC, files.node.as_slice()].concat())
}

/// The [`DeltaWriteFiles`] over `inputs` that `buf` holds; `None` when it holds another
/// node.
pub(crate) fn decode_logical(
    buf: &[u8],
    inputs: &[LogicalPlan],
) -> Result<Option<DeltaWriteFiles>> {
    let Some(body) = buf.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let node = DeltaWriteFiles::decode_node(body)?;
    let [input] = inputs else {
        return Err(DataFusionError::Internal(format!(
            "DeltaWriteFiles with {} inputs",
            inputs.len()
        )));
    };
    let spec = node.spec()?;
    let schema = DFSchema::try_from(DeltaWriterExec::output_schema().as_ref().clone())?;
    Ok(Some(DeltaWriteFiles {
        node: body.to_vec(),
        location: spec.location.to_string(),
        input: input.clone(),
        schema: Arc::new(schema),
    }))
}

/// The scheduler's planner of [`DeltaWriteFiles`]: a `DeltaWriterExec` over the planned
/// input.
#[derive(Debug, Default)]
pub(crate) struct DeltaWritePlanner;

#[async_trait]
impl ExtensionPlanner for DeltaWritePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(files) = node.as_any().downcast_ref::<DeltaWriteFiles>() else {
            return Ok(None);
        };
        let context = session.task_ctx();
        decode(
            &DeltaWriteFiles::decode_node(&files.node)?,
            physical_inputs,
            &context,
        )
        .map(Some)
    }
}
