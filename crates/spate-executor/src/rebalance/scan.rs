//! [`UnitScanExec`]: a file scan read in work units handed out at run time, and the check
//! of which stages may have their scan read that way.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::{TaskUnits, unit_bytes};
use crate::retry::{has_coupled_partitions, has_side_effects};
use crate::stage::{Stage, StageOutputKind};

/// A file scan whose task reads the work units its [`TaskUnits`] hand out, one after the
/// other, each through a `DataSourceExec` of its own over the same files, columns and
/// filters; see [`crate::rebalance`]. The unit scans share the wrapped scan's file source,
/// so its metrics count every unit. A task context without [`TaskUnits`] (DataFusion's
/// own executor, a copy of the plan run elsewhere) reads the wrapped scan's partition
/// as it was planned.
#[derive(Debug)]
pub(crate) struct UnitScanExec {
    /// The `DataSourceExec` over a [`FileScanConfig`] it reads in units.
    scan: Arc<dyn ExecutionPlan>,
}

/// The file scan configuration of `plan`, if it is a `DataSourceExec` reading files.
fn file_scan(plan: &dyn ExecutionPlan) -> Option<&FileScanConfig> {
    plan.downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()
}

impl DisplayAs for UnitScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UnitScanExec: work units handed out at run time, split when a worker is idle"
        )
    }
}

impl ExecutionPlan for UnitScanExec {
    fn name(&self) -> &str {
        "UnitScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.scan.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.scan]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(scan), true) if file_scan(scan.as_ref()).is_some() => {
                Ok(Arc::new(UnitScanExec { scan }))
            }
            _ => Err(DataFusionError::Internal(
                "UnitScanExec wraps exactly one file scan".into(),
            )),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(units) = context.session_config().get_extension::<TaskUnits>() else {
            return self.scan.execute(partition, context);
        };
        let config = file_scan(self.scan.as_ref())
            .ok_or_else(|| DataFusionError::Internal("UnitScanExec lost its file scan".into()))?
            .clone();
        // A unit is claimed only when the previous one is done, so the units not reached
        // yet can still go to an idle worker.
        let claims = futures::stream::iter(std::iter::from_fn(move || units.claim()));
        let batches = claims
            .map(move |unit: FileGroup| {
                let mut config = config.clone();
                config.file_groups = vec![unit];
                DataSourceExec::from_data_source(config).execute(0, Arc::clone(&context))
            })
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.scan.schema(),
            batches,
        )))
    }
}

/// A stage's plan with its scan wrapped in a [`UnitScanExec`], and per plan partition
/// the work units it starts with.
pub(super) type SplittableScan = (Arc<dyn ExecutionPlan>, Vec<Vec<FileGroup>>);

/// If `stage`'s scan may be read in work units, its plan with the scan wrapped in a
/// [`UnitScanExec`], and each task's units for `threads` workers.
///
/// It may when the stage writes a shuffle, or an unordered gather without a row limit
/// (a new task's rows are one more map output, or go to the same reduce partition as
/// those of the task it came from); it writes nothing and no join in it shares state
/// between partitions; it has exactly one `DataSourceExec`, reading files (not in a
/// kept order, not by a file-group partitioning, without a `LIMIT`), whose partition
/// `i` is the stage's task `i`; and every operator on the way up reads the scan's side
/// with no distribution required (its other inputs, such as a broadcast build side,
/// being single partitions it reads whole in every task).
pub(super) fn splittable_scan(stage: &Stage, threads: usize) -> Result<Option<SplittableScan>> {
    let plan = stage.body();
    let output_fits = match &stage.output {
        StageOutputKind::Shuffle(Partitioning::Hash(..) | Partitioning::RoundRobinBatch(_)) => true,
        StageOutputKind::PassThrough => stage.row_limit.is_none(),
        StageOutputKind::Shuffle(_) | StageOutputKind::Result => false,
    };
    if !output_fits
        || plan.output_ordering().is_some()
        || !stage.split_tasks.is_empty()
        || has_side_effects(plan)
        || has_coupled_partitions(plan)
    {
        return Ok(None);
    }
    let mut scans = Vec::new();
    plan.apply(|node| {
        if node.downcast_ref::<DataSourceExec>().is_some() {
            scans.push(Arc::clone(node));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let [scan] = scans.as_slice() else {
        return Ok(None);
    };
    let Some(config) = file_scan(scan.as_ref()) else {
        return Ok(None);
    };
    if config.limit.is_some()
        || config.preserve_order
        || config.output_partitioning.is_some()
        || config.file_groups.len() != plan.output_partitioning().partition_count()
        || !partitions_line_up(plan)?
    {
        return Ok(None);
    }
    let total: u64 = config
        .file_groups
        .iter()
        .flat_map(FileGroup::iter)
        .map(|f| f.effective_size())
        .sum();
    let unit = unit_bytes(total, threads);
    let units = config
        .file_groups
        .iter()
        .map(|group| units_of(config, group, unit))
        .collect::<Result<Vec<_>>>()?;
    let wrapped = Arc::clone(plan)
        .transform_up(|node| {
            if node.downcast_ref::<DataSourceExec>().is_some() {
                let unit_scan: Arc<dyn ExecutionPlan> = Arc::new(UnitScanExec { scan: node });
                return Ok(Transformed::yes(unit_scan));
            }
            Ok(Transformed::no(node))
        })?
        .data;
    Ok(Some((wrapped, units)))
}

/// Whether every operator above the scan in `plan` reads its scan side partition by
/// partition with no distribution required, and its other inputs whole.
fn partitions_line_up(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    let mut fits = true;
    plan.apply(|node| {
        // Only the operators on the way down to the scan matter; a subtree without it
        // hangs off one that reads it whole (checked below).
        if !has_scan(node)? {
            return Ok(TreeNodeRecursion::Jump);
        }
        let requirements = node.input_distribution_requirements();
        for (required, child) in requirements.per_child_distributions().zip(node.children()) {
            fits &= if has_scan(child)? {
                matches!(required, Distribution::UnspecifiedDistribution)
                    && child.output_partitioning().partition_count()
                        == node.output_partitioning().partition_count()
            } else {
                matches!(required, Distribution::SinglePartition)
            };
        }
        Ok(if fits {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(fits)
}

fn has_scan(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    plan.exists(|n| Ok(n.downcast_ref::<DataSourceExec>().is_some()))
}

/// `group`'s files cut into units of about `unit` bytes: byte ranges where the format
/// reads by range (DataFusion's own repartitioning of files, asked for as many ranges as
/// units), else one unit per file.
fn units_of(config: &FileScanConfig, group: &FileGroup, unit: u64) -> Result<Vec<FileGroup>> {
    let bytes: u64 = group.iter().map(|f| f.effective_size()).sum();
    let wanted = bytes.div_ceil(unit.max(1)).max(1) as usize;
    if wanted > 1 {
        let mut single = config.clone();
        single.file_groups = vec![group.clone()];
        if let Some(split) = config
            .file_source()
            .repartitioned(wanted, 0, None, &single)?
        {
            return Ok(split
                .file_groups
                .into_iter()
                .filter(|g| !g.is_empty())
                .collect());
        }
    }
    Ok(group
        .iter()
        .map(|file| FileGroup::new(vec![file.clone()]))
        .collect())
}
