//! Errors of the Delta Lake sink.
//!
//! Each variant names the table (its location, shown without secrets) and what is wrong
//! with it, so that the message alone tells a user what to fix. delta-rs's own errors are
//! sorted on the way in ([`DeltaError::from_delta`]): commit conflicts become
//! [`DeltaError::Conflict`], everything else keeps delta-rs's text on one line.

use datafusion::error::DataFusionError;
use deltalake::DeltaTableError;
use deltalake::kernel::transaction::TransactionError;

/// The result type of this crate.
pub type Result<T, E = DeltaError> = std::result::Result<T, E>;

/// An error of a Delta Lake read, write or merge.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The location holds files but no Delta log.
    #[error(
        "{location} is not a Delta table: it holds {found} but no _delta_log/; write Delta tables into a new or empty directory"
    )]
    NotADeltaTable { location: String, found: String },

    /// Nothing at the location, where a table was expected.
    #[error("no Delta table at {location}")]
    TableNotFound { location: String },

    /// A write with save mode ErrorIfExists found a table.
    #[error(
        "{location} already holds a Delta table (save mode ErrorIfExists); use mode Overwrite, Append or Ignore"
    )]
    AlreadyExists { location: String },

    /// The rows written do not fit the table's schema.
    #[error("schema mismatch writing to Delta table {location}: {detail}")]
    SchemaMismatch { location: String, detail: String },

    /// A partition column that is not a column of the table.
    #[error(
        "unknown partition column `{column}` for Delta table {location}: the columns are {columns}"
    )]
    UnknownPartitionColumn {
        location: String,
        column: String,
        columns: String,
    },

    /// The write asks for other partition columns than the table has.
    #[error(
        "Delta table {location} is partitioned by ({table}), not by ({requested}); overwrite it to change its partitioning"
    )]
    PartitionMismatch {
        location: String,
        table: String,
        requested: String,
    },

    /// Another writer committed a transaction this one conflicts with.
    #[error(
        "conflicting concurrent transaction on Delta table {location}: {reason}; the table is unchanged, run the write again"
    )]
    Conflict { location: String, reason: String },

    /// An option has a bad value.
    #[error("invalid Delta option {option} '{value}': {reason}")]
    InvalidOption {
        option: String,
        value: String,
        reason: String,
    },

    /// A row written under `replaceWhere` falls outside the predicate.
    #[error(
        "rows written to Delta table {location} do not all match replaceWhere `{predicate}` (partition {partition}); nothing was committed"
    )]
    ReplaceWhereViolation {
        location: String,
        predicate: String,
        partition: String,
    },

    /// A table feature that a cluster's scan cannot read.
    #[error(
        "Delta table {location} uses {feature}, which a cluster cannot read yet; read it without --cluster"
    )]
    UnsupportedFeature { location: String, feature: String },

    /// Any other error of delta-rs, with the table it concerns.
    #[error("Delta table {location}: {reason}")]
    Delta { location: String, reason: String },

    /// An error of DataFusion while planning or running the write.
    #[error("{0}")]
    DataFusion(#[source] DataFusionError),
}

impl DeltaError {
    /// Sorts a delta-rs error for the table at `location`.
    pub fn from_delta(location: &str, err: DeltaTableError) -> Self {
        let conflict = match &err {
            DeltaTableError::Transaction { source } => conflict_reason(source),
            _ => None,
        };
        if let Some(reason) = conflict {
            return DeltaError::Conflict {
                location: location.to_string(),
                reason,
            };
        }
        if let DeltaTableError::NotATable(_) | DeltaTableError::InvalidTableLocation(_) = &err {
            return DeltaError::TableNotFound {
                location: location.to_string(),
            };
        }
        DeltaError::Delta {
            location: location.to_string(),
            reason: one_line(&err.to_string()),
        }
    }
}

/// The reason of a commit that lost against a concurrent one, if `err` is that.
fn conflict_reason(err: &TransactionError) -> Option<String> {
    match err {
        TransactionError::CommitConflict(conflict) => Some(one_line(&conflict.to_string())),
        TransactionError::MaxCommitAttempts(n) => Some(format!(
            "gave up after {n} attempts while other writers kept committing"
        )),
        TransactionError::VersionAlreadyExists(v) => {
            Some(format!("version {v} was committed by another writer"))
        }
        _ => None,
    }
}

impl From<DataFusionError> for DeltaError {
    fn from(err: DataFusionError) -> Self {
        match err {
            DataFusionError::External(inner) => match inner.downcast::<DeltaError>() {
                Ok(delta) => *delta,
                Err(other) => DeltaError::DataFusion(DataFusionError::External(other)),
            },
            other => DeltaError::DataFusion(other),
        }
    }
}

impl From<DeltaError> for DataFusionError {
    fn from(err: DeltaError) -> Self {
        match err {
            DeltaError::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// `text` on one line, trimmed.
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_their_own_variant() {
        let err = DeltaTableError::Transaction {
            source: TransactionError::MaxCommitAttempts(15),
        };
        let err = DeltaError::from_delta("s3://lake/sales/", err);
        assert!(matches!(err, DeltaError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("s3://lake/sales/"), "{err}");
    }

    #[test]
    fn delta_errors_survive_a_trip_through_datafusion() {
        let err = DeltaError::TableNotFound {
            location: "/tmp/x".into(),
        };
        let back = DeltaError::from(DataFusionError::from(err));
        assert!(matches!(back, DeltaError::TableNotFound { .. }));
    }
}
