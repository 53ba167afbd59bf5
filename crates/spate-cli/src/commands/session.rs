//! The session of the query flags, shared by `run`, `sql`, `explain` and `shell`: settings
//! from the config file and the flags, parameters, the cluster, the runtime that runs
//! statements, and the tables of `--data` and `--table`.

use std::path::PathBuf;

use spate::{Session, SpateError};
use spate_connectors::object_stores::StoreConfig;
use tokio::runtime::Runtime;

use crate::cli::QueryOptions;
use crate::exit::Failure;

/// The configuration file read from the working directory when `--config` is not given.
const DEFAULT_CONFIG: &str = "spate.toml";

/// The session of the flags: the settings of the config file first, then each flag's
/// key (so flags win), then the cluster and the parameters. A bad value is a usage error
/// naming the flag it came from.
pub fn build_session(options: &QueryOptions) -> Result<Session, Failure> {
    let mut builder = Session::builder();
    let config_path = options.config.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG);
        default.is_file().then_some(default)
    });
    if let Some(path) = config_path {
        let config = StoreConfig::from_file(&path).map_err(|e| Failure::usage(e.to_string()))?;
        builder = builder.storage(config);
    }
    let settings = options.settings();
    for (_, key, value) in &settings {
        builder = builder.config(key, value);
    }
    if let Some(url) = &options.cluster {
        builder = builder.cluster(url);
    }
    for param in &options.params {
        let (name, value) = split_pair(param, "--param", "NAME=VALUE")?;
        builder = builder.param(name, value);
    }
    builder.build().map_err(|err| match err {
        SpateError::InvalidOption {
            option,
            value,
            reason,
        } if settings.iter().any(|(_, key, _)| *key == option) => {
            let flag = settings
                .iter()
                .find_map(|(flag, key, _)| (*key == option).then_some(*flag))
                .unwrap_or_default();
            Failure::usage(format!("invalid {flag} '{value}': {reason}"))
        }
        other => other.into(),
    })
}

fn split_pair<'a>(text: &'a str, flag: &str, shape: &str) -> Result<(&'a str, &'a str), Failure> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value)),
        _ => Err(Failure::usage(format!(
            "invalid {flag} '{text}': expected {shape}"
        ))),
    }
}

/// A path named on the command line that does not exist is a usage error.
fn registration_failure(err: SpateError) -> Failure {
    match err {
        SpateError::PathNotFound { .. } => Failure::usage(err.to_string()),
        other => other.into(),
    }
}

/// The runtime statements run on: one worker thread per thread of the session.
pub fn runtime(session: &Session) -> Result<Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(session.options().threads)
        .enable_all()
        .build()
        .map_err(|e| Failure::statement(format!("cannot start the runtime: {e}")))
}

/// Checks that the cluster answers (in seconds, before any statement runs), then
/// registers the tables of `--data` and `--table`.
pub async fn register_tables(session: &Session, options: &QueryOptions) -> Result<(), Failure> {
    if let Some(url) = &session.options().cluster {
        spate_cluster::check_reachable(url)
            .await
            .map_err(|e| Failure::statement(e.to_string()))?;
    }
    for dir in &options.data {
        let text = dir.to_string_lossy();
        if text.contains("://") {
            session.register_remote_directory(&text).await?;
            continue;
        }
        session.register_directory(dir).map_err(|e| match e {
            SpateError::PathNotFound { .. } => {
                Failure::usage(format!("--data {}: directory not found", dir.display()))
            }
            other => other.into(),
        })?;
    }
    for table in &options.tables {
        let (name, path) = split_pair(table, "--table", "NAME=PATH")?;
        session
            .register(name, path)
            .await
            .map_err(registration_failure)?;
    }
    Ok(())
}
