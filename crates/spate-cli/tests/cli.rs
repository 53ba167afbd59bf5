//! Integration tests of the `spate` binary: the real executable on real files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

mod cli {
    mod bigquery;
    mod cluster;
    pub mod common;
    mod delta;
    mod demo;
    mod emulators;
    mod errors;
    mod faults;
    mod object_stores;
    mod pipeline;
    mod query;
    mod report;
    mod shell;
}
