//! Integration tests of the `spate` library, through its public API only. One binary; a
//! module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

mod integration {
    mod bigquery;
    pub mod common;
    mod dataframe;
    mod datafusion_slt;
    mod delta;
    pub mod emulators;
    mod executor;
    pub mod faults;
    mod object_stores;
    mod progress;
    mod scripts;
    mod settings;
    pub mod slt;
    mod tables;
    mod writer;
}
