//! Following a runtime filter down a join's probe side, through the operators that keep
//! each key's rows apart, to where it saves the most work.
//!
//! A runtime filter is a predicate on the probe side's key columns. DataFusion's
//! `FilterPushdown` moves such a predicate down only to a node that takes it over (a
//! Parquet scan); in front of anything else, an aggregate or a shuffle reader, it stays
//! where it was put. But a predicate on grouping columns holds just as well on an
//! aggregate's input (it decides which groups exist, not what they hold), and a predicate
//! on a shuffle reader's columns holds on the stage that writes that shuffle. So the probe
//! side of TPC-H Q17's join, `avg(l_quantity)` per `l_partkey` over all of lineitem, can
//! aggregate only the lineitem rows of the parts the other side kept, if its filter gets
//! below both aggregates and into the stage that scans lineitem.
//!
//! # Algorithm
//! One step down ([`step_down`]) takes a predicate on a node's output to the same
//! predicate on its input, each column replaced by the input column it comes from:
//! - a projection: the input column an output column projects (a computed one stops it);
//! - a filter: its input's column (through its projection, if any);
//! - an aggregate without grouping sets and without a limit: the input column a grouping
//!   column is (a computed grouping expression or an aggregate value stops it);
//! - repartitioning and gathering partitions: the same column.
//!
//! [`to_reader`] takes such steps from a join's probe side until it reaches a shuffle
//! reader (the predicate then holds on the output of the stage it reads), and [`sink`]
//! takes them from a stage's plan for as long as it can, and puts the predicate in a
//! `FilterExec` there, where [`filtered`] carries it across equi-joins and hands it to
//! DataFusion's `FilterPushdown` for the scans below.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::split_conjunction;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::filter_pushdown::FilterPushdown;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;

use super::key_carry::carry;
use crate::shuffle::ShuffleReaderExec;
use crate::stage::StageId;

/// The stage whose output the shuffle reader below `plan` reads, and `predicate` (on
/// `plan`'s output) on that output, if every step down to the reader keeps it (see the
/// module doc).
pub(super) fn to_reader(
    plan: &Arc<dyn ExecutionPlan>,
    predicate: &Arc<dyn PhysicalExpr>,
) -> Result<Option<(StageId, Arc<dyn PhysicalExpr>)>> {
    let (mut node, mut predicate) = (Arc::clone(plan), Arc::clone(predicate));
    loop {
        if let Some(reader) = node.downcast_ref::<ShuffleReaderExec>() {
            return Ok(Some((reader.stage(), predicate)));
        }
        match step_down(&node, &predicate)? {
            Some((child, below)) => (node, predicate) = (child, below),
            None => return Ok(None),
        }
    }
}

/// `plan` with `predicate` (on its output) evaluated as far down as the steps of the
/// module doc take it, then carried and pushed on by [`filtered`].
pub(super) fn sink(
    plan: Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    config: &ConfigOptions,
) -> Result<Arc<dyn ExecutionPlan>> {
    match step_down(&plan, &predicate)? {
        Some((child, below)) => {
            let child = sink(child, below, config)?;
            replace_children_if_necessary(plan, vec![child])
        }
        None => filtered(plan, predicate, config),
    }
}

/// `input` under a filter by `predicate`, carried across the equi-joins below it
/// ([`key_carry`](super::key_carry)) and pushed down as far as DataFusion's
/// `FilterPushdown` rule takes it.
fn filtered(
    input: Arc<dyn ExecutionPlan>,
    predicate: Arc<dyn PhysicalExpr>,
    config: &ConfigOptions,
) -> Result<Arc<dyn ExecutionPlan>> {
    let conjuncts: Vec<_> = split_conjunction(&predicate).into_iter().cloned().collect();
    let input = carry(input, &conjuncts)?;
    let filter: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, input)?);
    FilterPushdown::new().optimize(filter, config)
}

/// A plan and a predicate on its output.
type Filtered = (Arc<dyn ExecutionPlan>, Arc<dyn PhysicalExpr>);

