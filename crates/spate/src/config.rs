//! Session options and their defaults.
//!
//! Every knob a user can turn lives in [`SessionOptions`], with its default taken from the
//! machine ([`crate::system`]). Sizes are written the way people write them (`512MiB`,
//! `2GiB`, `1.5G`) and parsed by [`ByteSize`].

use std::fmt;
use std::str::FromStr;

use spate_connectors::object_stores::StoreConfig;
use spate_executor::{FaultInjection, Fraction};

use crate::error::SpateError;
use crate::system;

/// A number of bytes, parsed from and shown as text like `512MiB` or `2GiB`.
///
/// ```
/// use spate::ByteSize;
/// assert_eq!("512MiB".parse::<ByteSize>().unwrap().bytes(), 512 * 1024 * 1024);
/// assert_eq!("2g".parse::<ByteSize>().unwrap().bytes(), 2 * 1024 * 1024 * 1024);
/// assert_eq!(ByteSize(3 * 1024 * 1024 * 1024).to_string(), "3.0 GiB");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` mebibytes.
    ///
    /// ```
    /// assert_eq!(spate::ByteSize::mib(2).bytes(), 2 * 1024 * 1024);
    /// ```
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    /// `n` gibibytes.
    ///
    /// ```
    /// assert_eq!(spate::ByteSize::gib(1).to_string(), "1.0 GiB");
    /// ```
    pub const fn gib(n: u64) -> Self {
        ByteSize(n << 30)
    }

    /// The number of bytes.
    ///
    /// ```
    /// assert_eq!(spate::ByteSize(1536).bytes(), 1536);
    /// ```
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = SpateError;

    /// Accepts a number with an optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB
    /// (all binary multiples, case-insensitive, blanks allowed between).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| SpateError::InvalidOption {
            option: "size".into(),
            value: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| bad("expected a number with a unit such as 512MiB or 2GiB"))?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(bad("unknown unit; use B, KiB, MiB, GiB or TiB")),
        };
        let bytes = number * multiplier as f64;
        if !bytes.is_finite() || bytes < 1.0 {
            return Err(bad("must be at least one byte"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit < UNITS.len() - 1 {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
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

/// The options of a [`crate::Session`].
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The most memory queries may use; operators spill to disk beyond it.
    /// Default: [`system::default_memory_limit`].
    pub memory_limit: ByteSize,
    /// Worker threads, and the number of partitions plans are split into.
    /// Default: the cores this process may use.
    pub threads: usize,
    /// Which executor runs queries.
    pub executor: ExecutorKind,
    /// The cluster statements run on (`df://HOST:PORT`), when the executor is
    /// [`ExecutorKind::Cluster`].
    pub cluster: Option<spate_cluster::ClusterUrl>,
    /// DataFusion settings (`datafusion.*` keys) applied on top of spate's defaults.
    pub settings: Vec<(String, String)>,
    /// Values for `${name}` in SQL run through [`crate::Session::run_script`].
    pub params: Vec<(String, String)>,
    /// Object-store settings per URL prefix (the contents of `spate.toml`).
    pub storage: StoreConfig,
    /// Reduce partitions of every shuffle (spate's executor); `None` lets the plan decide.
    pub shuffle_partitions: Option<usize>,
    /// Where spill files go; `None` is the system's temp directory.
    pub spill_dir: Option<std::path::PathBuf>,
    /// Re-plan queries from the sizes their stages actually produce (spate's executor):
    /// a partitioned join whose build side turns out small becomes a broadcast join.
    /// Default: on.
    pub adaptive: bool,
    /// How many times a failed task is retried (spate's executor) before the query fails;
    /// errors no retry can fix (SQL, types, arithmetic, a missing input path) fail at
    /// once. Default: 3 (so a task runs at most 4 times), or `SPATE_TASK_RETRIES`.
    pub task_retries: usize,
    /// Faults injected on purpose (spate's executor), to check that queries survive them.
    /// Default: none, or what the `SPATE_INJECT_TASK_FAILURES`,
    /// `SPATE_INJECT_SHUFFLE_CORRUPTION` and `SPATE_INJECT_SEED` environment variables
    /// say ([`crate::SessionBuilder::build`] reads them).
    pub faults: FaultInjection,
}

impl SessionOptions {
    /// The settings spate's executor runs with.
    pub fn executor_config(&self) -> spate_executor::ExecutorConfig {
        spate_executor::ExecutorConfig {
            threads: self.threads,
            shuffle_partitions: self.shuffle_partitions,
            adaptive: self.adaptive,
            task_retries: self.task_retries,
            faults: Some(self.faults)
                .filter(|f| f.task_failures.get() > 0.0 || f.shuffle_corruption.get() > 0.0),
        }
    }
}

/// The environment variable for the retries of a failed task.
pub const ENV_TASK_RETRIES: &str = "SPATE_TASK_RETRIES";
/// The environment variable for the fraction of task attempts to fail.
pub const ENV_INJECT_TASK_FAILURES: &str = "SPATE_INJECT_TASK_FAILURES";
/// The environment variable for the fraction of shuffle blocks to corrupt.
pub const ENV_INJECT_SHUFFLE_CORRUPTION: &str = "SPATE_INJECT_SHUFFLE_CORRUPTION";
/// The environment variable for the seed that picks the faults.
pub const ENV_INJECT_SEED: &str = "SPATE_INJECT_SEED";

/// Parses a fraction of attempts or blocks given as option `option`.
pub(crate) fn parse_fraction(option: &str, value: &str) -> Result<Fraction, SpateError> {
    Fraction::parse(value).map_err(|reason| SpateError::InvalidOption {
        option: option.into(),
        value: value.into(),
        reason: format!("expected a fraction between 0 and 1 ({reason})"),
    })
}

/// Parses a fault-injection seed given as option `option`.
pub(crate) fn parse_seed(option: &str, value: &str) -> Result<u64, SpateError> {
    value.trim().parse().map_err(|_| SpateError::InvalidOption {
        option: option.into(),
        value: value.into(),
        reason: "expected a whole number from 0 to 18446744073709551615".into(),
    })
}

/// Retry and fault-injection settings given explicitly (builder, `config` keys, CLI flags); what is
/// not given comes from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FaultSettings {
    pub task_retries: Option<usize>,
    pub task_failures: Option<Fraction>,
    pub shuffle_corruption: Option<Fraction>,
    pub seed: Option<u64>,
}

impl FaultSettings {
    /// The retries given explicitly, else from `SPATE_TASK_RETRIES`, else `None`.
    pub fn task_retries(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<usize>, SpateError> {
        if self.task_retries.is_some() {
            return Ok(self.task_retries);
        }
        env(ENV_TASK_RETRIES)
            .map(|value| {
                value.trim().parse().map_err(|_| SpateError::InvalidOption {
                    option: ENV_TASK_RETRIES.into(),
                    value,
                    reason: "expected a whole number".into(),
                })
            })
            .transpose()
    }

    /// The faults to inject: each setting given explicitly, else from its environment
    /// variable (read through `env`), else none. A bad variable is an error naming it.
    pub fn resolve(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<FaultInjection, SpateError> {
        let fraction = |given: Option<Fraction>, var: &str| match given {
            Some(f) => Ok(f),
            None => env(var).map_or(Ok(Fraction::default()), |v| parse_fraction(var, &v)),
        };
        Ok(FaultInjection {
            task_failures: fraction(self.task_failures, ENV_INJECT_TASK_FAILURES)?,
            shuffle_corruption: fraction(self.shuffle_corruption, ENV_INJECT_SHUFFLE_CORRUPTION)?,
            seed: match self.seed {
                Some(seed) => seed,
                None => env(ENV_INJECT_SEED).map_or(Ok(0), |v| parse_seed(ENV_INJECT_SEED, &v))?,
            },
        })
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            memory_limit: system::default_memory_limit(),
            threads: system::available_cores(),
            executor: ExecutorKind::default(),
            cluster: None,
            settings: Vec::new(),
            params: Vec::new(),
            storage: StoreConfig::default(),
            shuffle_partitions: None,
            spill_dir: None,
            adaptive: true,
            task_retries: spate_executor::DEFAULT_TASK_RETRIES,
            faults: FaultInjection::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        let parse = |s: &str| s.parse::<ByteSize>().map(ByteSize::bytes);
        assert_eq!(parse("1024").ok(), Some(1024));
        assert_eq!(parse("1.5 GiB").ok(), Some(3 << 29));
        assert_eq!(parse("64kb").ok(), Some(64 << 10));
        assert!(parse("lots").is_err());
        assert!(parse("12 parsecs").is_err());
        assert!(parse("0").is_err());
    }

    #[test]
    fn displays_sizes() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(512 << 20).to_string(), "512.0 MiB");
    }

    #[test]
    fn fault_settings_come_from_the_environment_unless_given() {
        let env = |var: &str| match var {
            ENV_INJECT_TASK_FAILURES => Some("0.2".to_string()),
            ENV_INJECT_SEED => Some("42".to_string()),
            _ => None,
        };
        let faults = FaultSettings::default().resolve(env).ok();
        assert_eq!(
            faults.map(|f| (f.task_failures.get(), f.seed)),
            Some((0.2, 42))
        );
        let given = FaultSettings {
            task_failures: Fraction::new(0.5),
            ..FaultSettings::default()
        };
        let faults = given.resolve(env).ok();
        assert_eq!(faults.map(|f| f.task_failures.get()), Some(0.5));
        let bad = |var: &str| (var == ENV_INJECT_SHUFFLE_CORRUPTION).then(|| "1.5".to_string());
        let err = FaultSettings::default()
            .resolve(bad)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid SPATE_INJECT_SHUFFLE_CORRUPTION '1.5': expected a fraction between 0 \
                 and 1 (1.5 is not between 0 and 1)"
            )
        );
    }

    #[test]
    fn parses_executor() {
        assert_eq!(
            "DataFusion".parse::<ExecutorKind>().ok(),
            Some(ExecutorKind::DataFusion)
        );
        assert!("spark".parse::<ExecutorKind>().is_err());
    }
}
