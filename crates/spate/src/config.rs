//! Session options and their defaults.
//!
//! Every knob a user can turn lives in [`SessionOptions`], with its default taken from the
//! machine ([`crate::system`]). Sizes are written the way people write them (`512MiB`,
//! `2GiB`, `1.5G`) and parsed by [`ByteSize`].

use std::fmt;
use std::str::FromStr;

use spate_connectors::object_stores::StoreConfig;

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
                reason: "expected spate or datafusion".into(),
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
}

impl SessionOptions {
    /// The settings spate's executor runs with.
    pub fn executor_config(&self) -> spate_executor::ExecutorConfig {
        spate_executor::ExecutorConfig {
            threads: self.threads,
            shuffle_partitions: self.shuffle_partitions,
            adaptive: self.adaptive,
        }
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            memory_limit: system::default_memory_limit(),
            threads: system::available_cores(),
            executor: ExecutorKind::default(),
            settings: Vec::new(),
            params: Vec::new(),
            storage: StoreConfig::default(),
            shuffle_partitions: None,
            spill_dir: None,
            adaptive: true,
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
    fn parses_executor() {
        assert_eq!(
            "DataFusion".parse::<ExecutorKind>().ok(),
            Some(ExecutorKind::DataFusion)
        );
        assert!("spark".parse::<ExecutorKind>().is_err());
    }
}
