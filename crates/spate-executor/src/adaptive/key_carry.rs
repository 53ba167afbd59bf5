//! Carrying a runtime filter across equi-joins: a filter on one join key also holds for
//! the key it is matched with.
//!
//! A runtime filter lands above a join's probe side, and DataFusion's `FilterPushdown`
//! moves it down to the side that owns its column. When that probe side is itself a join
//! on the filtered column (TPC-H Q18: the filter on `o_orderkey` sits above
//! `orders JOIN lineitem ON o_orderkey = l_orderkey`), the other side is still scanned and
//! joined whole, although none of its rows whose `l_orderkey` fails the filter can reach
//! the result.
//!
//! # Algorithm
//! [`carry`] walks down from the probe side with the conjuncts that every row reaching
//! the result satisfies (each on exactly one column of the node's output):
//! - through a projection, mapping each conjunct to the input column it projects (a
//!   conjunct on a computed expression is dropped);
//! - through nodes that pass their input's rows and columns on unchanged (a filter without
//!   a projection, repartitioning), as they are;
//! - through a hash join that keeps only matched rows (inner, left semi, right semi; not
//!   null-aware; `NULL` never equal to `NULL`): each conjunct goes to the side its column
//!   comes from, and when that column is an equi-join key whose partner on the other side
//!   is a plain column of the same type, a copy on the partner column goes to the other
//!   side. The copies are put in a `FilterExec` right above that side, where the caller's
//!   `FilterPushdown` moves them on into the scans;
//! - anywhere else it stops.
//!
//! Why it is exact: a join row exists only where both keys are equal and not `NULL`, so a
//! row of the other side whose key fails the predicate can only meet rows that fail it,
//! and those never reach the result (the caller keeps the original filter above).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinType, NullEquality};
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{PhysicalExpr, conjunction_opt};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::HashJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;

/// `plan` with copies of `conjuncts` (predicates on `plan`'s output that every row
/// reaching the result satisfies) put on the far sides of the equi-joins below it; see
/// the module doc. Returns `plan` itself when nothing is carried.
pub(super) fn carry(
    plan: Arc<dyn ExecutionPlan>,
    conjuncts: &[Arc<dyn PhysicalExpr>],
) -> Result<Arc<dyn ExecutionPlan>> {
    let conjuncts: Vec<_> = conjuncts
        .iter()
        .filter(|c| single_column(c).is_some())
        .cloned()
        .collect();
    if conjuncts.is_empty() {
        return Ok(plan);
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        return Ok(through_join(join, &conjuncts)?.unwrap_or(plan));
    }
    let mapped = if let Some(projection) = plan.downcast_ref::<ProjectionExec>() {
        conjuncts
            .iter()
            .filter_map(|c| {
                let column = single_column(c)?;
                let source = projection.expr().get(column.index())?;
                let input = source.expr.downcast_ref::<Column>()?;
                rebind(c, input).ok()
            })
            .collect()
    } else if passes_rows_through(&plan) {
        conjuncts
    } else {
        return Ok(plan);
    };
    let [child] = plan.children()[..] else {
        return Ok(plan);
    };
    let new_child = carry(Arc::clone(child), &mapped)?;
    replace_children_if_necessary(plan, vec![new_child])
}

/// Whether `plan` hands on its single input's rows (or a subset) with the same columns.
fn passes_rows_through(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<FilterExec>()
        .is_some_and(|filter| filter.projection().is_none())
        || plan.downcast_ref::<RepartitionExec>().is_some()
}

/// `join` with the conjuncts carried to its sides and below; `None` when the join type
/// does not allow it or nothing changed.
fn through_join(
    join: &HashJoinExec,
    conjuncts: &[Arc<dyn PhysicalExpr>],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let drops_unmatched = matches!(
        join.join_type(),
        JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi
    ) && !join.null_aware
        && join.null_equality() == NullEquality::NullEqualsNothing;
    if !drops_unmatched {
        return Ok(None);
    }
    let children = [join.left(), join.right()];
    // Per side: the conjuncts known to hold there, and the copies carried to it.
    let mut known: [Vec<Arc<dyn PhysicalExpr>>; 2] = Default::default();
    let mut carried: [Vec<Arc<dyn PhysicalExpr>>; 2] = Default::default();
    for conjunct in conjuncts {
        let Some((side, index)) = single_column(conjunct).and_then(|c| source(join, c.index()))
        else {
            continue;
        };
        let schema = children[side].schema();
        let column = Column::new(schema.field(index).name(), index);
        known[side].push(rebind(conjunct, &column)?);
        let other = 1 - side;
        for keys in join.on() {
            let pair = [&keys.0, &keys.1];
            let (Some(mine), Some(partner)) = (
                pair[side].downcast_ref::<Column>(),
                pair[other].downcast_ref::<Column>(),
            ) else {
                continue;
            };
            let other_schema = children[other].schema();
            if mine.index() == index
                && schema.field(index).data_type()
                    == other_schema.field(partner.index()).data_type()
            {
                let copy = rebind(conjunct, partner)?;
                known[other].push(Arc::clone(&copy));
                carried[other].push(copy);
            }
        }
    }
    let mut changed = false;
    let mut new_children = Vec::with_capacity(2);
    for side in 0..2 {
        let child = Arc::clone(children[side]);
        let mut new_child = carry(Arc::clone(&child), &known[side])?;
        if let Some(predicate) = conjunction_opt(carried[side].iter().cloned()) {
            new_child = Arc::new(FilterExec::try_new(predicate, new_child)?);
        }
        changed |= !Arc::ptr_eq(&new_child, &child);
        new_children.push(new_child);
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(
        join.builder()
            .with_new_children(new_children)?
            .reset_state()
            .build_exec()?,
    ))
}

