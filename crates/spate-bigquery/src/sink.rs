//! [`BigQuerySink`]: a statement's rows written to a BigQuery table all at once, or not at
//! all.
//!
//! # Algorithm
//!
//! Planning ([`BigQuerySink::prepare`]) looks the table up and decides where rows go:
//!
//! | mode | table exists | rows go to | then |
//! |---|---|---|---|
//! | append | yes | the table | — |
//! | any | no | the table, created from the rows' schema when the write starts (its dataset must exist) | — |
//! | overwrite | yes | a staging table | one copy job, `WRITE_TRUNCATE` |
//! | overwrite with `replace_by` columns | yes | a staging table | one transaction: delete the rows whose `replace_by` values were written, insert the staged rows |
//! | error / ignore | yes | fails / nothing | — |
//!
//! Planning only reads: `EXPLAIN` of a write creates nothing. Writing
//! ([`DataSink::write_all`]) creates a missing table first, then spreads the batches over `writers` `PENDING` streams
//! ([`PendingStream`]), finalizes them and commits them together with one
//! `BatchCommitWriteStreams`. Until that commit BigQuery shows none of the rows, so a
//! statement that fails (or is cancelled) before it leaves the table as it was. A staging
//! table is created when the rows start to arrive, with a one-day expiration, and deleted
//! once the replacing job ran (or the write failed), so readers of the table never see it
//! empty or half replaced.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result as DFResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;

use crate::client::BigQueryClient;
use crate::error::{BigQueryError, Result};
use crate::io_counters::IoCounters;
use crate::location::TableRef;
use crate::stream_writer::PendingStream;
use crate::types::{WritePlan, rest_fields};

/// How a write treats an existing table (Spark's save modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Add the rows.
    #[default]
    Append,
    /// Replace the table's rows (or, with `replace_by`, the rows of the values written).
    Overwrite,
    /// Fail when the table exists.
    ErrorIfExists,
    /// Do nothing when the table exists.
    Ignore,
}

/// The options of a write.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// The save mode.
    pub mode: WriteMode,
    /// With [`WriteMode::Overwrite`]: replace only the rows whose values of these columns
    /// appear in the rows written (a per-day replace: `["sales_date"]`).
    pub replace_by: Vec<String>,
    /// Write streams used at once (at least 1).
    pub writers: usize,
}

/// What the staged rows do to the table once committed.
#[derive(Debug, Clone)]
enum Finish {
    /// Rows were appended to the table itself: nothing more.
    Nothing,
    /// Copy the staging table over the table.
    Copy { staging: TableRef },
    /// Replace the rows of the values of these columns in one transaction.
    Replace {
        staging: TableRef,
        columns: Vec<String>,
        by: Vec<String>,
    },
}

/// Writes a statement's rows to one BigQuery table.
#[derive(Debug)]
pub struct BigQuerySink {
    table: TableRef,
    client: Arc<BigQueryClient>,
    counters: Arc<IoCounters>,
    /// Where the streams append: the table or its staging table; `None` writes nothing.
    destination: Option<TableRef>,
    plan: Option<WritePlan>,
    finish: Finish,
    writers: usize,
    input_schema: SchemaRef,
    /// The columns of the staging table, created when the write starts.
    staging_fields: Vec<crate::rest_client::RestField>,
    /// The columns of the table when it is missing: it is created when the write starts.
    create: Option<Vec<crate::rest_client::RestField>>,
}

