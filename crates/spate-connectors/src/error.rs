//! Errors of the connectors. Messages never carry secrets: URLs are shown without user
//! info or query strings, and option values are never printed.

/// The result type of this crate.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// An error of the connectors.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The URL's scheme has no object store.
    #[error(
        "unsupported URL scheme '{scheme}' in {url}: use s3://, s3a://, gs://, az://, abfss://, http(s):// or a local path"
    )]
    UnknownScheme { scheme: String, url: String },

    /// The URL cannot be parsed.
    #[error("malformed URL {url}: {reason}")]
    MalformedUrl { url: String, reason: String },

    /// An option key the store does not know.
    #[error("unknown option '{key}' for {url}")]
    UnknownOption { key: String, url: String },

    /// A setting of spate's with a value it cannot take (setting values are no secrets).
    #[error("invalid option {key} '{value}' for {url}: expected {expected}")]
    InvalidOption {
        key: String,
        value: String,
        url: String,
        expected: String,
    },

    /// The store could not be built from its settings.
    #[error("cannot connect to {url}: {reason}")]
    Store { url: String, reason: String },

    /// A size or count that does not parse (see [`crate::units`]); the caller names the
    /// setting it was given for.
    #[error("invalid value '{value}': expected {expected}")]
    InvalidValue { value: String, expected: String },

    /// The configuration file is unreadable or invalid.
    #[error("{path}: {reason}")]
    Config { path: String, reason: String },
}
