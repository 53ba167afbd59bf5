//! Sizes and counts as people write them: the one parser of each for every spate crate.
//!
//! Sizes (`512MiB`, `2G`, `1GB`, `1.5 GiB`, `4096`) become a [`ByteSize`]; counts (`16`)
//! become a `u64` through [`parse_count`]. Settings (`spate.memory_limit`), table options
//! (`store.max_concurrent_requests`), Delta options (`targetFileSize`) and command-line
//! flags all go through these two, so a value means the same everywhere. This crate is
//! the lowest one the others share, which is why they live here.
//!
//! Units are binary multiples whatever their spelling (`K`, `KB` and `KiB` are all 1024),
//! case-insensitive, with blanks allowed between the number and the unit.

use std::fmt;
use std::str::FromStr;

use crate::error::{ConnectorError, Result};

/// What a size must look like, for error messages.
const SIZE_EXPECTED: &str = "a size such as 512MiB or 2GiB (units B, KiB, MiB, GiB, TiB)";

/// A number of bytes, parsed from and shown as text like `512MiB` or `2GiB`.
///
/// ```
/// use spate_connectors::ByteSize;
/// assert_eq!("512MiB".parse::<ByteSize>().unwrap().bytes(), 512 * 1024 * 1024);
/// assert_eq!("2g".parse::<ByteSize>().unwrap().bytes(), 2 * 1024 * 1024 * 1024);
/// assert_eq!("1GB".parse::<ByteSize>().unwrap(), ByteSize::gib(1));
/// assert_eq!(ByteSize(3 * 1024 * 1024 * 1024).to_string(), "3.0 GiB");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` mebibytes.
    ///
    /// ```
    /// assert_eq!(spate_connectors::ByteSize::mib(2).bytes(), 2 * 1024 * 1024);
    /// ```
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    /// `n` gibibytes.
    ///
    /// ```
    /// assert_eq!(spate_connectors::ByteSize::gib(1).to_string(), "1.0 GiB");
    /// ```
    pub const fn gib(n: u64) -> Self {
        ByteSize(n << 30)
    }

    /// The number of bytes.
    ///
    /// ```
    /// assert_eq!(spate_connectors::ByteSize(1536).bytes(), 1536);
    /// ```
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = ConnectorError;

    /// Accepts a number (fractions too) with an optional unit: B, K/KB/KiB, M/MB/MiB,
    /// G/GB/GiB, T/TB/TiB. A size of less than one byte is an error.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || ConnectorError::InvalidValue {
            value: text.to_string(),
            expected: SIZE_EXPECTED.to_string(),
        };
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(bad()),
        };
        let bytes = number * multiplier as f64;
        if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
            return Err(ConnectorError::InvalidValue {
                value: text.to_string(),
                expected: "a size of at least one byte".into(),
            });
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

// A size is a DataFusion setting too (`SET spate.memory_limit = '2GiB'`); it is shown as
// `Display` writes it, which parses back to the same size (to a tenth of its unit).
datafusion::common::config_field!(ByteSize, value => value.parse::<ByteSize>()
    .map_err(|e| datafusion::error::DataFusionError::Configuration(match e {
        ConnectorError::InvalidValue { expected, .. } => format!("expected {expected}"),
        other => other.to_string(),
    }))?);

/// A whole number of at least `min` (a count of requests, retries, partitions).
///
/// ```
/// assert_eq!(spate_connectors::parse_count(" 16 ", 1).unwrap(), 16);
/// assert!(spate_connectors::parse_count("0", 1).is_err());
/// assert!(spate_connectors::parse_count("many", 0).is_err());
/// ```
pub fn parse_count(text: &str, min: u64) -> Result<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| ConnectorError::InvalidValue {
            value: text.to_string(),
            expected: match min {
                0 => "a whole number".to_string(),
                min => format!("a whole number of at least {min}"),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_in_every_spelling() {
        let parse = |s: &str| s.parse::<ByteSize>().map(ByteSize::bytes).ok();
        assert_eq!(parse("1024"), Some(1024));
        assert_eq!(parse("1.5 GiB"), Some(3 << 29));
        assert_eq!(parse("64kb"), Some(64 << 10));
        assert_eq!(parse("512MiB"), Some(512 << 20));
        assert_eq!(parse("2G"), Some(2 << 30));
        assert_eq!(parse("1GB"), Some(1 << 30));
        assert_eq!(parse(" 3 t "), Some(3 << 40));
        for bad in ["lots", "12 parsecs", "0", "0.1", "", "-1MiB", "1e400"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn errors_say_what_a_size_looks_like() {
        let err = "lots".parse::<ByteSize>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid value 'lots': expected a size such as 512MiB or 2GiB (units B, KiB, MiB, GiB, TiB)"
            )
        );
    }

    #[test]
    fn displays_sizes_that_parse_back() {
        assert_eq!(ByteSize(512).to_string(), "512 B");
        assert_eq!(ByteSize(512 << 20).to_string(), "512.0 MiB");
        for size in [ByteSize(512), ByteSize::mib(96), ByteSize::gib(3)] {
            assert_eq!(size.to_string().parse::<ByteSize>().ok(), Some(size));
        }
    }

    #[test]
    fn counts_have_a_floor() {
        assert_eq!(parse_count("0", 0).ok(), Some(0));
        let err = parse_count("0", 1).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid value '0': expected a whole number of at least 1")
        );
        assert!(parse_count("-3", 0).is_err());
        assert!(parse_count("2.5", 0).is_err());
    }
}
