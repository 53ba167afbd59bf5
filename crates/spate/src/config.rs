//! spate's settings: one DataFusion configuration extension, [`SpateConfig`].
//!
//! Every setting is a typed field with a default and a doc comment, under the prefix
//! `spate.` (`spate.shuffle_partitions`). All ways of setting one take the same path,
//! DataFusion's `ConfigOptions::set`: the builder's typed methods and
//! [`crate::SessionBuilder::config`], the `[spate]` table of `spate.toml`, the command
//! line's flags (each mapped to its key), and `SET spate.x = ...` in SQL. The settings are
//! part of the session's DataFusion config, so `SHOW ALL` and
//! `information_schema.df_settings` list them, and the executor reads them from the
//! statement's task context when it runs (a `SET` applies from the next statement on).
//! Settings marked *read when the session is built* size the session itself (its memory
//! pool, threads, spill directory, executor) and are fixed from then on.
//!
//! `docs/configuration.md` is generated from this extension (see the test
//! `configuration_doc_is_current`).

use std::str::FromStr;

use datafusion::common::{config_field, extensions_options};
use datafusion::config::{ConfigExtension, ExtensionOptions};
use spate_connectors::object_stores::StoreConfig;
use spate_executor::{FaultInjection, Fraction};

use crate::dialect::SqlDialect;
use crate::error::SpateError;
use crate::report::ReportRates;
use crate::spark_settings::SparkSettings;

pub use spate_connectors::ByteSize;

extensions_options! {
    /// spate's settings, keys `spate.<name>`; see the module doc.
    pub struct SpateConfig {
        /// The most memory queries may use together before operators spill to disk, e.g.
        /// `512MiB` or `2GiB`. Default: 70% of the memory available (cgroup limits
        /// included), at least 64 MiB. Read when the session is built.
        pub memory_limit: Option<ByteSize>, default = None
        /// Worker threads, and the partitions plans are split into (at least 1). Default:
        /// the cores this process may use. Read when the session is built.
        pub threads: Option<usize>, default = None
        /// Which executor runs queries: `spate` or `datafusion` (a cluster is chosen by
        /// its URL, `Session::builder().cluster(url)` or `--cluster`). Read when the
        /// session is built.
        pub executor: ExecutorKind, default = ExecutorKind::Spate
        /// Where spill files go. Default: the system's temporary directory. Read when the
        /// session is built.
        pub spill_dir: Option<String>, default = None
        /// Reduce partitions of every shuffle of spate's executor (at least 1). Default:
        /// chosen per query from the memory limit and the bytes its scans read.
        pub shuffle_partitions: Option<usize>, default = None
        /// Re-plan queries from the sizes their stages actually produce (spate's
        /// executor): a partitioned join whose build side turns out small becomes a
        /// broadcast join, small reduce partitions are read together and skewed ones in
        /// slices.
        pub adaptive: bool, default = true
        /// The largest build side, e.g. `32MiB`, for which adaptive execution turns a
        /// partitioned join into a broadcast join. Default: an eighth of the memory
        /// limit, at most 64 MiB.
        pub broadcast_threshold: Option<ByteSize>, default = None
        /// When the stage that builds a hash join's input is done, filter the join's
        /// probe side by the build keys' range (and the keys themselves, when few)
        /// before it is scanned and shuffled (spate's executor). Off until measured.
        pub runtime_filters: bool, default = false
        /// How many times spate's executor retries a failed task before the query fails
        /// (0: never). Errors no retry can fix (SQL, types, arithmetic, a missing path)
        /// fail at once.
        pub task_retries: usize, default = spate_executor::DEFAULT_TASK_RETRIES
        /// Keep every task attempt's figures (spate's executor): job reports draw them as
        /// the task timeline and the task-time spread. Off, stages keep only their
        /// totals. Costs under 2% of a run's time (`docs/benchmarks.md`).
        pub task_timeline: bool, default = true
        /// Fault injection, for testing: the fraction of task attempts made to fail
        /// (0 to 1). Never read from the environment (see
        /// `SessionBuilder::fault_injection_from_env`).
        pub inject_task_failures: Fraction, default = Fraction::default()
        /// Fault injection, for testing: the fraction of shuffle blocks corrupted or lost
        /// (0 to 1).
        pub inject_shuffle_corruption: Fraction, default = Fraction::default()
        /// Fault injection, for testing: the seed that picks which attempts and blocks;
        /// the same seed, plan and data give the same faults.
        pub inject_seed: u64, default = 0
        /// The SQL dialect statements are written in: `datafusion` or `spark` (Spark SQL's
        /// parser, `CREATE TEMPORARY VIEW`; a session built with it also knows Spark's
        /// names of functions such as `array`). See `docs/spark-sql.md`.
        pub dialect: SqlDialect, default = SqlDialect::DataFusion
        /// The rates job reports (`--report`, `docs/report.md`) price a run at,
        /// `spate.report.*`.
        pub report: ReportRates, default = ReportRates::default()
    }
}

