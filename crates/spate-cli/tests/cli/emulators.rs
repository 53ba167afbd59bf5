//! moto and bqemulator for the CLI's tests: the library's integration-test helpers, included by path so
//! both test binaries start it the same way (see `crates/spate/tests/integration/emulators/`).

#[path = "../../../spate/tests/integration/emulators/bqemulator.rs"]
#[allow(dead_code)] // Not every helper is used here.
pub mod bqemulator;
#[path = "../../../spate/tests/integration/emulators/moto.rs"]
#[allow(dead_code)] // Not every helper is used here.
mod moto;
#[path = "../../../spate/tests/integration/emulators/server.rs"]
#[allow(dead_code)]
mod server;

pub use bqemulator::BqEmulator;
pub use moto::Moto;
use server::{find_program, http, http_request, listening_port, stop};
