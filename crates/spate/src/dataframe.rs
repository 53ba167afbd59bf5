//! [`DataFrame`]: a Spark-style API over DataFusion's lazy DataFrame.
//!
//! Transformations (`select`, `filter`, `join`, ...) build a logical plan and cost nothing;
//! actions (`collect`, `count`, `show`, `write`) plan it physically and run it through the
//! session's executor. The expressions are DataFusion's ([`crate::prelude`]).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Column;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr, lit};

use crate::error::{Result, SpateError};
use crate::session::Session;
use crate::writer::DataFrameWriter;

/// How two DataFrames are joined, named as in Spark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    /// Rows with a match on both sides.
    Inner,
    /// All left rows, with right columns where they match.
    Left,
    /// All right rows, with left columns where they match.
    Right,
    /// All rows of both sides.
    Full,
    /// Left rows that have a match (left columns only).
    Semi,
    /// Left rows that have no match (left columns only).
    Anti,
}

impl From<JoinType> for datafusion::logical_expr::JoinType {
    fn from(join: JoinType) -> Self {
        use datafusion::logical_expr::JoinType as Df;
        match join {
            JoinType::Inner => Df::Inner,
            JoinType::Left => Df::Left,
            JoinType::Right => Df::Right,
            JoinType::Full => Df::Full,
            JoinType::Semi => Df::LeftSemi,
            JoinType::Anti => Df::LeftAnti,
        }
    }
}

/// Two DataFrames built from the same table or alias (`t`) cannot be joined as they are:
/// their columns would share qualified names. The right side then gets its own alias.
fn distinct_qualifiers(
    left: &LogicalPlan,
    right: LogicalPlan,
) -> datafusion::error::Result<LogicalPlan> {
    let left_qualifiers: HashSet<_> = left
        .schema()
        .iter()
        .filter_map(|(q, _)| q.cloned())
        .collect();
    let clash = right
        .schema()
        .iter()
        .any(|(q, _)| q.is_some_and(|q| left_qualifiers.contains(q)));
    if !clash {
        return Ok(right);
    }
    let alias = (0..)
        .map(|i| format!("right_{i}"))
        .find(|name| !left_qualifiers.iter().any(|q| q.table() == name.as_str()))
        .unwrap_or_else(|| "right".into());
    LogicalPlanBuilder::from(right).alias(alias)?.build()
}

/// A join on names keeps each key column once, named as before: the left key for inner
/// and left joins, the right key for right joins, the first non-null of both for full
/// joins (Spark's rule). Semi and anti joins have only the left columns already.
fn keys_once(
    joined: LogicalPlan,
    left_width: usize,
    keys: &[&str],
    how: JoinType,
) -> datafusion::error::Result<LogicalPlan> {
    if matches!(how, JoinType::Semi | JoinType::Anti) {
        return Ok(joined);
    }
    let fields: Vec<Column> = joined.schema().columns();
    let (left, right) = fields.split_at(left_width.min(fields.len()));
    let right_key = |name: &str| right.iter().find(|c| c.name == name).cloned();
    let mut exprs = Vec::with_capacity(fields.len());
    for column in left {
        let name = column.name.clone();
        let left_expr = Expr::Column(column.clone());
        let expr = match (keys.contains(&name.as_str()), right_key(&name), how) {
            (true, Some(r), JoinType::Right) => Expr::Column(r).alias(&name),
            (true, Some(r), JoinType::Full) => {
                coalesce(vec![left_expr, Expr::Column(r)]).alias(&name)
            }
            _ => left_expr,
        };
        exprs.push(expr);
    }
    exprs.extend(
        right
            .iter()
            .filter(|c| !keys.contains(&c.name.as_str()))
            .map(|c| Expr::Column(c.clone())),
    );
    LogicalPlanBuilder::from(joined).project(exprs)?.build()
}

/// A lazy query over tables, built step by step. See the module doc.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// use spate::prelude::*;
/// let session = Session::new()?;
/// let sales = session.sql("select * from (values ('a', 2, 3.0), ('b', 1, 10.0), ('a', 5, 1.0)) t(store, qty, price)").await?;
/// let report = sales
///     .with_column("amount", col("qty") * col("price"))?
///     .filter(col("qty").gt(lit(1)))?
///     .group_by(vec![col("store")])
///     .agg(vec![sum(col("amount")).alias("revenue")])?
///     .order_by(vec![desc(col("revenue"))])?;
/// let batches = report.collect().await?;
/// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DataFrame {
    session: Session,
    inner: datafusion::dataframe::DataFrame,
}

/// A DataFrame grouped by keys, waiting for its aggregates: see [`DataFrame::group_by`].
#[derive(Debug, Clone)]
pub struct GroupedData {
    df: DataFrame,
    keys: Vec<Expr>,
}

