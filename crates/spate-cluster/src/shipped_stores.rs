//! [`ShippedStores`]: the client's object-store settings, sent with each statement so the
//! scheduler and the executors build the same stores the client would.
//!
//! A client's stores come from its `spate.toml`/`--config` settings per URL prefix and the
//! options of its tables (`CREATE EXTERNAL TABLE ... OPTIONS ('aws.secret_access_key'
//! ...)`), credentials included ([`RegistrySettings`]). Ballista sends a statement's
//! session settings to the scheduler, and the scheduler sends them with every task, as
//! key-value pairs; the only way to the executors' runtimes (which Ballista builds from
//! those settings before it decodes the task) is one of them. So:
//!
//! 1. the client's session holds a [`ShippedStores`] with its registry and no value:
//!    `SHOW ALL` and `information_schema` list nothing of it;
//! 2. when a statement is submitted ([`ship`]), the registry's settings are encoded
//!    (protobuf, hex) into the one entry `spate_stores.settings` of that statement's
//!    settings only;
//! 3. the scheduler and the executors register the extension (their config producer,
//!    [`crate::server_runtime`]), so Ballista keeps the entry, and build their stores from it.
//!
//! The value holds secrets. Ballista logs settings at its `trace` level only (and the one
//! it cannot set at `debug`); the CLI caps those targets at `info` (`spate-cli`'s
//! `logging`), so it never reaches a log. The scheduler's and executors' own environment
//! (`AWS_*`, ...) still applies beneath it, as for a local session.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::prelude::SessionConfig;
use prost::Message;
use spate_connectors::object_stores::{RegistrySettings, StoreRegistry, StoreSettings};

/// The key of the entry, under the extension's prefix.
const KEY: &str = "settings";

/// The object-store settings a statement carries; see the module doc.
#[derive(Clone, Default)]
pub(crate) struct ShippedStores {
    /// The client's registry, whose settings [`ship`] encodes into `encoded`.
    registry: Option<Arc<StoreRegistry>>,
    /// The settings as they travel (on the scheduler and executors: as they came).
    encoded: Option<String>,
}

impl ShippedStores {
    /// The client's extension: its registry, nothing to list.
    pub fn of_client(registry: Arc<StoreRegistry>) -> Self {
        ShippedStores {
            registry: Some(registry),
            encoded: None,
        }
    }
}

impl std::fmt::Debug for ShippedStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShippedStores")
            .field("client", &self.registry.is_some())
            .field("shipped", &self.encoded.is_some())
            .finish()
    }
}

impl ExtensionOptions for ShippedStores {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if key != KEY {
            return Err(DataFusionError::Configuration(format!(
                "unknown setting '{}.{key}'",
                Self::PREFIX
            )));
        }
        decode(value)?;
        self.encoded = Some(value.to_string());
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.encoded
            .iter()
            .map(|value| ConfigEntry {
                key: format!("{}.{KEY}", Self::PREFIX),
                value: Some(value.clone()),
                description: "the client's object-store settings, credentials included \
                              (set by spate for each statement on a cluster)",
            })
            .collect()
    }
}

impl ConfigExtension for ShippedStores {
    const PREFIX: &'static str = "spate_stores";
}

/// `context` with its session's store settings in the statement's settings, when the
/// session is a client with a registry that has any; else `context` as it is.
pub(crate) fn ship(context: Arc<TaskContext>) -> Arc<TaskContext> {
    let registry = context
        .session_config()
        .options()
        .extensions
        .get::<ShippedStores>()
        .and_then(|e| e.registry.clone());
    let Some(settings) = registry.map(|r| r.settings()) else {
        return context;
    };
    if settings == RegistrySettings::default() {
        return context;
    }
    let mut config = context.session_config().clone();
    config.options_mut().extensions.insert(ShippedStores {
        registry: None,
        encoded: Some(encode(&settings)),
    });
    Arc::new(TaskContext::new(
        context.task_id(),
        context.session_id(),
        config,
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        context.runtime_env(),
    ))
}

/// The settings a statement's session config carries, encoded and decoded; `None` when
/// it carries none.
pub(crate) fn shipped(config: &SessionConfig) -> Result<Option<(String, RegistrySettings)>> {
    let encoded = config
        .options()
        .extensions
        .get::<ShippedStores>()
        .and_then(|e| e.encoded.clone());
    match encoded {
        Some(text) => Ok(Some((text.clone(), decode(&text)?))),
        None => Ok(None),
    }
}

/// Registry settings as they travel.
#[derive(Clone, PartialEq, prost::Message)]
struct RegistryNode {
    #[prost(message, repeated, tag = "1")]
    prefixes: Vec<StoreNode>,
    #[prost(message, repeated, tag = "2")]
    buckets: Vec<StoreNode>,
}

