//! Table sinks: where a `COPY` writes rows that are not files, planned by DataFusion.
//!
//! A sink is one implementation of [`TableSink`]: given the physical plan of the rows and
//! the write's target, mode, partition columns and options, it returns the physical plan
//! that writes them (for Delta: `DeltaCommitExec` over `DeltaWriterExec`s; for BigQuery: a
//! `DataSinkExec` over the BigQuery sink). Every way of writing reaches that one method:
//!
//! ```text
//! COPY (...) TO 't' STORED AS DELTA ─┐ SQL planner: LogicalPlan::Copy(file type "delta")
//! df.write().delta("t")  ────────────┤ LogicalPlanBuilder::copy_to (same plan)
//! EXPLAIN COPY ...  ─────────────────┘ LogicalPlan::Explain over the same plan
//!                                      │ physical planner: FileFormat::create_writer_physical_plan
//!                                      ▼
//!                        SinkFormat ─► TableSink::plan_write ─► the writer plan
//! INSERT INTO delta_table ──────────────► TableProvider::insert_into ─► the same
//!                                          spate_delta::plan_write
//! ```
//!
//! # Why a `FileFormat`
//! DataFusion's SQL planner already turns `COPY ... STORED AS X` into a
//! `LogicalPlan::Copy` naming the file type registered as `X`, and its physical planner
//! asks that type's [`FileFormat`](datafusion::datasource::file_format::FileFormat) for the
//! writer plan. Registering each sink as a file format ([`SinkFormatFactory`]) therefore
//! needs no statement dispatch of spate's own: the query is planned once, with the
//! optimizer seeing the writer, and `EXPLAIN` prints the plan the executor runs. (An
//! extension node would need its own SQL rewrite for COPY; `TableProvider::insert_into`
//! serves `INSERT`, which names a table, not a location.) A new sink is one `TableSink`
//! and one line in [`formats`].

mod bigquery;
mod delta;
mod format;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::dml::CopyTo;
use datafusion::physical_plan::ExecutionPlan;

pub(crate) use format::SinkFormatFactory;

use crate::error::{Result, SpateError};
use crate::writer::SaveMode;

/// One write into a sink, as the statement (or the DataFrame writer) gave it.
#[derive(Debug, Clone)]
pub(crate) struct SinkWrite {
    /// The target as given: a path or URL.
    pub target: String,
    /// What to do with rows already there.
    pub mode: SaveMode,
    /// `PARTITIONED BY` columns.
    pub partition_by: Vec<String>,
    /// The other options, by key as given (DataFusion's `format.` prefix removed; it
    /// lower-cases a COPY's keys, so sinks match keys without regard to case).
    pub options: Vec<(String, String)>,
}

/// The error for an option key a sink does not take: it names the key and the keys the
/// sink (`noun`) takes.
pub(crate) fn unknown_option(noun: &str, key: &str, known: &[&str]) -> SpateError {
    SpateError::InvalidOption {
        option: "option".into(),
        value: key.to_string(),
        reason: format!(
            "unknown option of a write to a {noun}; it takes {}",
            known.join(", ")
        ),
    }
}

/// A place rows can be written to that DataFusion's file sinks do not know.
#[async_trait]
pub(crate) trait TableSink: std::fmt::Debug + Send + Sync + 'static {
    /// Its name in `STORED AS` (`delta`).
    fn name(&self) -> &'static str;

    /// What a COPY's summary calls its target ("Delta table").
    fn noun(&self) -> &'static str;

    /// Whether a session on a cluster may write into it (a statement writing into a sink
    /// that cannot is refused before anything runs).
    fn runs_on_cluster(&self) -> bool;

    /// The physical plan writing the rows of `input` as `write` says; `None` when there
    /// is nothing to do (save mode `Ignore` and the target exists). Checks everything that
    /// can be checked before a row flows.
    async fn plan_write(
        &self,
        state: &SessionState,
        write: &SinkWrite,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>>;
}

/// The session's sinks, as file formats to register.
pub(crate) fn formats(
    stores: &Arc<spate_connectors::object_stores::StoreRegistry>,
    bigquery: &Arc<spate_bigquery::BigQueryRegistry>,
) -> Vec<Arc<SinkFormatFactory>> {
    vec![
        SinkFormatFactory::new(Arc::new(delta::DeltaSink::new(Arc::clone(stores)))),
        SinkFormatFactory::new(Arc::new(bigquery::BigQuerySink::new(Arc::clone(bigquery)))),
    ]
}

/// The sink a `COPY` plan writes into, if it writes into one.
pub(crate) fn of_copy(copy: &CopyTo) -> Option<Arc<dyn TableSink>> {
    let format = datafusion::datasource::file_format::file_type_to_format(&copy.file_type).ok()?;
    format
        .downcast_ref::<SinkFormatFactory>()
        .map(SinkFormatFactory::sink)
}

/// The name `STORED AS` takes for a COPY to `target` whatever it said: `bigquery` for a
/// `bigquery://` location (so a pipeline written for Delta writes BigQuery when its
/// warehouse is `bigquery://PROJECT/DATASET`), else `None`.
pub(crate) fn forced_format(target: &str) -> Option<&'static str> {
    spate_bigquery::is_bigquery_location(target).then_some(bigquery::NAME)
}
