//! Integration tests of the `spate` binary: the real executable on real files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli {
    pub mod common;
    mod delta;
    mod demo;
    mod errors;
    mod faults;
    mod pipeline;
    mod query;
}
