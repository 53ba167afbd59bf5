//! Upserts: `MERGE INTO target USING source ON ... WHEN MATCHED ... WHEN NOT MATCHED ...`,
//! planned onto delta-rs's merge.
//!
//! The source arrives as a DataFusion `DataFrame` the caller built (spate runs the
//! source query with its own executor and hands over the rows). delta-rs joins it with
//! the files of the target that can hold matching rows, rewrites those files, and commits
//! the removes and adds as one version, with the same conflict checking as every write.

use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SessionState;

use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;
use crate::table::{TableVersion, open_table};

/// One `WHEN ... THEN ...` clause. Expressions are SQL text over the target and source
/// aliases (`t.qty + s.qty`); an optional `predicate` is the clause's `AND` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A merge: how source rows meet target rows, and what happens then.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Merges `source` into the table at `location`; see the module doc.
pub async fn merge(
    state: &SessionState,
    location: &DeltaLocation,
    source: DataFrame,
    spec: &MergeSpec,
) -> Result<MergeOutcome> {
    let shown = location.to_string();
    let delta = |e| DeltaError::from_delta(&shown, e);
    let opened = open_table(state.runtime_env(), location, TableVersion::Latest).await?;
    let table = opened.table.ok_or_else(|| DeltaError::TableNotFound {
        location: shown.clone(),
    })?;
    let mut builder = table
        .merge(source, spec.on.as_str())
        .with_target_alias(&spec.target_alias)
        .with_source_alias(&spec.source_alias)
        .with_session_state(Arc::new(state.clone()));
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