impl GroupedData {
    /// One row per group with the given aggregates (`sum(col("x")).alias("total")`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// let stats = df.group_by(vec![]).agg(vec![max(col("price")).alias("top")])?;
    /// assert_eq!(spate::io::string_rows(&stats.collect().await?)?, [["3.0"]]);
    /// # Ok(()) }
    /// ```
    pub fn agg(self, aggregates: Vec<Expr>) -> Result<DataFrame> {
        let DataFrame { session, inner } = self.df;
        let inner = inner.aggregate(self.keys, aggregates)?;
        Ok(DataFrame { session, inner })
    }
}

impl DataFrame {
    pub(crate) fn new(session: Session, inner: datafusion::dataframe::DataFrame) -> Self {
        DataFrame { session, inner }
    }

    fn map(
        self,
        f: impl FnOnce(
            datafusion::dataframe::DataFrame,
        ) -> datafusion::error::Result<datafusion::dataframe::DataFrame>,
    ) -> Result<Self> {
        let session = self.session;
        let inner = f(self.inner).map_err(|e| session.error(e))?;
        Ok(DataFrame { session, inner })
    }

    /// The DataFusion DataFrame underneath.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let inner = df.into_datafusion();
    /// assert_eq!(inner.schema().fields().len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn into_datafusion(self) -> datafusion::dataframe::DataFrame {
        self.inner
    }

    /// The session this DataFrame runs in.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// assert_eq!(df.session().options().threads, session.options().threads);
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Keeps the given expressions as columns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// let ids = df.select(vec![col("id"), (col("price") * lit(2.0)).alias("double")])?;
    /// assert_eq!(spate::io::string_rows(&ids.collect().await?)?[1], ["2", "6.0"]);
    /// # Ok(()) }
    /// ```
    pub fn select(self, exprs: Vec<Expr>) -> Result<Self> {
        self.map(|df| df.select(exprs))
    }

    /// Keeps rows for which `predicate` is true.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// assert_eq!(df.filter(col("price").gt(lit(2.5)))?.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn filter(self, predicate: Expr) -> Result<Self> {
        self.map(|df| df.filter(predicate))
    }

    /// Adds a column, or replaces the column of that name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// let taxed = df.with_column("gross", col("price") * lit(1.25))?;
    /// assert_eq!(taxed.schema().field(3).name(), "gross");
    /// # Ok(()) }
    /// ```
    pub fn with_column(self, name: &str, expr: Expr) -> Result<Self> {
        self.map(|df| df.with_column(name, expr))
    }

    /// Renames a column; a name that does not exist is left alone, as in Spark.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let renamed = df.with_column_renamed("name", "label")?;
    /// assert!(renamed.schema().field_with_name("label").is_ok());
    /// # Ok(()) }
    /// ```
    pub fn with_column_renamed(self, old: &str, new: &str) -> Result<Self> {
        self.map(|df| df.with_column_renamed(old, new))
    }

    /// Removes columns by name.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let narrow = df.drop(&["name", "price"])?;
    /// assert_eq!(narrow.schema().fields().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn drop(self, columns: &[&str]) -> Result<Self> {
        self.map(|df| df.drop_columns(columns))
    }

    /// Groups rows by `keys`; follow with [`GroupedData::agg`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// let per_name = df.group_by(vec![col("name")]).agg(vec![sum(col("price")).alias("total")])?;
    /// assert_eq!(per_name.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn group_by(self, keys: Vec<Expr>) -> GroupedData {
        GroupedData { df: self, keys }
    }

    /// Joins on columns that have the same names on both sides; each key appears once in
    /// the result (Spark's `df.join(other, on, how)`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// use spate::{JoinType, Session};
    /// let session = Session::new()?;
    /// let orders = session.sql("select * from (values (1, 10), (2, 20), (3, 30)) t(customer_id, total)").await?;
    /// let customers = session.sql("select * from (values (1, 'ada'), (2, 'alan')) t(customer_id, name)").await?;
    /// let joined = orders.clone().join(&customers, &["customer_id"], JoinType::Inner)?;
    /// assert_eq!(joined.schema().fields().len(), 3);
    /// assert_eq!(joined.count().await?, 2);
    /// let unmatched = orders.join(&customers, &["customer_id"], JoinType::Anti)?;
    /// assert_eq!(unmatched.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn join(self, other: &DataFrame, on: &[&str], how: JoinType) -> Result<Self> {
        let session = self.session.clone();
        let (state, left) = self.inner.into_parts();
        let keys = on.iter().map(|name| Column::from_name(*name)).collect();
        let left_width = left.schema().fields().len();
        let plan = distinct_qualifiers(&left, other.inner.logical_plan().clone())
            .and_then(|right| LogicalPlanBuilder::from(left).join_using(right, how.into(), keys))
            .and_then(LogicalPlanBuilder::build)
            .and_then(|joined| keys_once(joined, left_width, on, how))
            .map_err(|e| session.error(e))?;
        Ok(DataFrame {
            session,
            inner: datafusion::dataframe::DataFrame::new(state, plan),
        })
    }

    /// Sorts rows; build sort keys with [`crate::prelude::asc`] and [`crate::prelude::desc`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// use spate::prelude::*;
    /// let sorted = df.order_by(vec![desc(col("price"))])?;
    /// assert_eq!(spate::io::string_rows(&sorted.collect().await?)?[0][1], "b");
    /// # Ok(()) }
    /// ```
    pub fn order_by(self, keys: Vec<SortExpr>) -> Result<Self> {
        self.map(|df| df.sort(keys))
    }

    /// Keeps the first `n` rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// assert_eq!(df.limit(1)?.count().await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn limit(self, n: usize) -> Result<Self> {
        self.map(|df| df.limit(0, Some(n)))
    }

    /// Removes duplicate rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let twice = df.clone().union(&df)?;
    /// assert_eq!(twice.distinct()?.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn distinct(self) -> Result<Self> {
        self.map(|df| df.distinct())
    }

    /// Appends the rows of `other`, matching columns by position (Spark's `union`, SQL's
    /// `UNION ALL`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let twice = df.clone().union(&df)?;
    /// assert_eq!(twice.count().await?, 4);
    /// # Ok(()) }
    /// ```
    pub fn union(self, other: &DataFrame) -> Result<Self> {
        let other = other.inner.clone();
        self.map(|df| df.union(other))
    }

    /// The result's schema.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let names: Vec<_> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    /// assert_eq!(names, ["id", "name", "price"]);
    /// # Ok(()) }
    /// ```
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(self.inner.schema().inner())
    }

    /// Runs the query and returns all its rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let batches = df.collect().await?;
    /// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        let plan = self
            .session
            .physical_plan(self.inner.logical_plan())
            .await?;
        crate::execute::collect(&self.session, plan).await
    }

    /// Runs the query and returns its rows with what the run took (time, peak memory,
    /// spills).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let (batches, metrics) = df.collect_with_metrics().await?;
    /// assert_eq!(metrics.output_rows, 2);
    /// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn collect_with_metrics(self) -> Result<(Vec<RecordBatch>, crate::ExecutionMetrics)> {
        let plan = self
            .session
            .physical_plan(self.inner.logical_plan())
            .await?;
        crate::execute::collect_with_metrics(&self.session, plan).await
    }

    /// Runs the query and returns its number of rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// assert_eq!(df.count().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn count(self) -> Result<usize> {
        let counted = self.map(|df| df.aggregate(vec![], vec![count(lit(1)).alias("n")]))?;
        let batches = counted.collect().await?;
        let n = batches
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<datafusion::arrow::array::Int64Array>()
            })
            .map_or(0, |a| a.value(0));
        usize::try_from(n).map_err(|_| SpateError::InvalidOption {
            option: "count".into(),
            value: n.to_string(),
            reason: "negative row count".into(),
        })
    }

    /// Prints the first `n` rows as a table on standard output.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// df.show(10).await?; // prints a table of both rows
    /// # Ok(()) }
    /// ```
    pub async fn show(self, n: usize) -> Result<()> {
        let schema = self.schema();
        let batches = self.limit(n)?.collect().await?;
        let text = crate::io::format_table(&schema, &batches)?;
        println!("{text}");
        Ok(())
    }

    /// The logical and physical plans as text.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let plans = df.explain().await?;
    /// assert!(plans.contains("physical_plan"));
    /// # Ok(()) }
    /// ```
    pub async fn explain(self) -> Result<String> {
        let explained = self.map(|df| df.explain(false, false))?;
        let schema = explained.schema();
        let batches = explained.collect().await?;
        crate::io::format_table(&schema, &batches)
    }

    /// A writer for this DataFrame's rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(df.write().csv(dir.path().join("out.csv")).await?, 2);
    /// # Ok(()) }
    /// ```
    pub fn write(self) -> DataFrameWriter {
        DataFrameWriter::new(self)
    }

    /// The logical plan this DataFrame runs (DataFusion's), to inspect without running it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// let df = session.sql("select 1 as x order by x").await?;
    /// assert!(matches!(df.logical_plan(), spate::datafusion::logical_expr::LogicalPlan::Sort(_)));
    /// # Ok(()) }
    /// ```
    pub fn logical_plan(&self) -> &datafusion::logical_expr::LogicalPlan {
        self.inner.logical_plan()
    }
}
