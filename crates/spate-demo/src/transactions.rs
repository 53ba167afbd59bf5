//! The `transactions` fact table, written in fixed chunks of at most 1,048,576 rows.
//!
//! # Chunks
//!
//! [`plan_chunks`] spreads the transactions evenly over the days (the first
//! `transactions % days` days get one row more) and cuts each day into the fewest equal parts
//! of at most [`ROWS_PER_FILE`] rows. Chunk `i` becomes
//! `transactions/day=YYYY-MM-DD/part-NNNNN.parquet` and draws from its own random stream (see
//! [`crate::distributions`]), so chunks can be written by any thread in any order and still
//! give the same bytes.
//!
//! # Rows
//!
//! Each row costs five draws: the time of day (stratified over the day, so `ts` rises with
//! `transaction_id`), the store and the product (Zipf–Mandelbrot, exponent 1.1, over a
//! popularity order fixed by the [`Catalog`]), the customer (mild skew towards old
//! customers), and one `u64` whose 10-bit slices pick the channel (outside store hours
//! always online), payment type, quantity and discount.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Decimal128Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::basic::Encoding;
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::schema::types::ColumnPath;

use crate::calendar::{self, MICROS_PER_DAY};
use crate::dimensions::Catalog;
use crate::distributions::{
    AliasTable, ChunkStreams, DayShape, DemoRng, LOOKUP_BITS, LookupTable, Rng, SkewedIds,
    unit_f64, zipf_weights,
};
use crate::error::{DemoError, Result};
use crate::names::{CHANNELS, PAYMENT_TYPES};
use crate::parquet_sink::{ParquetSink, base_properties};

/// Most rows one part file holds (one row group).
pub(crate) const ROWS_PER_FILE: u64 = 1 << 20;
/// Rows generated per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: u64 = 1 << 16;
/// Popularity of products and stores by rank `k`: `1 / (k + ZIPF_OFFSET)^ZIPF_EXPONENT`.
/// With 1,000 products the top 1% sell a third of the units; with 50 stores the busiest has
/// 12% of the trade and the median one 1%.
const ZIPF_EXPONENT: f64 = 1.1;
const ZIPF_OFFSET: f64 = 2.0;
/// Stores are open from 7:00 to 22:00; other hours only take online orders.
const STORE_HOURS: std::ops::Range<usize> = 7..22;

/// One part file of the fact table.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Day number of the partition.
    pub day: i64,
    /// Part number within the day.
    pub part: u64,
    /// `transaction_id` of the first row.
    pub first_id: i64,
    pub rows: u64,
    /// Rows of the same day in earlier parts.
    pub day_offset: u64,
    /// Rows of the whole day.
    pub day_rows: u64,
    rng: DemoRng,
}

impl Chunk {
    /// The partition directory, relative to the output directory.
    pub(crate) fn day_dir(&self) -> PathBuf {
        Path::new("transactions").join(format!("day={}", calendar::format_date(self.day)))
    }

    /// The part file, relative to the output directory.
    pub(crate) fn relative_path(&self) -> PathBuf {
        self.day_dir()
            .join(format!("part-{:05}.parquet", self.part))
    }
}

/// Cuts `transactions` rows over `days` days from `start_day` into chunks of at most
/// `rows_per_file` rows. Requires `1 <= days <= transactions`.
pub(crate) fn plan_chunks(
    transactions: u64,
    days: u32,
    start_day: i64,
    seed: u64,
    rows_per_file: u64,
) -> Vec<Chunk> {
    let (per_day, extra) = (
        transactions / u64::from(days),
        transactions % u64::from(days),
    );
    let mut streams = ChunkStreams::new(seed);
    let mut chunks = Vec::new();
    let mut next_id = 1i64;
    for day_index in 0..u64::from(days) {
        let day_rows = per_day + u64::from(day_index < extra);
        let parts = day_rows.div_ceil(rows_per_file);
        let boundary =
            |part: u64| (u128::from(day_rows) * u128::from(part) / u128::from(parts)) as u64;
        for part in 0..parts {
            let (from, to) = (boundary(part), boundary(part + 1));
            chunks.push(Chunk {
                day: start_day + day_index as i64,
                part,
                first_id: next_id,
                rows: to - from,
                day_offset: from,
                day_rows,
                rng: streams.next_stream(),
            });
            next_id += (to - from) as i64;
        }
    }
    chunks
}

