//! Deterministic generator of the *Cymbal Superstore* demo data set.
//!
//! Cymbal Superstore is an invented retail chain. [`generate`] writes a star schema of
//! SNAPPY-compressed Parquet files that looks like a real shop's week: a few stores and a few
//! products carry much of the volume, trade peaks after work, most rows pay full price.
//!
//! ```text
//! <out>/
//!   stores.parquet      store_id Int32, store_name, city, region Utf8,
//!                       opened_date Date32, tax_rate Decimal128(5,4)
//!   customers.parquet   customer_id Int64, first_name, last_name, email, city,
//!                       loyalty_tier Utf8 (bronze/silver/gold/platinum), signup_date Date32
//!   products.parquet    product_id Int32, product_name, category, brand Utf8,
//!                       unit_price, unit_cost Decimal128(10,2)
//!   transactions/day=YYYY-MM-DD/part-NNNNN.parquet
//!                       transaction_id Int64, ts Timestamp(µs), store_id Int32,
//!                       customer_id Int64, product_id Int32, quantity Int32 (1..=10),
//!                       unit_price Decimal128(10,2), discount Decimal128(3,2),
//!                       payment_type Utf8 (card/cash/mobile/gift_card),
//!                       channel Utf8 (store/online)
//! ```
//!
//! `day` is a Hive partition, not a column of the part files. Ids are `1..=N` and every
//! foreign key of `transactions` exists in its dimension. Dimension sizes scale with the
//! number of transactions: stores = `transactions / 2,000` within 20..=1,000, customers =
//! `transactions / 10` within 1,000..=5,000,000, products = `transactions / 50` within
//! 500..=50,000.
//!
//! # Determinism and speed
//!
//! The fact table is cut into fixed chunks of at most 1,048,576 rows, one file each, and
//! every chunk draws from its own `Xoshiro256PlusPlus` stream derived from the seed and the
//! chunk's index. Worker threads write chunks in parallel, and the same options give
//! byte-identical files whatever the thread count. Samplers are precomputed tables (alias
//! method for the Zipf-skewed products and stores), and columns are filled straight into
//! `Vec`s, so writing Parquet dominates the cost.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod calendar;
mod dimensions;
mod distributions;
mod error;
mod generator;
mod names;
mod options;
mod parquet_sink;
mod transactions;

pub use error::{DemoError, Result};
pub use generator::{GenerateSummary, generate};
pub use options::GenerateOptions;
