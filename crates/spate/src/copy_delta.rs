//! `COPY (query) TO 'location' STORED AS DELTA [PARTITIONED BY (...)] [OPTIONS (...)]`:
//! writes a query's rows as a Delta table, creating it from the query's schema when the
//! location holds none.
//!
//! Options: `mode` (`append`, the default; `overwrite`; `error`; `ignore`), and the
//! write options of Delta ([`spate_delta::DeltaWriteOptions::set`]): `replaceWhere`,
//! `partitionOverwriteMode`, `targetFileSize`. The query runs on the session's executor.

use datafusion::sql::parser::{CopyToSource, CopyToStatement};
use spate_delta::{DeltaLocation, DeltaWriteOptions};

use crate::error::{Result, SpateError};
use crate::execute::ExecutionMetrics;
use crate::session::Session;
use crate::writer::SaveMode;

/// Whether a COPY writes Delta (DataFusion has no Delta file format; spate runs these).
pub(crate) fn is_delta_copy(copy: &CopyToStatement) -> bool {
    copy.stored_as
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("delta"))
}

/// The query a COPY writes, as a statement of its own.
pub(crate) fn source_statement(
    copy: &CopyToStatement,
) -> Result<datafusion::sql::parser::Statement> {
    let query = match &copy.source {
        CopyToSource::Relation(name) => {
            let sql = format!("SELECT * FROM {name}");
            let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
            let mut parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(&dialect, &sql)
                .map_err(|e| {
                    SpateError::DataFusion(datafusion::error::DataFusionError::SQL(
                        Box::new(e),
                        None,
                    ))
                })?;
            match parsed.pop() {
                Some(statement) => statement,
                None => {
                    return Err(SpateError::InvalidOption {
                        option: "COPY".into(),
                        value: name.to_string(),
                        reason: "no query to copy".into(),
                    });
                }
            }
        }
        CopyToSource::Query(query) => {
            datafusion::sql::sqlparser::ast::Statement::Query(query.clone())
        }
    };
    Ok(datafusion::sql::parser::Statement::Statement(Box::new(
        query,
    )))
}

impl Session {
    /// Runs a `COPY ... STORED AS DELTA`; returns the rows written.
    pub(crate) async fn run_delta_copy(
        &self,
        copy: &CopyToStatement,
    ) -> Result<(u64, ExecutionMetrics)> {
        self.refuse_on_cluster("COPY ... STORED AS DELTA")?;
        let at = DeltaLocation::parse(&copy.target)?;
        let (mode, given) = crate::writer::copy_options(copy)?;
        let mut options = DeltaWriteOptions {
            mode: mode.unwrap_or(SaveMode::Append).into(),
            partition_by: copy.partitioned_by.clone(),
            ..Default::default()
        };
        for (key, value) in &given {
            options.set(key, value)?;
        }
        let sql = match &copy.source {
            CopyToSource::Relation(name) => format!("SELECT * FROM {name}"),
            CopyToSource::Query(query) => query.to_string(),
        };
        let df = self.sql(&sql).await?;
        let input = self.physical_plan(df.logical_plan()).await?;
        let state = self.context().state();
        let Some(plan) = spate_delta::plan_write(&state, &at, input, &options).await? else {
            return Ok((0, ExecutionMetrics::default()));
        };
        let (batches, metrics) = crate::execute::collect_with_metrics(self, plan).await?;
        Ok((crate::statement::count_column(&batches), metrics))
    }
}
