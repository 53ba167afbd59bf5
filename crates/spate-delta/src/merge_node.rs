//! [`DeltaMerge`]: `MERGE INTO` a Delta table as a node of DataFusion's logical plan, and
//! [`DeltaPlanner`], the extension planner that turns it into
//! [`DeltaMergeCommitExec`](crate::merge_commit_exec::DeltaMergeCommitExec).
//!
//! ```text
//! MERGE INTO t USING (query) s ON ... ─┐ spate plans the statement's source and clauses
//! df.merge_into(t).on(...)... ─────────┘ (LogicalPlan::Extension(DeltaMerge) over the source)
//!                                        │ DataFusion's optimizer (the source is optimized
//!                                        │ like any query), its physical planner
//!                                        ▼
//!              DeltaPlanner ─► DeltaMergeCommitExec over the source's physical plan
//! ```
//!
//! # Why an extension node over delta-rs's merge
//! The other writes feed `DeltaWriterExec`/`DeltaCommitExec`, which append files and
//! remove whole partitions. A merge removes the *files that hold matched rows*, found by
//! a join of the source with the target that also decides, row by row, which clause
//! applies; delta-rs's merge does exactly that (pruning target files by the join
//! predicate, rewriting only the touched files, checking conflicts at commit). Rebuilding
//! that join as a spate plan would duplicate delta-rs's rewrite logic and change the
//! commit operator other work encodes for the cluster; the extension node instead gives
//! MERGE the one planning path of every statement (a logical plan DataFusion optimizes,
//! a physical plan the executor runs and `EXPLAIN` prints) and hands the planned source
//! rows to delta-rs at the one point where files are rewritten and committed.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, UserDefinedLogicalNodeCore};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

use crate::error::DeltaError;
use crate::location::DeltaLocation;
use crate::merge::{MergeSpec, merge_output_schema};
use crate::merge_commit_exec::DeltaMergeCommitExec;
use crate::table::{TableVersion, open_table};

/// `MERGE INTO` the Delta table at `location` of the rows of its input; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeltaMerge {
    /// The source rows.
    input: LogicalPlan,
    /// The target as the statement named it (`stock`, or its location), for messages.
    table: String,
    location: DeltaLocation,
    spec: MergeSpec,
    schema: DFSchemaRef,
}

impl DeltaMerge {
    /// The logical plan merging the rows of `input` into the table at `location` (named
    /// `table` in messages) as `spec` says.
    pub fn plan(
        input: LogicalPlan,
        table: String,
        location: DeltaLocation,
        spec: MergeSpec,
    ) -> DFResult<LogicalPlan> {
        let schema = Arc::new(DFSchema::try_from(merge_output_schema())?);
        let node = DeltaMerge {
            input,
            table,
            location,
            spec,
            schema,
        };
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(node),
        }))
    }

    /// The merge in `plan`, if it is one.
    pub fn of(plan: &LogicalPlan) -> Option<&DeltaMerge> {
        match plan {
            LogicalPlan::Extension(ext) => ext.node.as_any().downcast_ref::<DeltaMerge>(),
            _ => None,
        }
    }

    /// The target as the statement named it.
    pub fn table(&self) -> &str {
        &self.table
    }
}

impl PartialOrd for DeltaMerge {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (&self.table, &self.location, &self.spec)
            .partial_cmp(&(&other.table, &other.location, &other.spec))
            .filter(|order| *order != Ordering::Equal || self == other)
    }
}

impl UserDefinedLogicalNodeCore for DeltaMerge {
    fn name(&self) -> &str {
        "DeltaMerge"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        // The clauses are SQL text delta-rs resolves against the target and source.
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "DeltaMerge: table={}, location={}, ",
            self.table, self.location
        )?;
        fmt_spec(&self.spec, f)
    }

    fn with_exprs_and_inputs(&self, exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> DFResult<Self> {
        let [input] = <[_; 1]>::try_from(inputs)
            .map_err(|_| DataFusionError::Internal("DeltaMerge takes one input".into()))?;
        if !exprs.is_empty() {
            return Err(DataFusionError::Internal(
                "DeltaMerge takes no expressions".into(),
            ));
        }
        Ok(DeltaMerge {
            input,
            ..self.clone()
        })
    }
}

/// `on=..., when=[...]`, for EXPLAIN.
pub(crate) fn fmt_spec(spec: &MergeSpec, f: &mut fmt::Formatter) -> fmt::Result {
    let clauses: Vec<String> = spec.clauses.iter().map(ToString::to_string).collect();
    write!(
        f,
        "target={}, source={}, on={}, when=[{}]",
        spec.target_alias,
        spec.source_alias,
        spec.on,
        clauses.join("; ")
    )
}

/// Plans [`DeltaMerge`] nodes: opens the target (it must be a Delta table) and puts a
/// [`DeltaMergeCommitExec`] over the source's plan, gathered into one partition.
#[derive(Debug, Default)]
pub struct DeltaPlanner;

#[async_trait]
impl ExtensionPlanner for DeltaPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn datafusion::logical_expr::UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> DFResult<Option<Arc<dyn ExecutionPlan>>> {
        let Some(merge) = node.as_any().downcast_ref::<DeltaMerge>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return Err(DataFusionError::Internal(
                "DeltaMerge takes one input".into(),
            ));
        };
        let shown = merge.location.to_string();
        let opened =
            open_table(session.runtime_env(), &merge.location, TableVersion::Latest).await?;
        let table = opened.table.ok_or_else(|| DeltaError::TableNotFound {
            location: shown.clone(),
        })?;
        let input: Arc<dyn ExecutionPlan> = if input.output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(Arc::clone(input)))
        } else {
            Arc::clone(input)
        };
        Ok(Some(Arc::new(DeltaMergeCommitExec::new(
            input,
            table,
            shown,
            merge.spec.clone(),
        ))))
    }
}
