//! The dimension tables: stores, products and customers.
//!
//! Stores and products are small (at most 1,000 and 50,000 rows) and the fact table needs
//! them, so [`Catalog::generate`] builds them in memory first: their rows, the product prices
//! and the popularity order the Zipf samplers use. Customers can reach 5,000,000 rows and the
//! fact table only needs their count, so [`write_customers`] streams them to disk in batches.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::schema::types::ColumnPath;

use crate::distributions::{
    DemoRng, DimensionStream, LookupTable, Rng, below, dimension_rng, shuffle, unit_f64,
};
use crate::error::{DemoError, Result};
use crate::names::{
    ADJECTIVES, CATEGORIES, CITIES, Category, City, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES,
    LOYALTY_TIERS, NEIGHBORHOODS,
};
use crate::options::Plan;
use crate::parquet_sink::{ParquetSink, base_properties};

/// Customers are written in batches of this many rows.
const CUSTOMER_BATCH_ROWS: u64 = 1 << 16;
/// Stores opened up to this many days (25 years) before the first day...
const STORE_OPENING_SPAN_DAYS: u64 = 25 * 365;
/// ...and at least this many days before it.
const STORE_MIN_AGE_DAYS: i64 = 30;
/// Customers signed up over the 8 years before the first day.
const CUSTOMER_SIGNUP_SPAN_DAYS: i64 = 8 * 365 + 2;

/// One store.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub name: String,
    pub city: &'static City,
    pub opened_day: i64,
}

/// One product.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub name: String,
    pub category: &'static Category,
    pub brand: &'static str,
    pub price_cents: i64,
    pub cost_cents: i64,
}

/// The in-memory dimensions the fact table draws from.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    /// Store `i + 1` is `stores[i]`.
    pub stores: Vec<Store>,
    /// Product `i + 1` is `products[i]`.
    pub products: Vec<Product>,
    /// Store ids from the busiest to the quietest (Zipf rank order).
    pub store_popularity: Vec<u32>,
    /// Product ids from the best to the worst seller: cheap products tend to sell more.
    pub product_popularity: Vec<u32>,
    /// Number of customers (ids `1..=customers`).
    pub customers: u64,
    /// The day number of the first day of transactions.
    pub start_day: i64,
}

impl Catalog {
    /// Draws the stores and products of a run.
    pub(crate) fn generate(plan: &Plan) -> Self {
        let (stores, store_popularity) =
            generate_stores(plan.scale.stores as usize, plan.seed, plan.start_day);
        let (products, product_popularity) =
            generate_products(plan.scale.products as usize, plan.seed);
        Self {
            stores,
            products,
            store_popularity,
            product_popularity,
            customers: plan.scale.customers,
            start_day: plan.start_day,
        }
    }
}

fn generate_stores(count: usize, seed: u64, start_day: i64) -> (Vec<Store>, Vec<u32>) {
    let mut rng = dimension_rng(seed, DimensionStream::Stores);
    let mut places: Vec<(usize, usize)> = (0..CITIES.len())
        .flat_map(|city| (0..NEIGHBORHOODS.len()).map(move |hood| (city, hood)))
        .collect();
    shuffle(&mut places, &mut rng);
    let stores = places
        .iter()
        .cycle()
        .take(count)
        .map(|&(city, hood)| {
            let city = &CITIES[city];
            let age = below(rng.next_u64(), STORE_OPENING_SPAN_DAYS) as i64;
            Store {
                name: format!("Cymbal {} {}", city.name, NEIGHBORHOODS[hood]),
                city,
                opened_day: start_day - STORE_MIN_AGE_DAYS - age,
            }
        })
        .collect();
    let mut popularity: Vec<u32> = (1..=count as u32).collect();
    shuffle(&mut popularity, &mut rng);
    (stores, popularity)
}

fn generate_products(count: usize, seed: u64) -> (Vec<Product>, Vec<u32>) {
    let mut rng = dimension_rng(seed, DimensionStream::Products);
    let categories = LookupTable::new(
        &CATEGORIES
            .iter()
            .map(|category| (category, category.weight))
            .collect::<Vec<_>>(),
    );
    let mut names = HashSet::with_capacity(count);
    let mut popularity_keys = Vec::with_capacity(count);
    let products = (1..=count as u32)
        .map(|id| {
            let category: &'static Category = categories.pick(rng.next_u64());
            let brand = pick(category.brands, &mut rng);
            let name = unique_product_name(category, brand, id, &mut names, &mut rng);
            let price_cents = list_price(category.price_cents, unit_f64(rng.next_u64()));
            let margin = 0.45 + 0.35 * unit_f64(rng.next_u64());
            let cost_cents = ((price_cents as f64 * margin).round() as i64).max(1);
            // Cheaper products tend to sell more, but the noise dominates.
            let key = 0.5 * (price_cents as f64).ln() + 4.0 * unit_f64(rng.next_u64());
            popularity_keys.push((key, id));
            Product {
                name,
                category,
                brand,
                price_cents,
                cost_cents,
            }
        })
        .collect();
    popularity_keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let popularity = popularity_keys.into_iter().map(|(_, id)| id).collect();
    (products, popularity)
}

