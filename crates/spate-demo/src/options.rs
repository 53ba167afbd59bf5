//! What to generate ([`GenerateOptions`]) and how big each table gets ([`Scale`]).

use std::path::PathBuf;

use crate::calendar;
use crate::error::{DemoError, Result};

/// Options of [`generate`](crate::generate).
///
/// The data depends only on `transactions`, `days`, `start_date` and `seed`: any `threads`
/// value produces byte-identical files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Number of rows of the `transactions` fact table (at least 1). Dimension sizes follow
    /// from it.
    pub transactions: u64,
    /// Number of days the transactions are spread over, one `day=` partition each (at least 1,
    /// at most `transactions`).
    pub days: u32,
    /// The first day, as `YYYY-MM-DD`.
    pub start_date: String,
    /// Seed of every random choice.
    pub seed: u64,
    /// Output directory; created if missing. Files of a previous run are replaced.
    pub out: PathBuf,
    /// Worker threads; 0 means [`std::thread::available_parallelism`].
    pub threads: usize,
}

impl Default for GenerateOptions {
    /// 100,000 transactions over the 7 days from 2026-11-17, seed 42, into `cymbal`.
    fn default() -> Self {
        Self {
            transactions: 100_000,
            days: 7,
            start_date: "2026-11-17".to_owned(),
            seed: 42,
            out: PathBuf::from("cymbal"),
            threads: 0,
        }
    }
}

/// Row counts of the dimension tables for a given number of transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scale {
    pub stores: u64,
    pub customers: u64,
    pub products: u64,
}

impl Scale {
    pub(crate) fn for_transactions(transactions: u64) -> Self {
        Self {
            stores: (transactions / 2_000).clamp(20, 1_000),
            customers: (transactions / 10).clamp(1_000, 5_000_000),
            products: (transactions / 50).clamp(500, 50_000),
        }
    }
}

/// Options after validation, with the start date as a day number and threads resolved.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub transactions: u64,
    pub days: u32,
    /// Day number (days since 1970-01-01) of the first day.
    pub start_day: i64,
    pub seed: u64,
    pub out: PathBuf,
    pub threads: usize,
    pub scale: Scale,
}

impl GenerateOptions {
    /// Checks the options and resolves defaults.
    pub(crate) fn validate(&self) -> Result<Plan> {
        let invalid = |option, reason: String| DemoError::InvalidOption { option, reason };
        if self.transactions == 0 {
            return Err(invalid("transactions", "must be at least 1, got 0".into()));
        }
        if self.days == 0 {
            return Err(invalid("days", "must be at least 1, got 0".into()));
        }
        if u64::from(self.days) > self.transactions {
            return Err(invalid(
                "days",
                format!(
                    "{} days is more than the {} transactions to spread over them",
                    self.days, self.transactions
                ),
            ));
        }
        let start_day = calendar::parse_date(&self.start_date).ok_or_else(|| {
            invalid(
                "start_date",
                format!(
                    "'{}' is not a calendar date of the form YYYY-MM-DD",
                    self.start_date
                ),
            )
        })?;
        if start_day + i64::from(self.days) - 1 > calendar::LAST_SUPPORTED_DAY {
            return Err(invalid(
                "days",
                format!(
                    "{} days from {} run past 9999-12-31",
                    self.days, self.start_date
                ),
            ));
        }
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        Ok(Plan {
            transactions: self.transactions,
            days: self.days,
            start_day,
            seed: self.seed,
            out: self.out.clone(),
            threads,
            scale: Scale::for_transactions(self.transactions),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn option_of(opts: GenerateOptions) -> &'static str {
        match opts.validate() {
            Err(DemoError::InvalidOption { option, .. }) => option,
            other => unreachable!("expected InvalidOption, got {other:?}"),
        }
    }

    #[test]
    fn scale_is_clamped() {
        let small = Scale::for_transactions(1);
        assert_eq!(
            (small.stores, small.customers, small.products),
            (20, 1_000, 500)
        );
        let mid = Scale::for_transactions(10_000_000);
        assert_eq!(
            (mid.stores, mid.customers, mid.products),
            (1_000, 1_000_000, 50_000)
        );
        let huge = Scale::for_transactions(u64::MAX);
        assert_eq!(huge.customers, 5_000_000);
    }

    #[test]
    fn invalid_options_name_the_option() {
        let base = GenerateOptions::default;
        assert_eq!(
            option_of(GenerateOptions {
                transactions: 0,
                ..base()
            }),
            "transactions"
        );
        assert_eq!(option_of(GenerateOptions { days: 0, ..base() }), "days");
        assert_eq!(
            option_of(GenerateOptions {
                transactions: 3,
                days: 4,
                ..base()
            }),
            "days"
        );
        assert_eq!(
            option_of(GenerateOptions {
                start_date: "2026-02-30".into(),
                ..base()
            }),
            "start_date"
        );
        assert_eq!(
            option_of(GenerateOptions {
                start_date: "9999-12-30".into(),
                days: 3,
                ..base()
            }),
            "days"
        );
    }

    #[test]
    fn defaults_validate() {
        let plan = GenerateOptions::default().validate().unwrap();
        assert_eq!(plan.start_day, 20_774);
        assert!(plan.threads >= 1);
    }
}
