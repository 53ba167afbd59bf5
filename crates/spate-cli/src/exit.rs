//! Exit codes and the one-line error users see.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a statement failed (SQL, data, memory, I/O) |
//! | 2 | the command line is wrong (bad flag or value, a file or directory it names is missing, a malformed `--cluster` URL) |

use spate::SpateError;

/// A statement failed.
pub const STATEMENT: u8 = 1;
/// The command line is wrong.
pub const USAGE: u8 = 2;

/// Why the command failed, and with which exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: USAGE,
            message: message.into(),
        }
    }

    pub fn statement(message: impl Into<String>) -> Self {
        Failure {
            code: STATEMENT,
            message: message.into(),
        }
    }
}

impl From<SpateError> for Failure {
    fn from(err: SpateError) -> Self {
        let code = match err.root() {
            SpateError::InvalidOption { .. }
            | SpateError::UnknownParameter { .. }
            | SpateError::Cluster(spate_cluster::ClusterError::InvalidAddress { .. }) => USAGE,
            _ => STATEMENT,
        };
        let mut message = err.to_string();
        if let Some(hint) = flag_hint(err.root()) {
            message.push_str(&hint);
        }
        Failure { code, message }
    }
}

/// The command line's way to fix `err`, for errors a flag fixes (the library's messages
/// name settings, not flags).
fn flag_hint(err: &SpateError) -> Option<String> {
    match err {
        SpateError::UnknownParameter { name, .. } => {
            Some(format!(" (pass it with --param {name}=VALUE)"))
        }
        SpateError::MemoryLimit { .. } | SpateError::DiskFull { .. } => {
            Some("; on the command line, raise --memory-limit".into())
        }
        _ => None,
    }
}

/// Panics print one line, never a backtrace: a panic is a bug in spate or a library, and
/// the user needs to know what failed, not where in our code.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        eprintln!("error: internal error: {message}");
    }));
}
