//! Log lines of the libraries spate runs on (Ballista's scheduler and executors,
//! DataFusion, tonic), written to standard error by a `tracing` subscriber that also takes
//! the `log` crate's records.
//!
//! The cluster's server processes (`spate cluster ...`) log warnings and errors by
//! default: lost executors, failed and retried tasks, jobs that fail (but not the
//! warning an executor's poll loop repeats twenty times a second while its scheduler is
//! gone). Other commands log nothing unless asked. `RUST_LOG` raises or lowers either, with `tracing`'s target
//! syntax: `RUST_LOG=info`, `RUST_LOG=warn,ballista_scheduler=debug`.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Installs the subscriber: `RUST_LOG`'s filter, or warnings when `by_default`, or
/// nothing. A malformed `RUST_LOG` is reported and replaced by the default.
pub fn install(by_default: bool) {
    let default = || {
        Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("ballista_executor::execution_loop", LevelFilter::ERROR)
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => match text.parse::<Targets>() {
            Ok(filter) => filter,
            Err(e) => {
                eprintln!("spate: ignoring RUST_LOG='{text}' ({e})");
                default()
            }
        },
        _ if by_default => default(),
        _ => return,
    };
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter);
    // Fails only when a subscriber is already installed; the first one stays.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
