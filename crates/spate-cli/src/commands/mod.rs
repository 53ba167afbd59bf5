//! One module per subcommand.

pub mod cluster;
pub mod demo;
pub mod query;
pub mod session;
pub mod shell;