/// One [`StoreSettings`] as it travels.
#[derive(Clone, PartialEq, prost::Message)]
struct StoreNode {
    #[prost(string, tag = "1")]
    prefix: String,
    #[prost(string, optional, tag = "2")]
    endpoint: Option<String>,
    #[prost(string, optional, tag = "3")]
    region: Option<String>,
    #[prost(bool, optional, tag = "4")]
    allow_http: Option<bool>,
    #[prost(uint64, optional, tag = "5")]
    retries: Option<u64>,
    #[prost(uint64, optional, tag = "6")]
    timeout_secs: Option<u64>,
    #[prost(uint64, optional, tag = "7")]
    connect_timeout_secs: Option<u64>,
    #[prost(uint64, optional, tag = "8")]
    max_concurrent_requests: Option<u64>,
    #[prost(uint64, optional, tag = "9")]
    read_ahead_mib: Option<u64>,
    #[prost(btree_map = "string, string", tag = "10")]
    options: BTreeMap<String, String>,
}

impl From<&StoreSettings> for StoreNode {
    fn from(s: &StoreSettings) -> Self {
        let wide = |n: Option<usize>| n.map(|n| n as u64);
        StoreNode {
            prefix: s.prefix.clone(),
            endpoint: s.endpoint.clone(),
            region: s.region.clone(),
            allow_http: s.allow_http,
            retries: wide(s.retries),
            timeout_secs: s.timeout_secs,
            connect_timeout_secs: s.connect_timeout_secs,
            max_concurrent_requests: wide(s.max_concurrent_requests),
            read_ahead_mib: s.read_ahead_mib,
            options: s.options.clone(),
        }
    }
}

impl From<StoreNode> for StoreSettings {
    fn from(n: StoreNode) -> Self {
        let narrow = |n: Option<u64>| n.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        StoreSettings {
            prefix: n.prefix,
            endpoint: n.endpoint,
            region: n.region,
            allow_http: n.allow_http,
            retries: narrow(n.retries),
            timeout_secs: n.timeout_secs,
            connect_timeout_secs: n.connect_timeout_secs,
            max_concurrent_requests: narrow(n.max_concurrent_requests),
            read_ahead_mib: n.read_ahead_mib,
            options: n.options,
        }
    }
}

/// `settings` as hex of their protobuf form.
fn encode(settings: &RegistrySettings) -> String {
    let node = RegistryNode {
        prefixes: settings.prefixes.iter().map(StoreNode::from).collect(),
        buckets: settings.buckets.iter().map(StoreNode::from).collect(),
    };
    node.encode_to_vec()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The settings [`encode`] wrote; an error (that quotes nothing of it) when `text` is not
/// such a value.
fn decode(text: &str) -> Result<RegistrySettings> {
    let bad = || {
        DataFusionError::Configuration(format!(
            "{}.{KEY} is not a value spate wrote",
            ShippedStores::PREFIX
        ))
    };
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let node = RegistryNode::decode(bytes.as_slice()).map_err(|_| bad())?;
    Ok(RegistrySettings {
        prefixes: node.prefixes.into_iter().map(Into::into).collect(),
        buckets: node.buckets.into_iter().map(Into::into).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RegistrySettings {
        let store = |prefix: &str| StoreSettings {
            prefix: prefix.into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("us-east-1".into()),
            allow_http: Some(true),
            retries: Some(1),
            timeout_secs: Some(5),
            connect_timeout_secs: None,
            max_concurrent_requests: Some(4),
            read_ahead_mib: Some(0),
            options: BTreeMap::from([("aws_secret_access_key".into(), "s3cr3t".into())]),
        };
        RegistrySettings {
            prefixes: vec![store("s3://lake/")],
            buckets: vec![store("s3://other")],
        }
    }

    /// What a client ships is what a server's session config holds after Ballista set it
    /// from the key-value pairs, and only the shipped config lists it.
    #[test]
    fn settings_travel_as_one_entry() -> Result<()> {
        let registry = Arc::new(StoreRegistry::from_settings(settings()));
        let client = SessionConfig::new().with_option_extension(ShippedStores::of_client(registry));
        assert!(
            client
                .options()
                .entries()
                .iter()
                .all(|e| !e.key.starts_with("spate_stores")),
            "the client's own settings list nothing of it"
        );
        let context = Arc::new(TaskContext::default().with_session_config(client));
        let shipped = ship(context);
        let entries = shipped.session_config().options().entries();
        let entry = entries
            .iter()
            .find(|e| e.key == "spate_stores.settings")
            .and_then(|e| e.value.clone());
        let mut server = SessionConfig::new().with_option_extension(ShippedStores::default());
        server.options_mut().set(
            "spate_stores.settings",
            entry.as_deref().unwrap_or_default(),
        )?;
        let received = shipped_settings_of(&server)?;
        assert_eq!(received, Some(settings()));
        assert!(
            server
                .options_mut()
                .set("spate_stores.settings", "zz")
                .is_err()
        );
        assert!(
            server
                .options_mut()
                .set("spate_stores.other", "00")
                .is_err()
        );
        Ok(())
    }

    fn shipped_settings_of(config: &SessionConfig) -> Result<Option<RegistrySettings>> {
        Ok(shipped(config)?.map(|(_, settings)| settings))
    }

    #[test]
    fn a_client_without_settings_ships_nothing() {
        let registry = Arc::new(StoreRegistry::default());
        let client = SessionConfig::new().with_option_extension(ShippedStores::of_client(registry));
        let context = Arc::new(TaskContext::default().with_session_config(client));
        let shipped = ship(Arc::clone(&context));
        assert!(Arc::ptr_eq(&shipped, &context));
    }
}
