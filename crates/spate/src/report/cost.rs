//! What a run costs: the resources it used ([`Cost`]) priced at rates ([`ReportRates`],
//! settings `spate.report.*`) that default to a public serverless price list.
//!
//! # Defaults
//! Google Cloud Serverless for Apache Spark (formerly Dataproc Serverless), standard tier,
//! us-central1 list price: $0.06 per DCU-hour, where a vCPU counts 0.6 DCU and a gigabyte
//! of memory (up to 8 per vCPU) 0.1 DCU. So a vCPU-hour is $0.036 and a GiB-hour of
//! memory $0.006. That price list charges nothing per byte read or written (storage and
//! network are billed by the services that hold the data), so those rates are 0.

use datafusion::common::config_namespace;
use serde::{Deserialize, Serialize};

/// The price list the default rates come from, named in every report.
pub const DEFAULT_PRICE_LIST: &str = "Google Cloud Serverless for Apache Spark (Dataproc Serverless), \
    standard DCU list price in us-central1: $0.06 per DCU-hour, 1 vCPU = 0.6 DCU, \
    1 GB of memory = 0.1 DCU; no charge per byte read or written \
    (https://cloud.google.com/dataproc-serverless/pricing)";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const GB: f64 = 1e9;
const HOUR: f64 = 3600.0;

config_namespace! {
    /// The rates a job report prices a run at, keys `spate.report.*` (in `spate.toml`:
    /// a `[spate.report]` table). The defaults are Google Cloud Serverless for Apache
    /// Spark's list prices; see `docs/report.md`.
    pub struct ReportRates {
        /// Price of one vCPU-hour of CPU time in the report's currency. Default 0.036:
        /// Google Cloud Serverless for Apache Spark's $0.06 per DCU-hour (standard,
        /// us-central1), a vCPU counting 0.6 DCU.
        pub vcpu_hour: f64, default = 0.036
        /// Price of one GiB-hour of task memory. Default 0.006: $0.06 per DCU-hour, a
        /// gigabyte of memory counting 0.1 DCU.
        pub gib_hour: f64, default = 0.006
        /// Price of one GB (10^9 bytes) read. Default 0: that price list charges no
        /// bytes.
        pub gb_read: f64, default = 0.0
        /// Price of one GB (10^9 bytes) written. Default 0.
        pub gb_written: f64, default = 0.0
        /// The currency of the rates, as shown in the report. Default `USD`.
        pub currency: String, default = "USD".to_string()
        /// Where the rates come from, as shown in the report. Default: the Google Cloud
        /// Serverless for Apache Spark price list.
        pub price_list: String, default = DEFAULT_PRICE_LIST.to_string()
    }
}

/// The rates of a report, as written in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Price of one vCPU-hour of CPU time.
    pub vcpu_hour: f64,
    /// Price of one GiB-hour of task memory.
    pub gib_hour: f64,
    /// Price of one GB (10^9 bytes) read.
    pub gb_read: f64,
    /// Price of one GB (10^9 bytes) written.
    pub gb_written: f64,
    /// The currency of the prices (`USD`).
    pub currency: String,
    /// Where the rates come from.
    pub price_list: String,
}

impl From<&ReportRates> for Rates {
    fn from(rates: &ReportRates) -> Self {
        Rates {
            vcpu_hour: rates.vcpu_hour,
            gib_hour: rates.gib_hour,
            gb_read: rates.gb_read,
            gb_written: rates.gb_written,
            currency: rates.currency.clone(),
            price_list: rates.price_list.clone(),
        }
    }
}

impl Default for Rates {
    fn default() -> Self {
        Rates::from(&ReportRates::default())
    }
}

/// What a statement (or a whole report) used, and its price.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// CPU time of every task attempt, failed ones included, in seconds.
    pub cpu_seconds: f64,
    /// Memory held over time: each task attempt's peak memory times its run time,
    /// summed, in GiB-seconds.
    pub memory_gib_seconds: f64,
    /// Bytes read: what the scans read from files, or when more, what the object stores
    /// served; plus what BigQuery sent.
    pub bytes_read: u64,
    /// Bytes written to object stores and BigQuery.
    pub bytes_written: u64,
    /// The price of the CPU time.
    pub cpu_price: f64,
    /// The price of the memory.
    pub memory_price: f64,
    /// The price of the bytes read and written.
    pub io_price: f64,
    /// The sum of the three prices.
    pub price: f64,
}

impl Cost {
    /// The cost of these resources at `rates`.
    pub fn priced(
        cpu_seconds: f64,
        memory_byte_seconds: f64,
        (bytes_read, bytes_written): (u64, u64),
        rates: &Rates,
    ) -> Self {
        let memory_gib_seconds = memory_byte_seconds / GIB;
        let cpu_price = cpu_seconds / HOUR * rates.vcpu_hour;
        let memory_price = memory_gib_seconds / HOUR * rates.gib_hour;
        let io_price =
            bytes_read as f64 / GB * rates.gb_read + bytes_written as f64 / GB * rates.gb_written;
        Cost {
            cpu_seconds,
            memory_gib_seconds,
            bytes_read,
            bytes_written,
            cpu_price,
            memory_price,
            io_price,
            price: cpu_price + memory_price + io_price,
        }
    }

    /// The sum of `costs`.
    pub fn sum<'a>(costs: impl IntoIterator<Item = &'a Cost>) -> Self {
        costs.into_iter().fold(Cost::default(), |acc, c| Cost {
            cpu_seconds: acc.cpu_seconds + c.cpu_seconds,
            memory_gib_seconds: acc.memory_gib_seconds + c.memory_gib_seconds,
            bytes_read: acc.bytes_read + c.bytes_read,
            bytes_written: acc.bytes_written + c.bytes_written,
            cpu_price: acc.cpu_price + c.cpu_price,
            memory_price: acc.memory_price + c.memory_price,
            io_price: acc.io_price + c.io_price,
            price: acc.price + c.price,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::config::ConfigField;

    #[test]
    fn an_hour_of_a_vcpu_and_a_gib_costs_the_list_price() {
        let rates = Rates::default();
        let cost = Cost::priced(3600.0, GIB * 3600.0, (0, 0), &rates);
        assert!((cost.cpu_price - 0.036).abs() < 1e-12, "{cost:?}");
        assert!((cost.memory_price - 0.006).abs() < 1e-12, "{cost:?}");
        assert!((cost.price - 0.042).abs() < 1e-12);
        assert!(rates.price_list.contains("Serverless for Apache Spark"));
    }

    #[test]
    fn rates_are_settings() {
        let mut rates = ReportRates::default();
        rates.set("gb_read", "0.5").unwrap();
        rates.set("currency", "EUR").unwrap();
        assert!(rates.set("per_banana", "1").is_err());
        assert!(rates.set("vcpu_hour", "cheap").is_err());
        let cost = Cost::priced(0.0, 0.0, (2_000_000_000, 0), &Rates::from(&rates));
        assert!((cost.io_price - 1.0).abs() < 1e-12);
        assert_eq!(Rates::from(&rates).currency, "EUR");
    }
}
