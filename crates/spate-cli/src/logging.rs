//! Log lines of the libraries spate runs on (Ballista's scheduler and executors,
//! DataFusion, tonic), written to standard error by a `tracing` subscriber that also takes
//! the `log` crate's records.
//!
//! The cluster's server processes (`spate cluster ...`) log warnings and errors by
//! default: lost executors, failed and retried tasks, jobs that fail (but not the
//! warning an executor's poll loop repeats twenty times a second while its scheduler is
//! gone). Other commands log nothing unless asked. `RUST_LOG` raises or lowers either, with `tracing`'s target
//! syntax: `RUST_LOG=info`, `RUST_LOG=warn,ballista_scheduler=debug`. Whatever it says,
//! the targets where Ballista logs a statement's settings ([`SETTINGS_TARGETS`]) log at
//! `info` at most: those settings hold the object-store credentials a client sends to
//! the cluster.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Where Ballista logs a statement's settings, values included: at `trace` (as it sets
/// them, and an executor as it receives a task) and `debug` (a key it cannot set).
const SETTINGS_TARGETS: [&str; 2] = [
    "ballista_core::extension",
    "ballista_executor::execution_loop",
];

/// `filter`, logging [`SETTINGS_TARGETS`] at `info` at most.
fn without_settings(filter: Targets) -> Targets {
    let Some(debug) = LevelFilter::DEBUG.into_level() else {
        return filter;
    };
    SETTINGS_TARGETS.iter().fold(filter, |filter, target| {
        if filter.would_enable(target, &debug) {
            filter.with_target(*target, LevelFilter::INFO)
        } else {
            filter
        }
    })
}

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
        .with_filter(without_settings(filter));
    // Fails only when a subscriber is already installed; the first one stays.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_never_logged() {
        let level = |filter: LevelFilter| filter.into_level().unwrap();
        for asked in [
            "trace",
            "debug,ballista_core=trace",
            "ballista_executor=trace",
        ] {
            let filter = without_settings(asked.parse::<Targets>().unwrap());
            for target in SETTINGS_TARGETS {
                assert!(
                    !filter.would_enable(target, &level(LevelFilter::DEBUG)),
                    "{asked}: {target}"
                );
            }
            assert!(filter.would_enable(
                "ballista_executor::execution_loop",
                &level(LevelFilter::INFO)
            ));
        }
        let quiet = without_settings("warn".parse::<Targets>().unwrap());
        assert!(!quiet.would_enable("ballista_core::extension", &level(LevelFilter::INFO)));
    }
}