/// Schema of the transaction part files (`day` is the partition, not a column).
pub(crate) fn transactions_schema() -> SchemaRef {
    let field = |name: &str, data_type| Field::new(name, data_type, false);
    Arc::new(Schema::new(vec![
        field("transaction_id", DataType::Int64),
        field("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        field("store_id", DataType::Int32),
        field("customer_id", DataType::Int64),
        field("product_id", DataType::Int32),
        field("quantity", DataType::Int32),
        field("unit_price", DataType::Decimal128(10, 2)),
        field("discount", DataType::Decimal128(3, 2)),
        field("payment_type", DataType::Utf8),
        field("channel", DataType::Utf8),
    ]))
}

/// Sorted id and time columns are delta-encoded; high-cardinality ones skip the dictionary.
fn transactions_properties() -> WriterPropertiesBuilder {
    let mut properties = base_properties();
    for column in ["transaction_id", "ts", "customer_id"] {
        properties = properties.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in ["transaction_id", "ts"] {
        properties =
            properties.set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
    }
    properties
}

const ONLINE: u8 = 1;

/// Everything a chunk draws from; built once per run and shared by the workers.
#[derive(Debug, Clone)]
pub(crate) struct FactModel {
    stores: AliasTable,
    products: AliasTable,
    customers: SkewedIds,
    /// List price in cents of product `i + 1`.
    prices: Vec<i128>,
    day_shape: DayShape,
    channel: LookupTable<u8>,
    store_payment: LookupTable<u8>,
    online_payment: LookupTable<u8>,
    quantity: LookupTable<i32>,
    /// Discount in hundredths (a fraction of the price).
    discount: LookupTable<i128>,
}

impl FactModel {
    pub(crate) fn new(catalog: &Catalog) -> Self {
        let zipf = |ids: &[u32]| {
            AliasTable::new(&zipf_weights(ids.len(), ZIPF_EXPONENT, ZIPF_OFFSET), ids)
        };
        Self {
            stores: zipf(&catalog.store_popularity),
            products: zipf(&catalog.product_popularity),
            customers: SkewedIds::new(catalog.customers),
            prices: catalog
                .products
                .iter()
                .map(|p| i128::from(p.price_cents))
                .collect(),
            day_shape: DayShape::new(),
            // Codes index CHANNELS and PAYMENT_TYPES.
            channel: LookupTable::new(&[(0, 82), (ONLINE, 18)]),
            store_payment: LookupTable::new(&[(0, 55), (1, 22), (2, 18), (3, 5)]),
            online_payment: LookupTable::new(&[(0, 70), (2, 25), (3, 5)]),
            quantity: LookupTable::new(&[
                (1, 400),
                (2, 250),
                (3, 140),
                (4, 70),
                (5, 50),
                (6, 30),
                (7, 20),
                (8, 20),
                (9, 10),
                (10, 10),
            ]),
            discount: LookupTable::new(&[
                (0, 750),
                (5, 60),
                (10, 70),
                (15, 30),
                (20, 40),
                (25, 20),
                (30, 15),
                (40, 8),
                (50, 7),
            ]),
        }
    }
}

/// Column buffers of one batch.
struct Columns {
    ids: Vec<i64>,
    ts: Vec<i64>,
    stores: Vec<i32>,
    customers: Vec<i64>,
    products: Vec<i32>,
    quantities: Vec<i32>,
    prices: Vec<i128>,
    discounts: Vec<i128>,
    payments: Vec<u8>,
    channels: Vec<u8>,
}

impl Columns {
    fn with_capacity(len: usize) -> Self {
        Self {
            ids: Vec::with_capacity(len),
            ts: Vec::with_capacity(len),
            stores: Vec::with_capacity(len),
            customers: Vec::with_capacity(len),
            products: Vec::with_capacity(len),
            quantities: Vec::with_capacity(len),
            prices: Vec::with_capacity(len),
            discounts: Vec::with_capacity(len),
            payments: Vec::with_capacity(len),
            channels: Vec::with_capacity(len),
        }
    }

    fn into_arrays(self, path: &Path) -> Result<Vec<ArrayRef>> {
        let decimal = |values: Vec<i128>, precision, scale| {
            Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .map_err(|source| DemoError::Arrow {
                    path: path.to_path_buf(),
                    source,
                })
        };
        let strings = |codes: &[u8], words: &[&'static str]| {
            StringArray::from_iter_values(codes.iter().map(|&code| words[usize::from(code)]))
        };
        Ok(vec![
            Arc::new(Int64Array::from(self.ids)),
            Arc::new(TimestampMicrosecondArray::from(self.ts)),
            Arc::new(Int32Array::from(self.stores)),
            Arc::new(Int64Array::from(self.customers)),
            Arc::new(Int32Array::from(self.products)),
            Arc::new(Int32Array::from(self.quantities)),
            Arc::new(decimal(self.prices, 10, 2)?),
            Arc::new(decimal(self.discounts, 3, 2)?),
            Arc::new(strings(&self.payments, &PAYMENT_TYPES)),
            Arc::new(strings(&self.channels, &CHANNELS)),
        ])
    }
}

/// Generates `chunk` and writes it to `path`; returns the file's size in bytes.
pub(crate) fn write_chunk(model: &FactModel, chunk: &Chunk, path: &Path) -> Result<u64> {
    let mut sink = ParquetSink::create(path, transactions_schema(), transactions_properties())?;
    let mut rng = chunk.rng.clone();
    let midnight = chunk.day * MICROS_PER_DAY;
    let day_rows = chunk.day_rows as f64;
    let mut hour = 0;
    let mut done = 0;
    while done < chunk.rows {
        let len = BATCH_ROWS.min(chunk.rows - done);
        let mut columns = Columns::with_capacity(len as usize);
        for row in done..done + len {
            let quantile = ((chunk.day_offset + row) as f64 + unit_f64(rng.next_u64())) / day_rows;
            let product = model.products.sample(rng.next_u64());
            columns.ids.push(chunk.first_id + row as i64);
            columns
                .ts
                .push(midnight + model.day_shape.micros_at(quantile, &mut hour));
            columns
                .stores
                .push(model.stores.sample(rng.next_u64()) as i32);
            columns
                .customers
                .push(model.customers.sample(rng.next_u64()) as i64);
            columns.products.push(product as i32);
            columns.prices.push(model.prices[product as usize - 1]);

            let bits = rng.next_u64();
            let channel = if STORE_HOURS.contains(&hour) {
                model.channel.pick(bits)
            } else {
                ONLINE
            };
            let payment = if channel == ONLINE {
                &model.online_payment
            } else {
                &model.store_payment
            };
            columns.channels.push(channel);
            columns.payments.push(payment.pick(bits >> LOOKUP_BITS));
            columns
                .quantities
                .push(model.quantity.pick(bits >> (2 * LOOKUP_BITS)));
            columns
                .discounts
                .push(model.discount.pick(bits >> (3 * LOOKUP_BITS)));
        }
        sink.write(columns.into_arrays(path)?)?;
        done += len;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_once() {
        let chunks = plan_chunks(1_000, 3, 100, 42, 128);
        let rows: Vec<u64> = chunks.iter().map(|c| c.rows).collect();
        // 334 + 333 + 333 rows, three parts each.
        assert_eq!(rows, [111, 111, 112, 111, 111, 111, 111, 111, 111]);
        assert_eq!(
            chunks.iter().map(|c| c.day).collect::<Vec<_>>(),
            [100, 100, 100, 101, 101, 101, 102, 102, 102]
        );
        let mut next = 1;
        for chunk in &chunks {
            assert_eq!(chunk.first_id, next);
            assert!(chunk.day_offset + chunk.rows <= chunk.day_rows);
            next += chunk.rows as i64;
        }
        assert_eq!(next, 1_001);
        assert_eq!(
            chunks[4].relative_path(),
            Path::new("transactions/day=1970-04-12/part-00001.parquet")
        );
    }

    #[test]
    fn one_part_per_day_when_days_are_small() {
        let chunks = plan_chunks(7, 7, 0, 1, ROWS_PER_FILE);
        assert_eq!(chunks.len(), 7);
        assert!(chunks.iter().all(|c| c.rows == 1 && c.part == 0));
    }
}