/// [`SpateConfig`] as registered with DataFusion: the same settings, listed by full key.
///
/// The entries `extensions_options!` makes are named by field alone (`shuffle_partitions`),
/// so `SHOW ALL` would list them unprefixed and Ballista, which sends a session's entries
/// to the scheduler by name, could not set them back; this wrapper names them
/// `spate.shuffle_partitions`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpateExtension(pub SpateConfig);

impl ExtensionOptions for SpateExtension {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        self.0.set(key, value)
    }

    fn entries(&self) -> Vec<datafusion::config::ConfigEntry> {
        self.0
            .entries()
            .into_iter()
            .map(|mut entry| {
                entry.key = format!("{}.{}", Self::PREFIX, entry.key);
                entry
            })
            .collect()
    }
}

impl ConfigExtension for SpateExtension {
    const PREFIX: &'static str = "spate";
}

/// `config` with spate's settings registered (their defaults): what a cluster's scheduler
/// and executors set each statement's settings on, so that its `spate.*` keys are kept
/// (Ballista drops, silently, keys that no registered extension takes).
///
/// ```
/// let mut config = spate::register_settings(datafusion::prelude::SessionConfig::new());
/// assert!(config.options_mut().set("spate.shuffle_partitions", "8").is_ok());
/// assert!(config.options_mut().set("spate.no_such_setting", "8").is_err());
/// ```
pub fn register_settings(
    config: datafusion::prelude::SessionConfig,
) -> datafusion::prelude::SessionConfig {
    config.with_option_extension(SpateExtension::default())
}

impl SpateConfig {
    /// The faults to inject; `None` when there are none.
    pub fn faults(&self) -> Option<FaultInjection> {
        let faults = FaultInjection {
            task_failures: self.inject_task_failures,
            shuffle_corruption: self.inject_shuffle_corruption,
            seed: self.inject_seed,
        };
        (faults.task_failures.get() > 0.0 || faults.shuffle_corruption.get() > 0.0)
            .then_some(faults)
    }

    /// The settings spate's executor runs a statement with; `threads` is the session's.
    pub fn executor_config(&self, threads: usize) -> spate_executor::ExecutorConfig {
        let bytes =
            |size: Option<ByteSize>| size.map(|s| usize::try_from(s.bytes()).unwrap_or(usize::MAX));
        spate_executor::ExecutorConfig {
            threads,
            shuffle_partitions: self.shuffle_partitions.map(|n| n.max(1)),
            adaptive: self.adaptive,
            broadcast_threshold: bytes(self.broadcast_threshold),
            runtime_filters: self.runtime_filters,
            task_retries: self.task_retries,
            task_timeline: self.task_timeline,
            faults: self.faults(),
        }
    }

    /// Every setting with its default and description, in declaration order (the
    /// defaults of a fresh extension, not of a built session).
    /// The settings held in a session's DataFusion options (the defaults when the
    /// extension is not registered).
    /// A Spark script's `SET spark.sql.shuffle.partitions` stands for
    /// `spate.shuffle_partitions` when that is not set.
    pub(crate) fn of(options: &datafusion::config::ConfigOptions) -> SpateConfig {
        let mut config: SpateConfig = options
            .extensions
            .get::<SpateExtension>()
            .map(|e| e.0.clone())
            .unwrap_or_default();
        if config.shuffle_partitions.is_none() {
            config.shuffle_partitions =
                SparkSettings::of(options).and_then(SparkSettings::shuffle_partitions);
        }
        config
    }

    pub fn documented() -> Vec<datafusion::config::ConfigEntry> {
        SpateConfig::default().entries()
    }
}

