//! Runtime filters: a hash join's build-side keys, known once the stage that builds them
//! is done, filter its probe side before that side is scanned and shuffled.
//!
//! DataFusion's own dynamic join filters do this inside one process, but they make all
//! partitions of a join wait for each other, which a bounded worker pool running fewer
//! tasks than partitions would deadlock on, so spate turns them off
//! ([`crate::configure_session`]). Between stages no waiting is needed: a stage's output
//! is complete when the stage is done.
//!
//! # Algorithm
//! When stage `S` is done, for every hash join not yet running whose build side is `S`'s
//! output (a reader of `S`, perhaps gathered into one partition), whose probe rows that
//! match no build row never reach its output (inner, left outer, left semi, left anti
//! that is not null-aware, right semi; `NULL` never equal to `NULL`) and whose keys are
//! plain integer, date or decimal columns of one type on both sides:
//! 1. From `S`'s output in memory (none when it spilled or exceeds
//!    [`MAX_BUILD_BYTES`]), per key: the least and greatest value, and when the output has
//!    at most [`MAX_LIST_ROWS`] rows and at most [`MAX_LIST_VALUES`] distinct keys, the
//!    keys themselves.
//! 2. The predicate `min <= k AND k <= max [AND k IN (...)]` on each probe key `k`.
//! 3. It is put on the probe side. The probe side is followed down through the operators
//!    that keep each key's rows apart (projections, filters, aggregates grouped by the
//!    key, [`super::probe_path`]); when that leads to a shuffle reader of a stage that
//!    has not started and only this join reads, the predicate goes into that stage's
//!    plan, under its shuffle writer and below its own aggregates on the key. Such a
//!    stage is made to wait for the build stage when the query is planned
//!    ([`filter_waits`]; TPC-H Q17's `avg(l_quantity)` per part then aggregates only the
//!    lineitem rows of the parts the other side kept). Otherwise (a broadcast join, whose
//!    probe side runs in its own stage, or a probe stage that already ran) it goes above
//!    the probe subtree in the join's own stage, as far down as those operators allow.
//!    Before DataFusion's `FilterPushdown` rule hands it to the Parquet scans below (which
//!    prune row groups and pages by the range and, with late materialization, decode the
//!    other columns only for rows whose key can match), a copy of each key's predicate is
//!    carried across the equi-joins below to the key it is matched with
//!    ([`super::key_carry`]), so that their other sides are filtered too.
//!
//! A rewrite is kept only when DataFusion's checks accept the stage's new plan.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinType, NullEquality, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::{Accumulator, Operator};
use datafusion::physical_expr::expressions::{BinaryExpr, Column, IsNotNullExpr, Literal, in_list};
use datafusion::physical_expr::{PhysicalExpr, conjunction_opt};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::HashJoinExec;

use super::probe_path::{sink, to_reader};
use super::{is_executable, keeps_order};
use crate::planner::StageGraph;
use crate::shuffle::{ShuffleReaderExec, ShuffleStore};
use crate::stage::{Stage, StageId};

/// The largest build output (in memory) a runtime filter is computed from.
pub const MAX_BUILD_BYTES: u64 = 64 << 20;
/// The most build rows whose distinct keys are listed.
pub const MAX_LIST_ROWS: usize = 1 << 18;
/// The most distinct keys listed in an `IN` filter.
pub const MAX_LIST_VALUES: usize = 4096;

/// Adds the runtime filters that `built`'s output gives to the joins reading it, in the
/// stages for which `waiting` holds (not started); `config` is the session's options,
/// which the pushdown into scans reads. Returns the stage rewritten for each filter added.
pub(crate) fn add_runtime_filters(
    stages: &mut [Stage],
    waiting: impl Fn(StageId) -> bool,
    built: StageId,
    store: &ShuffleStore,
    config: &ConfigOptions,
) -> Result<Vec<StageId>> {
    let mut added = Vec::new();
    if store.stage_bytes(built).is_none_or(|b| b > MAX_BUILD_BYTES) {
        return Ok(added);
    }
    let Some(batches) = store.held_batches(built) else {
        return Ok(added);
    };
    for stage in 0..stages.len() {
        if !waiting(StageId(stage)) {
            continue;
        }
        for join in filterable_joins(&stages[stage], built)? {
            let Some(predicate) = probe_predicate(&join, &batches)? else {
                continue;
            };
            if let Some(rewritten) = place(stages, stage, &join, predicate, &waiting, config)? {
                added.push(rewritten);
            }
        }
    }
    Ok(added)
}