impl BigQuerySink {
    /// Looks the table up and prepares the write of rows of `input` (see the module doc).
    pub(crate) async fn prepare(
        table: TableRef,
        client: Arc<BigQueryClient>,
        counters: Arc<IoCounters>,
        input: &SchemaRef,
        options: SinkOptions,
    ) -> Result<BigQuerySink> {
        let mut sink = BigQuerySink {
            table: table.clone(),
            client: Arc::clone(&client),
            counters,
            destination: None,
            plan: None,
            finish: Finish::Nothing,
            writers: options.writers.max(1),
            input_schema: Arc::clone(input),
            staging_fields: Vec::new(),
            create: None,
        };
        let existing = client.rest.get_table(&table).await?;
        let Some(info) = existing else {
            let fields = rest_fields(&table, input)?;
            if !client.rest.dataset_exists(&table).await? {
                return Err(BigQueryError::DatasetNotFound {
                    dataset: table.dataset_name(),
                });
            }
            check_replace_columns(&table, input, &options.replace_by)?;
            sink.plan = Some(WritePlan::new(&table, input, &fields)?);
            sink.create = Some(fields);
            sink.destination = Some(table);
            return Ok(sink);
        };
        match options.mode {
            WriteMode::ErrorIfExists => {
                return Err(BigQueryError::AlreadyExists {
                    table: table.to_string(),
                });
            }
            WriteMode::Ignore => return Ok(sink),
            WriteMode::Append => {
                sink.plan = Some(WritePlan::new(&table, input, &info.fields)?);
                sink.destination = Some(table);
                return Ok(sink);
            }
            WriteMode::Overwrite => {}
        }
        // Overwrite: stage with the table's schema when the rows fit it (a per-day replace
        // must fit); a whole overwrite may change the schema.
        let fits = WritePlan::new(&table, input, &info.fields);
        let fields = match (&fits, options.replace_by.is_empty()) {
            (Ok(_), _) => info.fields.clone(),
            (Err(_), true) => rest_fields(&table, input)?,
            (Err(_), false) => return Err(fits.err().unwrap_or_else(|| unreachable_fit(&table))),
        };
        check_replace_columns(&table, input, &options.replace_by)?;
        let staging = table.staging(&unique_suffix());
        sink.plan = Some(WritePlan::new(&staging, input, &fields)?);
        sink.staging_fields = fields;
        sink.destination = Some(staging.clone());
        sink.finish = if options.replace_by.is_empty() {
            Finish::Copy { staging }
        } else {
            Finish::Replace {
                staging,
                columns: input.fields().iter().map(|f| f.name().clone()).collect(),
                by: options.replace_by.clone(),
            }
        };
        Ok(sink)
    }

    /// Appends every batch of `data` to the destination's streams and commits them.
    async fn write(
        &self,
        destination: &TableRef,
        plan: &WritePlan,
        mut data: SendableRecordBatchStream,
    ) -> Result<u64> {
        let mut streams = Vec::with_capacity(self.writers);
        let mut next = 0usize;
        let mut rows = 0u64;
        while let Some(batch) = data.next().await {
            let batch = batch.map_err(|e| BigQueryError::Service {
                operation: "write".into(),
                table: self.table.to_string(),
                message: e.to_string(),
            })?;
            if batch.num_rows() == 0 {
                continue;
            }
            let wire = plan.convert(&batch)?;
            if streams.len() < self.writers {
                let stream = PendingStream::create(
                    destination,
                    Arc::clone(&self.client),
                    Arc::clone(&self.counters),
                    plan.wire_schema(),
                )
                .await?;
                streams.push(stream);
            }
            let index = next % streams.len();
            next += 1;
            streams[index].append(&wire).await?;
            rows += batch.num_rows() as u64;
        }
        let mut names = Vec::with_capacity(streams.len());
        for stream in streams {
            names.push(stream.name().to_string());
            stream.finish().await?;
        }
        if !names.is_empty() {
            self.client.storage.batch_commit(destination, names).await?;
        }
        Ok(rows)
    }

    /// Applies the staged rows to the table (see [`Finish`]).
    async fn apply(&self) -> Result<()> {
        match &self.finish {
            Finish::Nothing => Ok(()),
            Finish::Copy { staging } => self.client.rest.copy_replacing(staging, &self.table).await,
            Finish::Replace {
                staging,
                columns,
                by,
            } => {
                let sql = replace_script(&self.table, staging, columns, by);
                self.client.rest.run_query(&self.table, &sql).await
            }
        }
    }

    fn staging(&self) -> Option<&TableRef> {
        match &self.finish {
            Finish::Nothing => None,
            Finish::Copy { staging } | Finish::Replace { staging, .. } => Some(staging),
        }
    }
}

