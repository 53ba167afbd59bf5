//! moto for the CLI's tests: the library's integration-test helpers, included by path so
//! both test binaries start it the same way (see `crates/spate/tests/integration/emulators/`).

#[path = "../../../spate/tests/integration/emulators/moto.rs"]
#[allow(dead_code)] // Not every helper is used here.
mod moto;
#[path = "../../../spate/tests/integration/emulators/server.rs"]
#[allow(dead_code)]
mod server;

pub use moto::Moto;
use server::{free_port, http, stop, wait_for_port};
