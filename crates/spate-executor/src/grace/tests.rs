//! The grace join gives the rows of the join it wraps, for every join type DataFusion runs
//! partitioned, with null and duplicate keys and one key holding a third of the rows, at
//! budgets that run it as it is, from memory, split once, and split to the last level.

use std::sync::Arc;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};

use super::GraceHashJoinExec;

const QUERIES: [&str; 9] = [
    "select a.k, a.v, b.w from a join b on a.k = b.k",
    "select a.k, a.v, b.w from a left join b on a.k = b.k",
    "select a.k, a.v, b.w from a right join b on a.k = b.k",
    "select a.k, a.v, b.k, b.w from a full join b on a.k = b.k",
    "select a.k, a.v from a where a.k in (select k from b)",
    "select a.k, a.v from a where not exists (select 1 from b where b.k = a.k)",
    "select a.k, a.v from a where exists (select 1 from b where b.k = a.k) or a.v < 100",
    "select a.k, a.v, b.w from a join b on a.k = b.k and a.v > b.w / 20",
    "select a.k, a.v, b.w from a join b on a.k = b.k and a.v % 5 = b.w % 5",
];

async fn context() -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_target_partitions(3)
        .with_batch_size(512)
        .set_usize(
            "datafusion.optimizer.hash_join_single_partition_threshold",
            0,
        )
        .set_usize(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            0,
        );
    crate::configure_session(&mut config);
    let ctx = SessionContext::new_with_config(config);
    ctx.sql(
        "create table a as select case when value % 50 = 0 then null \
         when value % 3 = 0 then 1 else value % 700 end as k, value as v from range(20000)",
    )
    .await?
    .collect()
    .await?;
    ctx.sql(
        "create table b as select case when value % 37 = 0 then null else value % 900 end as k, \
         value * 10 as w from range(5000)",
    )
    .await?
    .collect()
    .await?;
    Ok(ctx)
}

/// `plan` with every partitioned hash join wrapped in a grace join of `budget` bytes.
fn with_grace(plan: Arc<dyn ExecutionPlan>, budget: usize) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| GraceHashJoinExec::wrap(node, budget))
        .map(|t| t.data)
}

fn grace_splits(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let mut splits = 0;
    let _ = plan.apply(|node| {
        if let Some(metrics) = node.metrics() {
            splits += metrics
                .sum_by_name("grace_splits")
                .map_or(0, |v| v.as_usize());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    splits
}

fn sorted_rows(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<String> {
    let text = pretty_format_batches(batches).map_or_else(|e| e.to_string(), |t| t.to_string());
    let mut rows: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_rows_as_the_wrapped_join_at_every_budget() -> Result<()> {
    let ctx = context().await?;
    for sql in QUERIES {
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let mut joins = 0;
        plan.apply(|node| {
            joins += usize::from(GraceHashJoinExec::can_wrap(node));
            Ok(TreeNodeRecursion::Continue)
        })?;
        assert!(joins > 0, "no partitioned hash join to wrap in: {sql}");
        let expected = sorted_rows(&collect(Arc::clone(&plan), ctx.task_ctx()).await?);
        assert!(!expected.is_empty(), "{sql} returns rows");
        // 16 KiB splits the big build sides and runs the small ones from memory.
        for (budget, splits) in [(512, Some(true)), (16 << 10, None), (1 << 30, Some(false))] {
            let fresh = ctx.sql(sql).await?.create_physical_plan().await?;
            let grace = with_grace(fresh, budget)?;
            let got = sorted_rows(&collect(Arc::clone(&grace), ctx.task_ctx()).await?);
            assert_eq!(got.len(), expected.len(), "{sql} at budget {budget}");
            assert_eq!(got, expected, "{sql} at budget {budget}");
            if let Some(splits) = splits {
                assert_eq!(
                    grace_splits(&grace) > 0,
                    splits,
                    "{sql} at budget {budget}: splits"
                );
            }
        }
    }
    Ok(())
}
