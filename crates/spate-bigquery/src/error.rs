//! Errors of BigQuery reads and writes.
//!
//! Each variant names the table (`project.dataset.table`) or the endpoint at fault and
//! says what to do, on one line. Messages never carry tokens or keys: service answers are
//! quoted, requests are not.

use datafusion::error::DataFusionError;

/// The result type of this crate.
pub type Result<T, E = BigQueryError> = std::result::Result<T, E>;

/// An error of a BigQuery read or write.
#[derive(Debug, thiserror::Error)]
pub enum BigQueryError {
    /// A table name that is not `bigquery://PROJECT/DATASET/TABLE` or `PROJECT.DATASET.TABLE`.
    #[error(
        "bad BigQuery table name '{location}': {reason} (expected bigquery://PROJECT/DATASET/TABLE or PROJECT.DATASET.TABLE)"
    )]
    BadLocation { location: String, reason: String },

    /// The table does not exist.
    #[error("BigQuery table {table} not found")]
    TableNotFound { table: String },

    /// The dataset does not exist (spate creates tables, never datasets).
    #[error("BigQuery dataset {dataset} not found; create it first (bq mk {dataset})")]
    DatasetNotFound { dataset: String },

    /// A write with save mode `error` found the table.
    #[error(
        "BigQuery table {table} already exists (save mode ErrorIfExists); use mode Overwrite, Append or Ignore"
    )]
    AlreadyExists { table: String },

    /// No credentials could be found or used.
    #[error(
        "no usable Google credentials for BigQuery project {project}: {reason}; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run on Google Cloud, or set skip_signature = \"true\" for an emulator"
    )]
    NoCredentials { project: String, reason: String },

    /// The endpoint cannot be reached.
    #[error("cannot reach BigQuery at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },

    /// BigQuery refused for lack of quota (after retries).
    #[error("BigQuery quota exceeded ({operation} on {table}): {message}")]
    Quota {
        operation: String,
        table: String,
        message: String,
    },

    /// Any other answer of the service.
    #[error("BigQuery {operation} on {table} failed: {message}")]
    Service {
        operation: String,
        table: String,
        message: String,
    },

    /// A column whose type has no counterpart on the other side.
    #[error(
        "column `{column}` of BigQuery table {table} has type {data_type}, which spate cannot map"
    )]
    UnsupportedType {
        table: String,
        column: String,
        data_type: String,
    },

    /// The rows written do not fit the table's schema.
    #[error("schema mismatch writing to BigQuery table {table}: {detail}; the table is unchanged")]
    SchemaMismatch { table: String, detail: String },

    /// A value that does not fit its column (a decimal with too many digits).
    #[error(
        "value out of range for column `{column}` of BigQuery table {table}: {detail}; the table is unchanged"
    )]
    OutOfRange {
        table: String,
        column: String,
        detail: String,
    },

    /// An option has a bad value.
    #[error("invalid BigQuery option {option} '{value}': {reason}")]
    InvalidOption {
        option: String,
        value: String,
        reason: String,
    },

    /// Data the service sent that cannot be decoded.
    #[error("bad data from BigQuery for table {table}: {detail}")]
    BadData { table: String, detail: String },
}

impl From<BigQueryError> for DataFusionError {
    fn from(err: BigQueryError) -> Self {
        DataFusionError::External(Box::new(err))
    }
}
