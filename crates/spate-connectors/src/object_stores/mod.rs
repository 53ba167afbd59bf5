//! Object stores from URLs.
//!
//! [`StoreRegistry`] is the session's DataFusion object-store registry: when a scan or a
//! write first meets `s3://bucket/...`, it builds the store for `s3://bucket` from
//! [`StoreSettings`] (environment, then `spate.toml` prefixes, then per-table options,
//! later ones winning) and keeps it. Nobody registers a store by hand. Remote stores count
//! their requests and bytes ([`StoreIo`]), have at most `max_concurrent_requests`
//! requests in flight at once, and read ahead of scans that read an object front to back
//! in growing windows of up to `read_ahead_mib`.

mod azurite_store;
mod builder;
mod counting_store;
mod in_flight_store;
mod messages;
mod read_ahead_store;
mod registry;
mod settings;
#[cfg(test)]
mod test_store;

pub use builder::display_url;
pub use counting_store::{CountingStore, StoreIo};
pub use messages::{describe_store_error, store_error_message};
pub use registry::{RegistrySettings, StoreRegistry, is_store_option};
pub use settings::{
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_READ_AHEAD_MIB, StoreConfig, StoreSettings,
};