/// The side (0 left, 1 right) and column of that side's input that output column `index`
/// of `join` comes from.
fn source(join: &HashJoinExec, index: usize) -> Option<(usize, usize)> {
    let index = match &join.projection {
        Some(projection) => *projection.get(index)?,
        None => index,
    };
    let left_width = join.left().schema().fields().len();
    match join.join_type() {
        JoinType::Inner if index < left_width => Some((0, index)),
        JoinType::Inner => Some((1, index - left_width)),
        JoinType::LeftSemi => Some((0, index)),
        JoinType::RightSemi => Some((1, index)),
        _ => None,
    }
}

/// The one column `expr` reads, if it reads exactly one.
fn single_column(expr: &Arc<dyn PhysicalExpr>) -> Option<Column> {
    let columns = collect_columns(expr);
    match columns.len() {
        1 => columns.into_iter().next(),
        _ => None,
    }
}

/// `expr` (reading one column) reading `column` instead.
fn rebind(expr: &Arc<dyn PhysicalExpr>, column: &Column) -> Result<Arc<dyn PhysicalExpr>> {
    Ok(Arc::clone(expr)
        .transform(|node| {
            Ok(if node.downcast_ref::<Column>().is_some() {
                Transformed::yes(Arc::new(column.clone()) as Arc<dyn PhysicalExpr>)
            } else {
                Transformed::no(node)
            })
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, col, lit};
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// `a(k, v)` with keys 0..100 and `b(k, w)` with keys 0..100 step 2, in one session
    /// that plans in one partition.
    fn context() -> SessionContext {
        let config = SessionConfig::new().with_target_partitions(1);
        let context = SessionContext::new_with_config(config);
        for (name, value, step) in [("a", "v", 1), ("b", "w", 2)] {
            let schema = Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new(value, DataType::Int64, true),
            ]));
            let keys = Int64Array::from_iter_values((0..100).step_by(step));
            let values = Int64Array::from_iter_values((0..100).step_by(step).map(|k| k * 10));
            let batch =
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(keys), Arc::new(values)])
                    .unwrap();
            let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
            context.register_table(name, Arc::new(table)).unwrap();
        }
        context
    }

    /// The predicates of the filters in `plan`, as text.
    fn filters(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
        let mut found = Vec::new();
        plan.apply(|node| {
            if let Some(filter) = node.downcast_ref::<FilterExec>() {
                found.push(filter.predicate().to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        found.sort();
        found
    }

    /// Plans `sql`, carries `k < 10` on output column `key` below it, and checks that the
    /// rows under that filter stay the same; returns the carried plan.
    async fn carried(sql: &str, key: &str) -> Arc<dyn ExecutionPlan> {
        let context = context();
        // Two instances of the plan: a join keeps the state of one execution (its
        // collected build side, the build rows matched), so each is executed once.
        let mut plans = Vec::new();
        for _ in 0..2 {
            let dataframe = context.sql(sql).await.unwrap();
            plans.push(dataframe.create_physical_plan().await.unwrap());
        }
        let (plan, original) = (plans.remove(0), plans.remove(0));
        let schema = plan.schema();
        let predicate: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            col(key, &schema).unwrap(),
            Operator::Lt,
            lit(10i64),
        ));
        let carried = carry(Arc::clone(&plan), &[Arc::clone(&predicate)]).unwrap();
        let mut rows = Vec::new();
        for plan in [original, Arc::clone(&carried)] {
            let filter = Arc::new(FilterExec::try_new(Arc::clone(&predicate), plan).unwrap());
            let batches = collect(filter, context.task_ctx()).await.unwrap();
            let mut lines: Vec<String> =
                datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string()
                    .lines()
                    .map(str::to_owned)
                    .collect();
            lines.sort();
            rows.push(lines);
        }
        assert_eq!(
            rows[0],
            rows[1],
            "{}",
            displayable(carried.as_ref()).indent(true)
        );
        assert!(
            rows[0].len() > 4,
            "the filter keeps some rows: {:?}",
            rows[0]
        );
        carried
    }

    #[tokio::test]
    async fn a_filter_on_one_inner_join_key_is_carried_to_the_other_through_projections() {
        let plan = carried("select a.k as key, v, w from a join b on a.k = b.k", "key").await;
        // A copy on `b.k`, the partner of `a.k` the filter was on (the caller's own filter
        // pushdown takes care of `a`'s side).
        assert_eq!(
            filters(&plan),
            vec!["k@0 < 10".to_owned()],
            "{}",
            displayable(plan.as_ref()).indent(true)
        );
    }

    #[tokio::test]
    async fn a_filter_on_a_semi_joins_key_reaches_the_other_side() {
        let plan = carried("select k from a where k in (select k from b)", "k").await;
        assert_eq!(filters(&plan), vec!["k@0 < 10".to_owned()]);
    }

    #[tokio::test]
    async fn outer_joins_and_computed_columns_are_left_alone() {
        let outer = carried(
            "select a.k as key, w from a left join b on a.k = b.k",
            "key",
        )
        .await;
        assert!(filters(&outer).is_empty());
        let computed = carried("select a.k + 1 as key, w from a join b on a.k = b.k", "key").await;
        assert!(filters(&computed).is_empty());
    }
}