/// `node`'s single input and `predicate` on that input's columns, when `node` hands each
/// key's rows on apart from the others (see the module doc); `None` otherwise.
fn step_down(
    node: &Arc<dyn ExecutionPlan>,
    predicate: &Arc<dyn PhysicalExpr>,
) -> Result<Option<Filtered>> {
    let [input] = node.children()[..] else {
        return Ok(None);
    };
    let source = |index: usize| -> Option<Column> {
        if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
            let projected = projection.expr().get(index)?;
            projected.expr.downcast_ref::<Column>().cloned()
        } else if let Some(filter) = node.downcast_ref::<FilterExec>() {
            let index = match filter.projection() {
                Some(projection) => *projection.get(index)?,
                None => index,
            };
            Some(Column::new(input.schema().field(index).name(), index))
        } else if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            let group_by = aggregate.group_expr();
            if group_by.has_grouping_set() || aggregate.limit_options().is_some() {
                return None;
            }
            let (grouping, _) = group_by.expr().get(index)?;
            grouping.downcast_ref::<Column>().cloned()
        } else if node.downcast_ref::<RepartitionExec>().is_some()
            || node.downcast_ref::<CoalescePartitionsExec>().is_some()
        {
            Some(Column::new(input.schema().field(index).name(), index))
        } else {
            None
        }
    };
    let mut mapped = true;
    let below = Arc::clone(predicate).transform(|expr| {
        let Some(column) = expr.downcast_ref::<Column>() else {
            return Ok(Transformed::no(expr));
        };
        match source(column.index()) {
            Some(input_column) => Ok(Transformed::yes(
                Arc::new(input_column) as Arc<dyn PhysicalExpr>
            )),
            None => {
                mapped = false;
                Ok(Transformed::no(expr))
            }
        }
    })?;
    Ok(mapped.then(|| (Arc::clone(input), below.data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, lit};
    use datafusion::physical_plan::aggregates::{AggregateMode, PhysicalGroupBy};
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::projection::ProjectionExpr;

    fn input() -> Arc<dyn ExecutionPlan> {
        let schema = Schema::new(vec![
            Field::new("q", DataType::Int64, true),
            Field::new("k", DataType::Int64, true),
        ]);
        Arc::new(EmptyExec::new(Arc::new(schema)))
    }

    fn grouped_by_k(input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let schema = input.schema();
        let group_by = PhysicalGroupBy::new_single(vec![(
            Arc::new(Column::new("k", 1)) as Arc<dyn PhysicalExpr>,
            "k".to_string(),
        )]);
        Arc::new(
            AggregateExec::try_new(
                AggregateMode::Single,
                group_by,
                vec![],
                vec![],
                input,
                schema,
            )
            .expect("aggregate"),
        )
    }

    fn key_above(index: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new("k", index)),
            Operator::LtEq,
            lit(7i64),
        ))
    }

    #[test]
    fn a_key_predicate_goes_through_a_projection_and_an_aggregate_on_the_key() {
        let aggregate = grouped_by_k(input());
        // The projection puts the key second: `SELECT 1 AS one, k FROM (... GROUP BY k)`.
        let projection: Arc<dyn ExecutionPlan> = Arc::new(
            ProjectionExec::try_new(
                vec![
                    ProjectionExpr::new(lit(1i64), "one".to_string()),
                    ProjectionExpr::new(Arc::new(Column::new("k", 0)), "k".to_string()),
                ],
                aggregate,
            )
            .expect("projection"),
        );
        let (child, below) = step_down(&projection, &key_above(1))
            .expect("step")
            .expect("through the projection");
        assert_eq!(below.to_string(), "k@0 <= 7");
        let (scan, below) = step_down(&child, &below)
            .expect("step")
            .expect("through the aggregate");
        assert_eq!(below.to_string(), "k@1 <= 7");
        assert_eq!(scan.name(), "EmptyExec");
    }

    #[test]
    fn a_predicate_on_a_computed_column_or_an_aggregate_value_stops() {
        let projection: Arc<dyn ExecutionPlan> = Arc::new(
            ProjectionExec::try_new(
                vec![ProjectionExpr::new(lit(1i64), "k".to_string())],
                input(),
            )
            .expect("projection"),
        );
        assert!(
            step_down(&projection, &key_above(0))
                .expect("step")
                .is_none()
        );
        // An aggregate's output column 1 and beyond are aggregate values, not groups.
        let aggregate = grouped_by_k(input());
        assert!(
            step_down(&aggregate, &key_above(1))
                .expect("step")
                .is_none()
        );
        // A scan is where the steps end.
        assert!(step_down(&input(), &key_above(1)).expect("step").is_none());
    }

    #[test]
    fn sinking_puts_the_filter_under_the_aggregate() {
        let config = ConfigOptions::default();
        let plan = sink(grouped_by_k(input()), key_above(0), &config).expect("sink");
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert!(lines[0].starts_with("AggregateExec"), "{text}");
        assert!(lines[1].starts_with("FilterExec: k@1 <= 7"), "{text}");
    }
}
