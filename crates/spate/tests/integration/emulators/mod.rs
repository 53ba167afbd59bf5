//! Real object-store servers on 127.0.0.1 for the tests, started and stopped by the tests:
//! moto (S3), Azurite (Azure Blob), fake-gcs-server (GCS, behind a proxy that makes it
//! take object_store's uploads) and bqemulator (BigQuery), plus [`FaultProxy`], a small
//! TCP proxy that fails requests on purpose, and [`ClosedPort`], where nothing listens.
//! Every server binds port 0 and the tests learn the port it got, so tests running in
//! parallel never race for a port. `./scripts/test.sh` installs the servers; a missing
//! one fails the test with how to install it (never a silent pass). The CLI's tests start
//! moto with [`moto`] and [`server`] too (by path).

mod azurite;
pub mod bqemulator;
mod closed_port;
mod fake_gcs;
mod fake_gcs_proxy;
mod fault_proxy;
mod http1;
mod moto;
mod server;

pub use azurite::Azurite;
pub use bqemulator::BqEmulator;
pub use closed_port::ClosedPort;
pub use fake_gcs::FakeGcs;
pub use fault_proxy::{Fault, FaultProxy};
pub use moto::Moto;
use server::{find_program, listening_port, stop};
pub use server::{http, http_request};
