//! # spate
//!
//! A Spark-style DataFrame and SQL engine on Apache Arrow. Apache DataFusion parses and
//! optimizes; spate resolves tables from files (directories, Hive partitions, merged
//! schemas), runs plans with its executor, and writes results.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
//! use spate::prelude::*;
//!
//! let session = Session::new()?;
//! let df = session.sql("select 'cymbal' as shop, 42 as sales").await?;
//! let batches = df.filter(col("sales").gt(lit(10)))?.collect().await?;
//! assert_eq!(batches[0].num_rows(), 1);
//! # Ok(()) }
//! ```
//!
//! Modules: [`Session`] (entry point, table registration), [`DataFrame`] (transformations
//! and actions), [`DataFrameReader`] / [`DataFrameWriter`] (files in and out), [`script`]
//! (SQL scripts with `${param}`s), [`io`] (result formats), [`SpateConfig`] (the settings,
//! `spate.*`).

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

/// The library guide (`docs/library.md`), compiled and run as doctests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/library.md")]
pub struct LibraryGuide;

/// The job report guide (`docs/report.md`), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/report.md")]
pub struct ReportGuide;

mod bigquery;
mod catalog;
mod config;
mod dataframe;
mod dialect;
mod error;
mod execute;
pub mod io;
mod memory;
mod merge;
mod planner;
mod progress;
mod reader;
pub mod report;
pub mod script;
mod session;
mod session_builder;
mod sink;
mod spark_datetime_patterns;
mod spark_functions;
mod spark_literals;
mod spark_names;
mod spark_rewrites;
mod spark_settings;
mod statement;
mod system;
mod writer;

pub use catalog::FileFormatKind;
pub use config::{
    ByteSize, ENV_INJECT_SEED, ENV_INJECT_SHUFFLE_CORRUPTION, ENV_INJECT_TASK_FAILURES,
    ENV_TASK_RETRIES, ExecutorKind, SessionOptions, SpateConfig, register_settings,
};
pub use dataframe::{DataFrame, GroupedData, JoinType};
pub use dialect::SqlDialect;
pub use error::{Result, SpateError};
pub use execute::ExecutionMetrics;
pub use merge::{MergeBuilder, MergeOutcome};
pub use progress::{Progress, ProgressSnapshot, StagePhase, StageProgress, estimate_time_left};
pub use reader::DataFrameReader;
pub use session::{Session, SessionBuilder};
pub use spate_bigquery::BigQueryIo;
pub use spate_cluster::ClusterUrl;
pub use spate_connectors::object_stores::StoreIo;
pub use spate_executor::{
    FaultInjection, Fraction, QueryMetrics, ReadDecision, StageMetrics, TaskMetrics, TaskOutcome,
};
pub use statement::{PreparedStatement, Script, StatementKind, StatementResult};
pub use writer::{DataFrameWriter, SaveMode};

/// Re-exports of Arrow and DataFusion for users who need their types.
pub use datafusion::{self, arrow};

/// Everything a DataFrame program needs: the session, DataFrame types and DataFusion's
/// expression functions (`col`, `lit`, `sum`, `count`, `avg`, `min`, `max`, ...).
pub mod prelude {
    pub use crate::{ByteSize, DataFrame, JoinType, SaveMode, Session, SessionBuilder};
    pub use datafusion::functions_aggregate::expr_fn::*;
    pub use datafusion::logical_expr::{Expr, SortExpr};
    pub use datafusion::prelude::{col, lit};

    /// Ascending sort key, nulls first (Spark's `asc`).
    ///
    /// ```
    /// use spate::prelude::*;
    /// let key = asc(col("x"));
    /// assert!(key.asc && key.nulls_first);
    /// ```
    pub fn asc(expr: Expr) -> SortExpr {
        expr.sort(true, true)
    }

    /// Descending sort key, nulls last (Spark's `desc`).
    ///
    /// ```
    /// use spate::prelude::*;
    /// let key = desc(col("x"));
    /// assert!(!key.asc && !key.nulls_first);
    /// ```
    pub fn desc(expr: Expr) -> SortExpr {
        expr.sort(false, false)
    }
}
