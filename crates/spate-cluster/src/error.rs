//! Errors of cluster mode, each naming what is at fault: an address, the scheduler's URL,
//! the part of a statement that cannot run on a cluster.

use datafusion::error::DataFusionError;

/// The result type of `spate-cluster`.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// An error of cluster mode.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An address or URL given by the user is malformed.
    #[error("invalid {what} '{value}': {reason}")]
    InvalidAddress {
        what: &'static str,
        value: String,
        reason: String,
    },

    /// The scheduler does not answer.
    #[error("cannot reach the cluster's scheduler at {url}: {reason}")]
    Unreachable { url: String, reason: String },

    /// The scheduler stopped answering while a statement ran on the cluster. What the
    /// statement's tasks had written so far stays where it is (see docs/cluster.md).
    #[error(
        "lost the cluster's scheduler at {url} while the statement ran ({reason}); the \
         statement did not finish"
    )]
    SchedulerLost { url: String, reason: String },

    /// Part of a statement cannot run on a cluster (yet); checked before anything runs.
    #[error("{part} cannot run on a cluster yet: {reason}")]
    Unsupported { part: String, reason: String },

    /// A server could not listen on its address.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },

    /// A process of a local cluster could not be started or stopped.
    #[error("{what}: {reason}")]
    Process { what: String, reason: String },

    /// Ballista's scheduler or executor failed.
    #[error("{role} failed: {reason}")]
    Server { role: &'static str, reason: String },

    /// An error from DataFusion.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl From<ClusterError> for DataFusionError {
    fn from(err: ClusterError) -> Self {
        match err {
            ClusterError::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