/// Draws "brand adjective item, variant" until the name is new (a few tries), then falls
/// back to appending the product id.
fn unique_product_name(
    category: &Category,
    brand: &str,
    id: u32,
    taken: &mut HashSet<String>,
    rng: &mut DemoRng,
) -> String {
    const TRIES: usize = 8;
    let mut name = String::new();
    for _ in 0..TRIES {
        let adjective = pick(ADJECTIVES, rng);
        let item = pick(category.items, rng);
        let variant = pick(category.variants, rng);
        name = format!("{brand} {adjective} {item}, {variant}");
        if taken.insert(name.clone()) {
            return name;
        }
    }
    name.push_str(&format!(" No. {id}"));
    taken.insert(name.clone());
    name
}

/// A log-uniform price in `range` (cents), rounded up to end in .49 or .99.
fn list_price(range: (i64, i64), u: f64) -> i64 {
    let (low, high) = (range.0 as f64, range.1 as f64);
    let raw = (low.ln() + u * (high.ln() - low.ln())).exp();
    ((raw / 50.0).ceil() as i64 * 50 - 1).max(range.0)
}

fn pick(words: &'static [&'static str], rng: &mut DemoRng) -> &'static str {
    words[below(rng.next_u64(), words.len() as u64) as usize]
}

fn field(name: &str, data_type: DataType) -> Field {
    Field::new(name, data_type, false)
}

/// Schema of `stores.parquet`.
pub(crate) fn stores_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("store_id", DataType::Int32),
        field("store_name", DataType::Utf8),
        field("city", DataType::Utf8),
        field("region", DataType::Utf8),
        field("opened_date", DataType::Date32),
        field("tax_rate", DataType::Decimal128(5, 4)),
    ]))
}

/// Schema of `products.parquet`.
pub(crate) fn products_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("product_id", DataType::Int32),
        field("product_name", DataType::Utf8),
        field("category", DataType::Utf8),
        field("brand", DataType::Utf8),
        field("unit_price", DataType::Decimal128(10, 2)),
        field("unit_cost", DataType::Decimal128(10, 2)),
    ]))
}

/// Schema of `customers.parquet`.
pub(crate) fn customers_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        field("customer_id", DataType::Int64),
        field("first_name", DataType::Utf8),
        field("last_name", DataType::Utf8),
        field("email", DataType::Utf8),
        field("city", DataType::Utf8),
        field("loyalty_tier", DataType::Utf8),
        field("signup_date", DataType::Date32),
    ]))
}

fn arrow_error(path: &Path) -> impl Fn(ArrowError) -> DemoError + '_ {
    move |source| DemoError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

fn decimals(values: Vec<i128>, precision: u8, scale: i8, path: &Path) -> Result<ArrayRef> {
    let array = Decimal128Array::from(values)
        .with_precision_and_scale(precision, scale)
        .map_err(arrow_error(path))?;
    Ok(Arc::new(array))
}

/// Writes `stores.parquet` to `path`; returns its size in bytes.
pub(crate) fn write_stores(path: &Path, catalog: &Catalog) -> Result<u64> {
    let stores = &catalog.stores;
    let mut sink = ParquetSink::create(path, stores_schema(), base_properties())?;
    let opened: Vec<i32> = stores.iter().map(|s| s.opened_day as i32).collect();
    sink.write(vec![
        Arc::new(Int32Array::from_iter_values(1..=stores.len() as i32)),
        Arc::new(StringArray::from_iter_values(
            stores.iter().map(|s| &s.name),
        )),
        Arc::new(StringArray::from_iter_values(
            stores.iter().map(|s| s.city.name),
        )),
        Arc::new(StringArray::from_iter_values(
            stores.iter().map(|s| s.city.region),
        )),
        Arc::new(Date32Array::from(opened)),
        decimals(stores.iter().map(|s| s.city.tax_bp).collect(), 5, 4, path)?,
    ])?;
    sink.finish()
}

/// Writes `products.parquet` to `path`; returns its size in bytes.
pub(crate) fn write_products(path: &Path, catalog: &Catalog) -> Result<u64> {
    let products = &catalog.products;
    let mut sink = ParquetSink::create(path, products_schema(), base_properties())?;
    let cents = |f: fn(&Product) -> i64| -> Vec<i128> {
        products.iter().map(|p| i128::from(f(p))).collect()
    };
    sink.write(vec![
        Arc::new(Int32Array::from_iter_values(1..=products.len() as i32)),
        Arc::new(StringArray::from_iter_values(
            products.iter().map(|p| &p.name),
        )),
        Arc::new(StringArray::from_iter_values(
            products.iter().map(|p| p.category.name),
        )),
        Arc::new(StringArray::from_iter_values(
            products.iter().map(|p| p.brand),
        )),
        decimals(cents(|p| p.price_cents), 10, 2, path)?,
        decimals(cents(|p| p.cost_cents), 10, 2, path)?,
    ])?;
    sink.finish()
}

