//! Real object-store servers on 127.0.0.1 for the tests, started and stopped by the tests:
//! moto (S3), Azurite (Azure Blob), fake-gcs-server (GCS, behind a proxy that makes it
//! take object_store's uploads) and bqemulator (BigQuery), plus [`FaultProxy`], a small TCP proxy that fails requests
//! on purpose. `./scripts/test.sh` installs the servers; a
//! missing one fails the test with how to install it (never a silent pass). The CLI's
//! tests start moto with [`moto`] and [`server`] too (by path).

mod azurite;
pub mod bqemulator;
mod fake_gcs;
mod fake_gcs_proxy;
mod fault_proxy;
mod http1;
mod moto;
mod server;

pub use azurite::Azurite;
pub use bqemulator::BqEmulator;
pub use fake_gcs::FakeGcs;
pub use fault_proxy::{Fault, FaultProxy};
pub use moto::Moto;
use server::{find_program, stop, wait_for_port};
pub use server::{free_port, http, http_request};