/// Which engine runs physical plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutorKind {
    /// spate's own executor.
    #[default]
    Spate,
    /// DataFusion's streaming executor, for comparison and as an escape hatch.
    DataFusion,
    /// A cluster's executors (Apache DataFusion Ballista), chosen with
    /// [`crate::SessionBuilder::cluster`].
    Cluster,
}

impl FromStr for ExecutorKind {
    type Err = SpateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "spate" => Ok(ExecutorKind::Spate),
            "datafusion" => Ok(ExecutorKind::DataFusion),
            _ => Err(SpateError::InvalidOption {
                option: "executor".into(),
                value: text.to_string(),
                reason: "expected spate or datafusion (a cluster is chosen by its URL: \
                         --cluster df://HOST:PORT)"
                    .into(),
            }),
        }
    }
}

// The executor is a setting: `spate.executor = datafusion`.
config_field!(ExecutorKind, value => value.parse::<ExecutorKind>()
    .map_err(|e| datafusion::error::DataFusionError::Configuration(match e {
        SpateError::InvalidOption { reason, .. } => reason,
        other => other.to_string(),
    }))?);

impl std::fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExecutorKind::Spate => "spate",
            ExecutorKind::DataFusion => "datafusion",
            ExecutorKind::Cluster => "cluster",
        })
    }
}

/// What a [`crate::Session`] was built with: the settings read when it was built, resolved
/// (defaults taken from the machine), and what is not a setting. The settings that apply
/// per statement are in [`crate::Session::config`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The most memory queries may use; operators spill to disk beyond it
    /// (`spate.memory_limit`).
    pub memory_limit: ByteSize,
    /// Worker threads, and the number of partitions plans are split into
    /// (`spate.threads`).
    pub threads: usize,
    /// Which executor runs queries (`spate.executor`, or a cluster).
    pub executor: ExecutorKind,
    /// The cluster statements run on (`df://HOST:PORT`), when the executor is
    /// [`ExecutorKind::Cluster`].
    pub cluster: Option<spate_cluster::ClusterUrl>,
    /// Where spill files go; `None` is the system's temp directory (`spate.spill_dir`).
    pub spill_dir: Option<std::path::PathBuf>,
    /// Values for `${name}` in SQL run through [`crate::Session::run_script`].
    pub params: Vec<(String, String)>,
    /// Object-store settings per URL prefix (the `[[stores]]` of `spate.toml`).
    pub storage: StoreConfig,
}

/// The environment variable for the retries of a failed task, read by
/// [`crate::SessionBuilder::fault_injection_from_env`] only.
pub const ENV_TASK_RETRIES: &str = "SPATE_TASK_RETRIES";
/// The environment variable for the fraction of task attempts to fail.
pub const ENV_INJECT_TASK_FAILURES: &str = "SPATE_INJECT_TASK_FAILURES";
/// The environment variable for the fraction of shuffle blocks to corrupt.
pub const ENV_INJECT_SHUFFLE_CORRUPTION: &str = "SPATE_INJECT_SHUFFLE_CORRUPTION";
/// The environment variable for the seed that picks the faults.
pub const ENV_INJECT_SEED: &str = "SPATE_INJECT_SEED";