/// Writes `customers.parquet` to `path`; returns its size in bytes.
///
/// Customer ids follow signup order, so older customers have lower ids (and, through the fact
/// table's skew, shop more often).
pub(crate) fn write_customers(path: &Path, catalog: &Catalog, seed: u64) -> Result<u64> {
    let count = catalog.customers;
    let mut rng = dimension_rng(seed, DimensionStream::Customers);
    let tiers = LookupTable::new(LOYALTY_TIERS);
    let lower = |names: &[&str]| -> Vec<String> {
        names.iter().map(|name| name.to_ascii_lowercase()).collect()
    };
    let (first_lower, last_lower) = (lower(FIRST_NAMES), lower(LAST_NAMES));
    let first_signup = catalog.start_day - CUSTOMER_SIGNUP_SPAN_DAYS;
    let properties = base_properties()
        .set_column_dictionary_enabled(ColumnPath::from("customer_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("email"), false);
    let mut sink = ParquetSink::create(path, customers_schema(), properties)?;

    let mut start = 1u64;
    while start <= count {
        let end = (start + CUSTOMER_BATCH_ROWS - 1).min(count);
        let len = (end - start + 1) as usize;
        let mut first = StringBuilder::with_capacity(len, len * 8);
        let mut last = StringBuilder::with_capacity(len, len * 8);
        let mut email = StringBuilder::with_capacity(len, len * 32);
        let mut city = StringBuilder::with_capacity(len, len * 10);
        let mut tier = StringBuilder::with_capacity(len, len * 6);
        let mut signup = Vec::with_capacity(len);
        for id in start..=end {
            let f = below(rng.next_u64(), FIRST_NAMES.len() as u64) as usize;
            let l = below(rng.next_u64(), LAST_NAMES.len() as u64) as usize;
            let domain = pick(EMAIL_DOMAINS, &mut rng);
            first.append_value(FIRST_NAMES[f]);
            last.append_value(LAST_NAMES[l]);
            write!(email, "{}.{}{id}@{domain}", first_lower[f], last_lower[l])
                .map_err(|e| arrow_error(path)(ArrowError::ExternalError(Box::new(e))))?;
            email.append_value("");
            city.append_value(CITIES[below(rng.next_u64(), CITIES.len() as u64) as usize].name);
            tier.append_value(tiers.pick(rng.next_u64()));
            let offset = u128::from(id - 1) * CUSTOMER_SIGNUP_SPAN_DAYS as u128 / u128::from(count);
            signup.push((first_signup + offset as i64) as i32);
        }
        sink.write(vec![
            Arc::new(Int64Array::from_iter_values(start as i64..=end as i64)),
            Arc::new(first.finish()),
            Arc::new(last.finish()),
            Arc::new(email.finish()),
            Arc::new(city.finish()),
            Arc::new(tier.finish()),
            Arc::new(Date32Array::from(signup)),
        ])?;
        start = end + 1;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::GenerateOptions;

    fn catalog(transactions: u64) -> Catalog {
        let plan = GenerateOptions {
            transactions,
            ..GenerateOptions::default()
        }
        .validate();
        match plan {
            Ok(plan) => Catalog::generate(&plan),
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn catalog_has_the_scaled_sizes() {
        let catalog = catalog(100_000);
        assert_eq!(catalog.stores.len(), 50);
        assert_eq!(catalog.products.len(), 2_000);
        assert_eq!(catalog.customers, 10_000);
        let mut ids = catalog.product_popularity.clone();
        ids.sort_unstable();
        assert_eq!(ids, (1..=2_000).collect::<Vec<u32>>());
    }

    #[test]
    fn store_names_are_unique_up_to_a_thousand_stores() {
        let catalog = catalog(u64::MAX / 2);
        let mut names: Vec<&str> = catalog.stores.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), 1_000);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 1_000);
    }

    #[test]
    fn product_names_are_unique() {
        let catalog = catalog(u64::MAX / 2);
        let names: HashSet<&str> = catalog.products.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names.len(), 50_000);
    }

    #[test]
    fn prices_end_in_49_or_99_and_exceed_cost() {
        for product in &catalog(100_000).products {
            assert!(matches!(product.price_cents % 100, 49 | 99), "{product:?}");
            assert!(0 < product.cost_cents && product.cost_cents < product.price_cents);
        }
    }
}