/// The joins of `stage` whose build side is `built`'s whole output and whose probe side
/// may be filtered by the build keys (see the module doc).
fn filterable_joins(stage: &Stage, built: StageId) -> Result<Vec<Arc<dyn ExecutionPlan>>> {
    let mut joins = Vec::new();
    // A join under a grace join is visited as the grace join's child.
    stage.body().apply(|node| {
        if let Some(hash_join) = node.downcast_ref::<HashJoinExec>()
            && build_stage(hash_join.left()) == Some(built)
            && drops_unmatched_probe_rows(hash_join)
        {
            joins.push(Arc::clone(node));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(joins)
}

/// The stage whose whole output `build` reads, if it is a reader, perhaps gathered.
fn build_stage(build: &Arc<dyn ExecutionPlan>) -> Option<StageId> {
    let build = build
        .downcast_ref::<CoalescePartitionsExec>()
        .map_or(build, CoalescePartitionsExec::input);
    build
        .downcast_ref::<ShuffleReaderExec>()
        .map(ShuffleReaderExec::stage)
}

/// Whether a probe row matching no build row never reaches `join`'s output.
fn drops_unmatched_probe_rows(join: &HashJoinExec) -> bool {
    let join_type = matches!(
        join.join_type(),
        JoinType::Inner
            | JoinType::Left
            | JoinType::LeftSemi
            | JoinType::LeftAnti
            | JoinType::RightSemi
    );
    join_type && !join.null_aware && join.null_equality() == NullEquality::NullEqualsNothing
}

/// `min <= k AND k <= max [AND k IN (...)]` over `join`'s probe schema for each key `k`,
/// from the build rows `batches`; `None` when a key is not a plain column of a type
/// filtered here, or there are no build keys.
fn probe_predicate(
    join: &Arc<dyn ExecutionPlan>,
    batches: &[RecordBatch],
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
        return Ok(None);
    };
    let Some(keys) = filter_keys(hash_join) else {
        return Ok(None);
    };
    let probe_schema = hash_join.right().schema();
    let mut conjuncts: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
    for (build_key, probe_key, data_type) in keys {
        let Some(stats) = KeyStats::of(batches, build_key.index(), &data_type)? else {
            return Ok(None);
        };
        let probe_key: Arc<dyn PhysicalExpr> = Arc::new(probe_key);
        conjuncts.extend(stats.conjuncts(&probe_key, &probe_schema)?);
    }
    Ok(conjunction_opt(conjuncts))
}

/// `join`'s key pairs (build column, probe column, their type) when every key is a plain
/// column of one type on both sides that a runtime filter can test.
fn filter_keys(join: &HashJoinExec) -> Option<Vec<(Column, Column, DataType)>> {
    let (build_schema, probe_schema) = (join.left().schema(), join.right().schema());
    join.on()
        .iter()
        .map(|(build_key, probe_key)| {
            let build_key = build_key.downcast_ref::<Column>()?;
            let probe_key = probe_key.downcast_ref::<Column>()?;
            let data_type = build_schema.field(build_key.index()).data_type();
            (filterable(data_type)
                && probe_schema.field(probe_key.index()).data_type() == data_type)
                .then(|| (build_key.clone(), probe_key.clone(), data_type.clone()))
        })
        .collect()
}

/// A stage made to wait for a join's build stage, so that the runtime filter the build
/// keys give reaches it before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterWait {
    /// The stage the join runs in.
    pub join_stage: StageId,
    /// The stage whose output is the join's build side.
    pub build: StageId,
    /// The stage the filter reaches: the one the join's probe side reads.
    pub probe: StageId,
}

/// The stages that runtime filters reach if they wait for their joins' build stages: for
/// every join that drops unmatched probe rows, on keys a filter can test, whose probe
/// side leads through the operators [`to_reader`] passes to a stage only it reads, that
/// stage; not when the build stage depends on it (the wait would never end).
pub(crate) fn filter_waits(graph: &StageGraph) -> Result<Vec<FilterWait>> {
    let mut waits: Vec<FilterWait> = Vec::new();
    for stage in &graph.stages {
        let mut pairs = Vec::new();
        stage.body().apply(|node| {
            if let Some(join) = node.downcast_ref::<HashJoinExec>()
                && let Some(build) = build_stage(join.left())
                && drops_unmatched_probe_rows(join)
                && let Some(keys) = filter_keys(join)
            {
                // The shape of the filter to come: any predicate on the probe keys.
                let shape = keys.into_iter().map(|(_, probe_key, _)| {
                    Arc::new(IsNotNullExpr::new(Arc::new(probe_key))) as Arc<dyn PhysicalExpr>
                });
                if let Some(shape) = conjunction_opt(shape)
                    && let Some((probe, _)) = to_reader(join.right(), &shape)?
                {
                    pairs.push((build, probe));
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        for (build, probe) in pairs {
            let readers = graph
                .stages
                .iter()
                .filter(|s| s.inputs.contains(&probe))
                .count();
            let depends = |from: StageId| depends_on(graph, &waits, from, probe);
            if readers == 1 && build != probe && !depends(build) {
                waits.push(FilterWait {
                    join_stage: stage.id,
                    build,
                    probe,
                });
            }
        }
    }
    Ok(waits)
}

/// Whether stage `from` can run only after stage `target`: it reads it or waits for it,
/// directly or through other stages (`waits` besides the graph's own).
fn depends_on(graph: &StageGraph, waits: &[FilterWait], from: StageId, target: StageId) -> bool {
    let mut seen = HashSet::new();
    let mut todo = vec![from];
    while let Some(stage) = todo.pop() {
        if stage == target {
            return true;
        }
        if !seen.insert(stage) {
            continue;
        }
        let before = graph.stages[stage.0].inputs.iter().copied();
        let waited = graph.waits_for(stage).chain(
            waits
                .iter()
                .filter(move |w| w.probe == stage)
                .map(|w| w.build),
        );
        todo.extend(before.chain(waited));
    }
    false
}

/// Key types whose order and equality a range and a list test exactly.
fn filterable(data_type: &DataType) -> bool {
    data_type.is_integer()
        || matches!(
            data_type,
            DataType::Date32 | DataType::Date64 | DataType::Decimal128(..)
        )
}

/// What the build rows hold of one key column.
struct KeyStats {
    min: ScalarValue,
    max: ScalarValue,
    /// The distinct non-null keys, when few.
    values: Option<HashSet<ScalarValue>>,
}

impl KeyStats {
    /// The stats of column `index` of `batches`; `None` when it holds no non-null key.
    fn of(batches: &[RecordBatch], index: usize, data_type: &DataType) -> Result<Option<Self>> {
        let (mut min, mut max) = (
            MinAccumulator::try_new(data_type)?,
            MaxAccumulator::try_new(data_type)?,
        );
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut values = (rows <= MAX_LIST_ROWS).then(HashSet::new);
        for batch in batches {
            let column = batch.column(index);
            min.update_batch(std::slice::from_ref(column))?;
            max.update_batch(std::slice::from_ref(column))?;
            if let Some(set) = values.as_mut() {
                for row in 0..column.len() {
                    if column.is_valid(row) {
                        set.insert(ScalarValue::try_from_array(column, row)?);
                    }
                }
                if set.len() > MAX_LIST_VALUES {
                    values = None;
                }
            }
        }
        let (min, max) = (min.evaluate()?, max.evaluate()?);
        if min.is_null() || max.is_null() {
            return Ok(None);
        }
        Ok(Some(KeyStats { min, max, values }))
    }

    /// The predicates on `key` (a column of `schema`) these stats give.
    fn conjuncts(
        self,
        key: &Arc<dyn PhysicalExpr>,
        schema: &Schema,
    ) -> Result<Vec<Arc<dyn PhysicalExpr>>> {
        let literal = |v: ScalarValue| Arc::new(Literal::new(v)) as Arc<dyn PhysicalExpr>;
        let mut conjuncts: Vec<Arc<dyn PhysicalExpr>> = vec![
            Arc::new(BinaryExpr::new(
                literal(self.min),
                Operator::LtEq,
                Arc::clone(key),
            )),
            Arc::new(BinaryExpr::new(
                Arc::clone(key),
                Operator::LtEq,
                literal(self.max),
            )),
        ];
        if let Some(values) = self.values {
            let mut list: Vec<ScalarValue> = values.into_iter().collect();
            list.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            let list = list.into_iter().map(literal).collect();
            conjuncts.push(in_list(Arc::clone(key), list, &false, schema)?);
        }
        Ok(conjuncts)
    }
}

/// Puts `predicate` on `join`'s probe side (see the module doc); returns the stage whose
/// plan changed, if any.
fn place(
    stages: &mut [Stage],
    join_stage: usize,
    join: &Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    waiting: &impl Fn(StageId) -> bool,
    config: &ConfigOptions,
) -> Result<Option<StageId>> {
    let Some(hash_join) = join.downcast_ref::<HashJoinExec>() else {
        return Ok(None);
    };
    let probe = hash_join.right();
    if let Some((probe_stage, on_output)) = to_reader(probe, &predicate)? {
        let readers = stages
            .iter()
            .filter(|s| s.inputs.contains(&probe_stage))
            .count();
        if waiting(probe_stage) && readers == 1 {
            let stage = &mut stages[probe_stage.0];
            let body = sink(Arc::clone(stage.body()), on_output, config)?;
            if !(keeps_order(stage.body(), &body)? && is_executable(&body)?) {
                return Ok(None);
            }
            stage.set_body(body);
            return Ok(Some(probe_stage));
        }
        if probe.downcast_ref::<ShuffleReaderExec>().is_some() {
            // Its rows are shuffled already; filtering them here saves nothing.
            return Ok(None);
        }
    }
    // The probe side runs in the join's stage (a broadcast join), or reads a stage that
    // already ran.
    let new_join = hash_join
        .builder()
        .with_new_children(vec![
            Arc::clone(hash_join.left()),
            sink(Arc::clone(probe), predicate, config)?,
        ])?
        .reset_state()
        .build_exec()?;
    let stage = &mut stages[join_stage];
    let rewritten = Arc::clone(stage.body()).transform_down(|node| {
        Ok(if Arc::ptr_eq(&node, join) {
            Transformed::new(Arc::clone(&new_join), true, TreeNodeRecursion::Jump)
        } else {
            Transformed::no(node)
        })
    })?;
    let body = rewritten.data;
    if !(rewritten.transformed && keeps_order(stage.body(), &body)? && is_executable(&body)?) {
        return Ok(None);
    }
    stage.set_body(body);
    Ok(Some(StageId(join_stage)))
}