/// The keys [`crate::SessionBuilder::fault_injection_from_env`] sets, by the environment
/// variable they come from.
pub(crate) const FAULT_ENV: [(&str, &str); 4] = [
    (ENV_INJECT_TASK_FAILURES, "spate.inject_task_failures"),
    (
        ENV_INJECT_SHUFFLE_CORRUPTION,
        "spate.inject_shuffle_corruption",
    ),
    (ENV_INJECT_SEED, "spate.inject_seed"),
    (ENV_TASK_RETRIES, "spate.task_retries"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_through_the_extension() {
        let mut config = SpateConfig::default();
        config.set("memory_limit", "2G").unwrap();
        config.set("shuffle_partitions", "8").unwrap();
        config.set("executor", "DataFusion").unwrap();
        config.set("inject_task_failures", "0.25").unwrap();
        assert_eq!(config.memory_limit, Some(ByteSize::gib(2)));
        assert_eq!(config.shuffle_partitions, Some(8));
        assert_eq!(config.executor, ExecutorKind::DataFusion);
        assert_eq!(config.faults().map(|f| f.task_failures.get()), Some(0.25));
        for (key, bad) in [
            ("memory_limit", "lots"),
            ("executor", "spark"),
            ("inject_task_failures", "1.5"),
            ("adaptive", "maybe"),
            ("no_such_setting", "1"),
        ] {
            assert!(config.set(key, bad).is_err(), "{key} = {bad}");
        }
    }

    /// A cluster's servers keep a client's `spate.*` settings: what the client's options
    /// list (Ballista sends them as key-value pairs), set on a config from
    /// [`register_settings`] (as Ballista sets them, ignoring errors), reads back the same.
    #[test]
    fn settings_survive_the_trip_to_a_cluster() {
        let mut client = SpateConfig::default();
        client.set("shuffle_partitions", "8").unwrap();
        client.set("adaptive", "false").unwrap();
        client.set("memory_limit", "2GiB").unwrap();
        client.set("executor", "datafusion").unwrap();
        let sent = datafusion::prelude::SessionConfig::new()
            .with_option_extension(SpateExtension(client.clone()));
        let mut server = register_settings(datafusion::prelude::SessionConfig::new());
        for entry in sent.options().entries() {
            if let Some(value) = entry.value {
                let _ = server.options_mut().set(&entry.key, &value);
            }
        }
        let received = SpateConfig::of(server.options());
        assert_eq!(received.shuffle_partitions, Some(8));
        assert!(!received.adaptive);
        assert_eq!(received.memory_limit, Some(ByteSize::gib(2)));
        assert_eq!(received.executor, ExecutorKind::DataFusion);
    }

    #[test]
    fn every_setting_is_documented() {
        let entries = SpateConfig::documented();
        assert!(entries.len() >= 11, "{entries:?}");
        for entry in &entries {
            assert!(entry.description.len() > 20, "{}", entry.key);
        }
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"shuffle_partitions") && keys.contains(&"spill_dir"));
    }

    /// Where the generated settings reference lives.
    fn configuration_doc() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md")
    }

    /// `docs/configuration.md`, rendered from the extension's entries.
    fn render_configuration_doc() -> String {
        let mut doc = String::from(
            "# Configuration\n\n\
             <!-- Generated from `SpateConfig` (crates/spate/src/config.rs); do not edit. \
             Regenerate with `SPATE_UPDATE_DOCS=1 cargo test -p spate --lib \
             configuration_doc_is_current`. -->\n\n\
             spate's settings are one DataFusion configuration extension, keys `spate.*`. \
             They are set, each later way overriding the earlier ones key by key:\n\n\
             1. in `spate.toml` (the working directory's, or `--config PATH`), in its \
             `[spate]` table (`shuffle_partitions = 8`); its `[datafusion.*]` tables set \
             DataFusion's options the same way;\n\
             2. by the command line's flags (`--shuffle-partitions 8`, see \
             [the CLI guide](cli.md)) and their environment variables;\n\
             3. in the library, by `Session::builder()`'s methods \
             (`.shuffle_partitions(8)`) or keys (`.config(\"spate.shuffle_partitions\", \"8\")`);\n\
             4. in SQL, by `SET spate.shuffle_partitions = 8`, from the next statement on.\n\n\
             `SHOW ALL` and `information_schema.df_settings` list them with their current \
             values. Sizes are written `512MiB`, `2G` or `1GB` (all binary multiples). \
             Settings read when the session is built size the session itself and do not \
             change after.\n\n\
             | key | default | description |\n|---|---|---|\n",
        );
        for entry in SpateConfig::documented() {
            let default = entry.value.map_or("none".to_string(), |v| format!("`{v}`"));
            doc.push_str(&format!(
                "| `spate.{}` | {default} | {} |\n",
                entry.key,
                entry.description.replace('|', "\\|")
            ));
        }
        doc
    }

    /// The committed `docs/configuration.md` is what the extension renders; with
    /// `SPATE_UPDATE_DOCS=1` the test writes it instead.
    #[test]
    fn configuration_doc_is_current() {
        let rendered = render_configuration_doc();
        let path = configuration_doc();
        if std::env::var_os("SPATE_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "docs/configuration.md is stale: run `SPATE_UPDATE_DOCS=1 cargo test -p spate --lib \
             configuration_doc_is_current` and commit the result"
        );
    }

    #[test]
    fn parses_executor() {
        assert_eq!(
            "DataFusion".parse::<ExecutorKind>().ok(),
            Some(ExecutorKind::DataFusion)
        );
        assert!("spark".parse::<ExecutorKind>().is_err());
        assert_eq!(ExecutorKind::DataFusion.to_string(), "datafusion");
    }
}
