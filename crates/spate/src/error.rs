//! Errors of the `spate` library.
//!
//! Every variant names the thing at fault (a path, a table, a statement's line, an option) so
//! that the message alone tells a user what to fix. DataFusion errors are kept as the source
//! of the variant that wraps them; [`SpateError::from_datafusion`] turns the few that have a
//! better user-facing meaning (memory exhausted) into their own variant.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// The result type of the `spate` library.
pub type Result<T, E = SpateError> = std::result::Result<T, E>;

/// An error of the `spate` library.
#[derive(Debug, thiserror::Error)]
pub enum SpateError {
    /// A path given by the user does not exist.
    #[error("path not found: {path}")]
    PathNotFound { path: String },

    /// An object store failed on a table's location (listing, reading its files).
    #[error("{location}: {reason}")]
    Storage { location: String, reason: String },

    /// An object store refused a write, after its retries. (DataFusion's writers report
    /// only that writing failed; the store's answer comes from the store's counters.)
    #[error("writing to {store} failed: {cause}")]
    StoreWrite { store: String, cause: String },

    /// A table location holds no data files.
    #[error("no data files in {path}{hint}")]
    NoDataFiles { path: String, hint: String },

    /// A file's format could not be told from its name.
    #[error("cannot tell the format of {path}: {reason}")]
    UnknownFormat { path: String, reason: String },

    /// A data file could not be read (corrupt, truncated, wrong format).
    #[error("cannot read {path}: {reason}")]
    BadFile { path: String, reason: String },

    /// Two files of one table disagree on the type of a column.
    #[error("schema conflict in table `{table}`: {path} does not match the other files: {reason}")]
    SchemaConflict {
        table: String,
        path: String,
        reason: String,
    },

    /// Files of one table use different Hive partition keys.
    #[error("inconsistent partition directories in {path}: {reason}")]
    BadPartitioning { path: String, reason: String },

    /// A `${name}` in SQL has no value; `line` is where it stands.
    #[error("unknown parameter ${{{name}}}: no value given")]
    UnknownParameter { name: String, line: usize },

    /// An option, setting or argument has a bad value.
    #[error("invalid {option} '{value}': {reason}")]
    InvalidOption {
        option: String,
        value: String,
        reason: String,
    },

    /// A Spark SQL construct the Spark dialect cannot run with Spark's meaning.
    #[error("unsupported Spark SQL: {construct}: {reason}")]
    SparkUnsupported { construct: String, reason: String },

    /// A statement of a script failed; `origin` is the file (or `<sql>`), `line` its first line.
    #[error("{origin}:{line}: {source}")]
    Statement {
        origin: String,
        line: usize,
        #[source]
        source: Box<SpateError>,
    },

