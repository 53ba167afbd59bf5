//! Delta writes on a cluster (`COPY ... STORED AS DELTA`, `INSERT INTO` a Delta table,
//! `DataFrameWriter::delta`): the executors write the data files, the client commits them.
//!
//! # Algorithm
//! 1. The client plans the write as it would locally, over a stand-in for the rows (an
//!    empty relation of their schema): spate-delta opens the table, checks mode, columns,
//!    partition columns and `replaceWhere`, and returns
//!    `DeltaCommitExec(… DeltaWriterExec(stand-in))`. A write that fails a check fails
//!    here, before any task starts.
//! 2. The writer becomes a job: a [`DeltaWriteFiles`] node over the rows' query goes to the
//!    scheduler, which plans it into `DeltaWriterExec`s ([`crate::shipped_delta_write`]):
//!    one task per partition of the rows, each writing its Parquet files and returning
//!    their `add` actions.
//! 3. The client's plan is the commit over that job: `DeltaCommitExec(DistributedQueryExec)`.
//!    When the job succeeded, the actions of every task are here, and the commit adds them
//!    all as one new version of the table (or replaces what an overwrite replaces).
//!
//! ```text
//! client:     DeltaCommitExec ◀── add actions ── DistributedQueryExec ── job ──▶ scheduler
//! executors:                                     DeltaWriterExec × N  ──▶ Parquet files
//! ```
//!
//! # Why the client commits
//! Exactly one commit per statement, whatever executors did the writing, needs the commit
//! to run once, after every file is written. Inside the job it would be a task: Ballista
//! runs the last stage of a job on an executor like any other, and runs a task again when
//! its executor is lost, also after the task did its work (a second commit of the same
//! files). The client is the one process that sees the job succeed, runs the statement
//! once, and already holds the table it planned against (its version, for the conflict
//! check; its store settings). Retried writer tasks leave files no action names, which no
//! reader sees; a job that fails, or a client that dies before the commit, commits
//! nothing.

use std::sync::Arc;

use ballista_core::planner::BallistaQueryPlanner;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::file_format::file_type_to_format;
use datafusion::datasource::source_as_provider;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::{DmlStatement, EmptyRelation, Extension, LogicalPlan, WriteOp};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion_proto::protobuf::LogicalPlanNode;
use spate_delta::{DeltaTableProvider, DeltaWriterExec};

use crate::shipped_delta_write::DeltaWriteFiles;
use crate::support::check_plan;

/// What `STORED AS` names Delta tables by (spate's Delta sink).
const DELTA_FORMAT: &str = "delta";

/// The client's plan of `plan` when it writes a Delta table (see the module doc); `None`
/// for any other statement.
pub(crate) async fn plan_delta_write(
    plan: &LogicalPlan,
    session: &dyn Session,
    local: &DefaultPhysicalPlanner,
    ballista: &BallistaQueryPlanner<LogicalPlanNode>,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(rows) = delta_write_input(plan)? else {
        return Ok(None);
    };
    check_plan(rows)?;
    let stand_in = LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::clone(rows.schema()),
    });
    let here = plan.with_new_exprs(plan.expressions(), vec![stand_in])?;
    let planned = local.create_physical_plan(&here, session).await?;
    let mut files = None;
    planned.apply(|node| {
        Ok(match node.downcast_ref::<DeltaWriterExec>() {
            Some(writer) => {
                files = Some(DeltaWriteFiles::new(writer, rows.clone()));
                TreeNodeRecursion::Stop
            }
            None => TreeNodeRecursion::Continue,
        })
    })?;
    // No writer: nothing to write (mode `ignore` on a table that exists).
    let Some(files) = files.transpose()? else {
        return Ok(Some(planned));
    };
    let job = LogicalPlan::Extension(Extension {
        node: Arc::new(files),
    });
    let job = ballista.create_physical_plan(&job, session).await?;
    let committed = planned.transform_down(|node| {
        Ok(match node.downcast_ref::<DeltaWriterExec>() {
            Some(_) => Transformed::new(Arc::clone(&job), true, TreeNodeRecursion::Jump),
            None => Transformed::no(node),
        })
    })?;
    Ok(Some(committed.data))
}

/// The rows' query of a statement writing a Delta table.
fn delta_write_input(plan: &LogicalPlan) -> Result<Option<&LogicalPlan>> {
    match plan {
        LogicalPlan::Dml(DmlStatement {
            op: WriteOp::Insert(_),
            target,
            input,
            ..
        }) => {
            let provider = source_as_provider(target)?;
            Ok(provider
                .downcast_ref::<DeltaTableProvider>()
                .map(|_| input.as_ref()))
        }
        LogicalPlan::Copy(copy) => {
            let format = file_type_to_format(&copy.file_type)?;
            Ok((format.get_ext() == DELTA_FORMAT).then_some(copy.input.as_ref()))
        }
        _ => Ok(None),
    }
}