/// The transaction that replaces the rows of the values of `by` written to `staging`.
fn replace_script(
    table: &TableRef,
    staging: &TableRef,
    columns: &[String],
    by: &[String],
) -> String {
    let quote = |c: &String| format!("`{c}`");
    let list: Vec<String> = columns.iter().map(quote).collect();
    let list = list.join(", ");
    let matches = match by {
        [one] => format!(
            "`{one}` IN (SELECT DISTINCT `{one}` FROM {})",
            staging.quoted()
        ),
        many => {
            let conditions: Vec<String> =
                many.iter().map(|c| format!("s.`{c}` = t.`{c}`")).collect();
            format!(
                "EXISTS (SELECT 1 FROM {} s WHERE {})",
                staging.quoted(),
                conditions.join(" AND ")
            )
        }
    };
    format!(
        "BEGIN TRANSACTION;\n\
         DELETE FROM {table} t WHERE {matches};\n\
         INSERT INTO {table} ({list}) SELECT {list} FROM {staging};\n\
         COMMIT TRANSACTION;",
        table = table.quoted(),
        staging = staging.quoted(),
    )
}

fn check_replace_columns(table: &TableRef, input: &Schema, by: &[String]) -> Result<()> {
    match by.iter().find(|c| input.field_with_name(c).is_err()) {
        Some(missing) => Err(BigQueryError::SchemaMismatch {
            table: table.to_string(),
            detail: format!("the rows have no column `{missing}` to replace by"),
        }),
        None => Ok(()),
    }
}

fn unreachable_fit(table: &TableRef) -> BigQueryError {
    BigQueryError::SchemaMismatch {
        table: table.to_string(),
        detail: "the rows do not fit the table".into(),
    }
}

/// A suffix no other write of this process or another shares: time, process, counter.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}_{:x}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl DisplayAs for BigQuerySink {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigQuerySink: table={}", self.table)?;
        if self.create.is_some() {
            write!(f, ", creating the table")?;
        }
        match &self.finish {
            Finish::Nothing => Ok(()),
            Finish::Copy { .. } => write!(f, ", overwrite through a staging table"),
            Finish::Replace { by, .. } => write!(
                f,
                ", replace by ({}) through a staging table",
                by.join(", ")
            ),
        }
    }
}

#[async_trait]
impl DataSink for BigQuerySink {
    fn schema(&self) -> &SchemaRef {
        &self.input_schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DFResult<u64> {
        let (Some(destination), Some(plan)) = (&self.destination, &self.plan) else {
            return Ok(0);
        };
        if let Some(fields) = &self.create {
            self.client
                .rest
                .insert_table(&self.table, fields, None)
                .await?;
        }
        if let Some(staging) = self.staging() {
            let expiration = Some(Duration::from_secs(24 * 3600));
            self.client
                .rest
                .insert_table(staging, &self.staging_fields, expiration)
                .await?;
        }
        let written = match self.write(destination, plan, data).await {
            Ok(rows) => self.apply().await.map(|()| rows),
            Err(e) => Err(e),
        };
        if let Some(staging) = self.staging() {
            // Best effort: the staging table expires in a day anyway.
            let _ = self.client.rest.delete_table(staging).await;
        }
        Ok(written?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_scripts_delete_the_values_written_then_insert() {
        let table = TableRef::parse("p.d.sales").unwrap();
        let staging = table.staging("x");
        let columns = vec!["day".to_string(), "n".to_string()];
        let sql = replace_script(&table, &staging, &columns, &["day".to_string()]);
        assert_eq!(
            sql,
            "BEGIN TRANSACTION;\n\
             DELETE FROM `p.d.sales` t WHERE `day` IN (SELECT DISTINCT `day` FROM `p.d.sales__spate_staging_x`);\n\
             INSERT INTO `p.d.sales` (`day`, `n`) SELECT `day`, `n` FROM `p.d.sales__spate_staging_x`;\n\
             COMMIT TRANSACTION;"
        );
        assert_ne!(unique_suffix(), unique_suffix());
    }
}