    /// A query needed more memory than the session's limit allows.
    #[error(
        "the query needs more memory than the {limit} memory limit allows ({detail}); raise the memory limit (setting spate.memory_limit)"
    )]
    MemoryLimit { limit: String, detail: String },

    /// A job report could not be made.
    #[error("cannot make the report: {reason}")]
    Report { reason: String },

    /// Spilling ran out of disk space.
    #[error(
        "no space left on the disk holding spill files ({dir}); free space there, spill elsewhere (setting spate.spill_dir) or raise the memory limit (setting spate.memory_limit) so less spills"
    )]
    DiskFull { dir: String },

    /// A write would replace data the save mode says to keep.
    #[error(
        "{path} already exists (save mode ErrorIfExists); use mode Overwrite, Append or Ignore"
    )]
    AlreadyExists { path: String },

    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A Delta Lake table could not be read, written or merged.
    #[error(transparent)]
    Delta(#[from] spate_delta::DeltaError),

    /// A BigQuery table could not be read or written.
    #[error(transparent)]
    BigQuery(#[from] spate_bigquery::BigQueryError),
    /// Cluster mode: a bad URL, an unreachable scheduler, a statement that cannot run there.
    #[error(transparent)]
    Cluster(#[from] spate_cluster::ClusterError),

    /// Any other error from DataFusion: SQL, planning, execution.
    #[error("{}", datafusion_message(.0))]
    DataFusion(#[source] DataFusionError),
}

/// Whether `err`, or any error under it (DataFusion's and arrow's errors expose their
/// I/O sources), is an I/O error for a full disk.
pub(crate) fn is_disk_full(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return true;
        }
        next = e.source();
    }
    false
}

impl SpateError {
    /// Wraps a DataFusion error, giving memory exhaustion its own variant. `memory_limit` is
    /// the session's limit as text, for the message.
    pub fn from_datafusion(err: DataFusionError, memory_limit: Option<&str>) -> Self {
        if let DataFusionError::ResourcesExhausted(detail) = err.find_root() {
            return SpateError::MemoryLimit {
                limit: memory_limit.unwrap_or("configured").to_string(),
                detail: folded(detail, 4),
            };
        }
        // A spate error carried through DataFusion's traits comes back as itself.
        let err = match into_spate(err) {
            Ok(spate) => return spate,
            Err(err) => err,
        };
        match err.find_root() {
            DataFusionError::External(e) => {
                if let Some(inner) = e.downcast_ref::<SpateError>() {
                    return clone_message(inner);
                }
            }
            DataFusionError::IoError(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            _ => {}
        }
        SpateError::DataFusion(err)
    }

    /// The error under any statement context.
    pub fn root(&self) -> &SpateError {
        match self {
            SpateError::Statement { source, .. } => source.root(),
            other => other,
        }
    }

    /// Attaches a script statement's origin and line to this error.
    pub fn at_statement(self, origin: &str, line: usize) -> Self {
        match self {
            already @ SpateError::Statement { .. } => already,
            other => SpateError::Statement {
                origin: origin.to_string(),
                line,
                source: Box::new(other),
            },
        }
    }
}

impl From<DataFusionError> for SpateError {
    fn from(err: DataFusionError) -> Self {
        SpateError::from_datafusion(err, None)
    }
}

impl From<datafusion::arrow::error::ArrowError> for SpateError {
    fn from(err: datafusion::arrow::error::ArrowError) -> Self {
        SpateError::DataFusion(DataFusionError::ArrowError(Box::new(err), None))
    }
}

impl From<SpateError> for DataFusionError {
    fn from(err: SpateError) -> Self {
        match err {
            SpateError::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// The spate, Delta or BigQuery error `err` carries as `External` (under any `Context`),
/// moved out; or `err`.
fn into_spate(err: DataFusionError) -> std::result::Result<SpateError, DataFusionError> {
    match err {
        DataFusionError::External(e) => {
            let e = match e.downcast::<SpateError>() {
                Ok(spate) => return Ok(*spate),
                Err(e) => e,
            };
            let e = match e.downcast::<spate_delta::DeltaError>() {
                Ok(delta) => return Ok(SpateError::Delta(*delta)),
                Err(e) => e,
            };
            match e.downcast::<spate_bigquery::BigQueryError>() {
                Ok(bigquery) => Ok(SpateError::BigQuery(*bigquery)),
                Err(e) => Err(DataFusionError::External(e)),
            }
        }
        DataFusionError::Context(context, inner) => {
            into_spate(*inner).map_err(|inner| DataFusionError::Context(context, Box::new(inner)))
        }
        other => Err(other),
    }
}

/// A spate error shared inside DataFusion (under an `Arc`) comes back as a plain message,
/// with the same text: the original cannot be moved out of the shared box.
fn clone_message(err: &SpateError) -> SpateError {
    SpateError::DataFusion(DataFusionError::Plan(err.to_string()))
}

/// The first `lines` non-empty lines of `text`, trimmed, on one line (the memory pool
/// lists its largest consumers one per line after its first).
fn folded(text: &str, lines: usize) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(lines)
        .collect();
    parts.join(" ").trim_end_matches(':').to_string()
}

/// DataFusion's messages carry prefixes ("Error during planning: ", "External error: ") and
/// sometimes a backtrace or hint block; users get the cause, on one line.
fn datafusion_message(err: &DataFusionError) -> String {
    let root = err.find_root();
    let text = match root {
        DataFusionError::Plan(msg) | DataFusionError::Execution(msg) => msg.clone(),
        DataFusionError::SQL(e, _) => e.to_string(),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        DataFusionError::ArrowError(e, _) => e.to_string(),
        DataFusionError::ParquetError(e) => format!("Parquet: {e}"),
        DataFusionError::ObjectStore(e) => {
            spate_connectors::object_stores::store_error_message(e.as_ref())
        }
        DataFusionError::IoError(e) => e.to_string(),
        DataFusionError::NotImplemented(msg) => format!("not supported: {msg}"),
        DataFusionError::External(e) => e.to_string(),
        other => other.strip_backtrace(),
    };
    let one_line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    spate_connectors::object_stores::describe_store_error(&one_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_exhausted_names_the_limit() {
        let err = DataFusionError::Context(
            "join".into(),
            Box::new(DataFusionError::ResourcesExhausted(
                "Failed to allocate 10 MB for HashJoinInput".into(),
            )),
        );
        let msg = SpateError::from_datafusion(err, Some("64.0 MiB")).to_string();
        assert!(msg.contains("64.0 MiB memory limit"), "{msg}");
        assert!(msg.contains("HashJoinInput"), "{msg}");
        assert!(msg.contains("spate.memory_limit"), "{msg}");
    }

    #[test]
    fn statement_context_is_not_nested_twice() {
        let err = SpateError::PathNotFound { path: "x".into() }
            .at_statement("a.sql", 3)
            .at_statement("b.sql", 9);
        assert_eq!(err.to_string(), "a.sql:3: path not found: x");
    }

    #[test]
    fn datafusion_messages_are_one_line() {
        let err = SpateError::from(DataFusionError::Plan("table 'x' not found\nmore".into()));
        assert_eq!(err.to_string(), "table 'x' not found more");
    }
}
