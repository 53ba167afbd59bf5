//! Upserts: what a `MERGE INTO target USING source ON ... WHEN MATCHED ... WHEN NOT
//! MATCHED ...` does ([`MergeSpec`]), what it did ([`MergeOutcome`]), and the run of it on
//! delta-rs's merge ([`run_merge`]), which [`DeltaMergeCommitExec`](crate::merge_commit_exec) calls.
//!
//! delta-rs joins the source rows with the files of the target that can hold matching
//! rows (its join predicate prunes the others), rewrites those files, and commits the
//! removes and adds as one version, with the same conflict checking as every write.

use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionState;
use deltalake::DeltaTable;

use crate::error::{DeltaError, Result};

/// One `WHEN ... THEN ...` clause. Expressions are SQL text over the target and source
/// aliases (`t.qty + s.qty`); an optional `predicate` is the clause's `AND` condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub enum MergeClause {
    /// `WHEN MATCHED [AND p] THEN UPDATE SET column = expr, ...`
    UpdateMatched {
        predicate: Option<String>,
        set: Vec<(String, String)>,
    },
    /// `WHEN MATCHED [AND p] THEN DELETE`
    DeleteMatched { predicate: Option<String> },
    /// `WHEN NOT MATCHED [AND p] THEN INSERT (columns) VALUES (exprs)`
    InsertNotMatched {
        predicate: Option<String>,
        values: Vec<(String, String)>,
    },
}

impl std::fmt::Display for MergeClause {
    /// `matched AND s.qty < 0: delete`, `matched: update (qty)`, for EXPLAIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, predicate, action, columns) = match self {
            MergeClause::UpdateMatched { predicate, set } => ("matched", predicate, "update", set),
            MergeClause::DeleteMatched { predicate } => ("matched", predicate, "delete", &vec![]),
            MergeClause::InsertNotMatched { predicate, values } => {
                ("not matched", predicate, "insert", values)
            }
        };
        write!(f, "{kind}")?;
        if let Some(p) = predicate {
            write!(f, " AND {p}")?;
        }
        write!(f, ": {action}")?;
        if !columns.is_empty() {
            let names: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            write!(f, " ({})", names.join(", "))?;
        }
        Ok(())
    }
}

/// A merge: how source rows meet target rows, and what happens then.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct MergeSpec {
    /// The name target columns are qualified with in expressions.
    pub target_alias: String,
    /// The name source columns are qualified with in expressions.
    pub source_alias: String,
    /// The join condition (`t.id = s.id`).
    pub on: String,
    /// The clauses, in order (the first that applies to a row wins).
    pub clauses: Vec<MergeClause>,
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeOutcome {
    /// Rows inserted.
    pub inserted: usize,
    /// Rows updated.
    pub updated: usize,
    /// Rows deleted.
    pub deleted: usize,
    /// The version the merge committed.
    pub version: u64,
}

/// The columns of a merge's one output row: `count` (rows inserted, updated or deleted,
/// the column every write returns first), `inserted`, `updated`, `deleted`, `version`.
pub fn merge_output_schema() -> SchemaRef {
    let column = |name: &str| Field::new(name, DataType::UInt64, false);
    Arc::new(Schema::new(vec![
        column("count"),
        column("inserted"),
        column("updated"),
        column("deleted"),
        column("version"),
    ]))
}

impl MergeOutcome {
    /// The outcome as the merge's output row ([`merge_output_schema`]).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let n = |v: usize| v as u64;
        let values = [
            n(self.inserted + self.updated + self.deleted),
            n(self.inserted),
            n(self.updated),
            n(self.deleted),
            self.version,
        ];
        let columns: Vec<ArrayRef> = values
            .iter()
            .map(|v| Arc::new(UInt64Array::from(vec![*v])) as ArrayRef)
            .collect();
        Ok(RecordBatch::try_new(merge_output_schema(), columns)?)
    }

    /// The outcome in a merge's output, if `batches` are one.
    ///
    /// ```
    /// use spate_delta::MergeOutcome;
    /// let done = MergeOutcome { inserted: 1, updated: 2, deleted: 3, version: 4 };
    /// assert_eq!(MergeOutcome::from_batches(&[done.to_batch().unwrap()]), Some(done));
    /// ```
    pub fn from_batches(batches: &[RecordBatch]) -> Option<MergeOutcome> {
        let batch = batches.iter().find(|b| b.num_rows() > 0)?;
        let value = |name: &str| -> Option<u64> {
            let column = batch
                .column_by_name(name)?
                .as_primitive_opt::<UInt64Type>()?;
            column.iter().next().flatten()
        };
        let count = |name: &str| value(name).and_then(|v| usize::try_from(v).ok());
        Some(MergeOutcome {
            inserted: count("inserted")?,
            updated: count("updated")?,
            deleted: count("deleted")?,
            version: value("version")?,
        })
    }
}

/// Merges `source` into `table` (as read at planning) as `spec` says; `shown` names the
/// table in errors.
pub(crate) async fn run_merge(
    state: SessionState,
    table: DeltaTable,
    shown: &str,
    source: DataFrame,
    spec: &MergeSpec,
) -> Result<MergeOutcome> {
    let delta = |e| DeltaError::from_delta(shown, e);
    let mut builder = table
        .merge(source, spec.on.as_str())
        .with_target_alias(&spec.target_alias)
        .with_source_alias(&spec.source_alias)
        .with_session_state(Arc::new(state));
    for clause in &spec.clauses {
        builder = match clause.clone() {
            MergeClause::UpdateMatched { predicate, set } => builder
                .when_matched_update(|mut update| {
                    if let Some(p) = predicate {
                        update = update.predicate(p);
                    }
                    for (column, expr) in set {
                        update = update.update(column.as_str(), expr);
                    }
                    update
                })
                .map_err(delta)?,
            MergeClause::DeleteMatched { predicate } => builder
                .when_matched_delete(|mut delete| {
                    if let Some(p) = predicate {
                        delete = delete.predicate(p);
                    }
                    delete
                })
                .map_err(delta)?,
            MergeClause::InsertNotMatched { predicate, values } => builder
                .when_not_matched_insert(|mut insert| {
                    if let Some(p) = predicate {
                        insert = insert.predicate(p);
                    }
                    for (column, expr) in values {
                        insert = insert.set(column.as_str(), expr);
                    }
                    insert
                })
                .map_err(delta)?,
        };
    }
    let (table, metrics) = builder.await.map_err(delta)?;
    Ok(MergeOutcome {
        inserted: metrics.num_target_rows_inserted,
        updated: metrics.num_target_rows_updated,
        deleted: metrics.num_target_rows_deleted,
        version: table.version().unwrap_or_default(),
    })
}
