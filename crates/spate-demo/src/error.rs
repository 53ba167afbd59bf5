//! Errors of the `spate-demo` generator.
//!
//! Every variant names what is at fault (the option, the file) so that the message alone tells
//! the user what to fix; the underlying I/O, Arrow or Parquet error is kept as the `source`.

use std::path::PathBuf;

use arrow::error::ArrowError;
use parquet::errors::ParquetError;

/// The result type of the `spate-demo` crate.
pub type Result<T, E = DemoError> = std::result::Result<T, E>;

/// An error raised while validating options or writing the demo data set.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A [`GenerateOptions`](crate::GenerateOptions) field has a value the generator cannot use.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The name of the option, as spelled in `GenerateOptions`.
        option: &'static str,
        /// Why the value was refused, quoting it.
        reason: String,
    },

    /// Creating, removing or renaming a file or directory failed.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory the operation was applied to.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// An in-memory Arrow batch could not be assembled for a file.
    #[error("cannot build the Arrow batch for {}", path.display())]
    Arrow {
        /// The file the batch was meant for.
        path: PathBuf,
        /// Arrow's error.
        source: ArrowError,
    },

    /// Encoding or writing a Parquet file failed.
    #[error("cannot write Parquet file {}", path.display())]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The Parquet writer's error.
        source: ParquetError,
    },

    /// A worker thread panicked; the output directory may be incomplete.
    #[error("a generator worker thread panicked; {} may be incomplete", out.display())]
    WorkerPanicked {
        /// The output directory being written.
        out: PathBuf,
    },
}

impl DemoError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
