//! End-to-end tests of `spate_demo::generate`: they write a small data set and read it back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines
)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use spate_demo::{DemoError, GenerateOptions, generate};

const ROWS: u64 = 50_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Day number of 2026-11-17.
const START_DAY: i64 = 20_774;

fn options(out: &Path, threads: usize) -> GenerateOptions {
    GenerateOptions {
        transactions: ROWS,
        out: out.to_path_buf(),
        threads,
        ..GenerateOptions::default()
    }
}

fn read(path: &Path) -> RecordBatch {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn i32s(batch: &RecordBatch, column: &str) -> Vec<i32> {
    let array = batch.column_by_name(column).unwrap();
    array.as_primitive::<Int32Type>().values().to_vec()
}

fn i64s(batch: &RecordBatch, column: &str) -> Vec<i64> {
    let array = batch.column_by_name(column).unwrap();
    array.as_primitive::<Int64Type>().values().to_vec()
}

fn decimals(batch: &RecordBatch, column: &str) -> Vec<i128> {
    let array = batch.column_by_name(column).unwrap();
    array.as_primitive::<Decimal128Type>().values().to_vec()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    array.iter().map(|s| s.unwrap().to_owned()).collect()
}

/// All files under `dir`, relative, sorted, with their bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// The transaction part files in day and part order, with their day partition.
fn transaction_files(out: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let mut days: Vec<PathBuf> = std::fs::read_dir(out.join("transactions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    days.sort();
    for day_dir in days {
        let name = day_dir.file_name().unwrap().to_string_lossy().into_owned();
        let day = name
            .strip_prefix("day=")
            .expect("Hive partition")
            .to_owned();
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&day_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        parts.sort();
        files.extend(parts.into_iter().map(|part| (day.clone(), part)));
    }
    files
}

#[test]
fn generates_a_consistent_star_schema() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let summary = generate(&options(out, 2)).unwrap();
    assert_eq!(
        (
            summary.transactions,
            summary.stores,
            summary.customers,
            summary.products
        ),
        (50_000, 25, 5_000, 1_000)
    );
    assert_eq!(summary.files, 3 + 7);
    let on_disk: u64 = snapshot(out).values().map(|b| b.len() as u64).sum();
    assert_eq!(summary.bytes, on_disk);

    // Dimensions: ids 1..=N, in order.
    let stores = read(&out.join("stores.parquet"));
    let customers = read(&out.join("customers.parquet"));
    let products = read(&out.join("products.parquet"));
    assert_eq!(i32s(&stores, "store_id"), (1..=25).collect::<Vec<_>>());
    assert_eq!(
        i64s(&customers, "customer_id"),
        (1..=5_000).collect::<Vec<_>>()
    );
    assert_eq!(
        i32s(&products, "product_id"),
        (1..=1_000).collect::<Vec<_>>()
    );
    let tiers = strings(&customers, "loyalty_tier");
    assert!(
        tiers
            .iter()
            .all(|t| ["bronze", "silver", "gold", "platinum"].contains(&t.as_str()))
    );
    let signups = customers.column_by_name("signup_date").unwrap();
    let signups = signups.as_primitive::<Date32Type>().values();
    assert!(signups.windows(2).all(|w| w[0] <= w[1]) && i64::from(signups[4_999]) < START_DAY);
    let categories: std::collections::BTreeSet<String> =
        strings(&products, "category").into_iter().collect();
    assert_eq!(categories.len(), 12, "{categories:?}");
    assert!(
        decimals(&stores, "tax_rate")
            .iter()
            .all(|t| (0..1_100).contains(t))
    );
    let prices = decimals(&products, "unit_price");

    // Facts: the requested days, consecutive ids, valid keys.
    let files = transaction_files(out);
    let days: Vec<&str> = files.iter().map(|(day, _)| day.as_str()).collect();
    assert_eq!(
        days,
        [
            "2026-11-17",
            "2026-11-18",
            "2026-11-19",
            "2026-11-20",
            "2026-11-21",
            "2026-11-22",
            "2026-11-23"
        ]
    );
    let mut next_id = 1;
    let mut product_counts = vec![0u64; 1_001];
    let mut zero_discounts = 0;
    for (day_index, (_, path)) in files.iter().enumerate() {
        let batch = read(path);
        assert!(
            batch.column_by_name("day").is_none(),
            "day is the partition only"
        );
        assert_eq!(
            batch.num_rows(),
            50_000 / 7 + usize::from(day_index < 50_000 % 7)
        );
        for id in i64s(&batch, "transaction_id") {
            assert_eq!(id, next_id);
            next_id += 1;
        }
        let ts = batch.column_by_name("ts").unwrap();
        let ts = ts.as_primitive::<TimestampMicrosecondType>().values();
        let midnight = (START_DAY + day_index as i64) * MICROS_PER_DAY;
        assert!(
            ts.iter()
                .all(|&t| midnight <= t && t < midnight + MICROS_PER_DAY)
        );
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "ts rises with the id");
        assert!(
            i32s(&batch, "store_id")
                .iter()
                .all(|s| (1..=25).contains(s))
        );
        assert!(
            i64s(&batch, "customer_id")
                .iter()
                .all(|c| (1..=5_000).contains(c))
        );
        assert!(
            i32s(&batch, "quantity")
                .iter()
                .all(|q| (1..=10).contains(q))
        );
        let discounts = decimals(&batch, "discount");
        assert!(discounts.iter().all(|d| (0..=50).contains(d)));
        zero_discounts += discounts.iter().filter(|&&d| d == 0).count();
        let unit_prices = decimals(&batch, "unit_price");
        for (product, price) in i32s(&batch, "product_id").into_iter().zip(unit_prices) {
            assert!((1..=1_000).contains(&product));
            assert_eq!(
                price,
                prices[product as usize - 1],
                "unit_price is the list price"
            );
            product_counts[product as usize] += 1;
        }
        assert!(
            strings(&batch, "payment_type")
                .iter()
                .all(|p| { ["card", "cash", "mobile", "gift_card"].contains(&p.as_str()) })
        );
        let channels = strings(&batch, "channel");
        assert!(channels.iter().all(|c| c == "store" || c == "online"));
        for (t, channel) in ts.iter().zip(&channels) {
            let hour = (t - midnight) / 3_600_000_000;
            if !(7..22).contains(&hour) {
                assert_eq!(channel, "online", "stores are closed at {hour}:00");
            }
        }
        assert!(batch.column_by_name("payment_type").unwrap().null_count() == 0);
    }
    assert_eq!(next_id, 50_001);
    let zero_share = zero_discounts as f64 / 50_000.0;
    assert!((0.70..0.80).contains(&zero_share), "{zero_share}");

    // Skew: the top 1% of products carry a large share.
    product_counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = product_counts[..10].iter().sum();
    assert!(
        top as f64 / 50_000.0 > 0.15,
        "top 1% of products drew {top} rows"
    );
}

#[test]
fn output_is_identical_for_any_thread_count() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&options(one.path(), 1)).unwrap();
    generate(&options(two.path(), 2)).unwrap();
    let (a, b) = (snapshot(one.path()), snapshot(two.path()));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{} differs", path.display());
    }
}

#[test]
fn another_seed_gives_other_data() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&GenerateOptions {
        transactions: 2_000,
        ..options(one.path(), 1)
    })
    .unwrap();
    generate(&GenerateOptions {
        transactions: 2_000,
        seed: 43,
        ..options(two.path(), 1)
    })
    .unwrap();
    let day = "transactions/day=2026-11-17/part-00000.parquet";
    assert_ne!(
        snapshot(one.path())[Path::new(day)],
        snapshot(two.path())[Path::new(day)]
    );
}

#[test]
fn rerun_replaces_previous_transactions_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    generate(&GenerateOptions {
        transactions: 1_000,
        days: 7,
        ..options(out, 2)
    })
    .unwrap();
    std::fs::write(out.join("README.txt"), "mine").unwrap();
    generate(&GenerateOptions {
        transactions: 1_000,
        days: 2,
        start_date: "2027-01-01".into(),
        ..options(out, 2)
    })
    .unwrap();
    let files: Vec<PathBuf> = snapshot(out).into_keys().collect();
    let expected: Vec<PathBuf> = [
        "README.txt",
        "customers.parquet",
        "products.parquet",
        "stores.parquet",
        "transactions/day=2027-01-01/part-00000.parquet",
        "transactions/day=2027-01-02/part-00000.parquet",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(files, expected);
}

#[test]
fn invalid_options_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let cases = [
        (
            "transactions",
            GenerateOptions {
                transactions: 0,
                ..options(&out, 1)
            },
        ),
        (
            "days",
            GenerateOptions {
                days: 0,
                ..options(&out, 1)
            },
        ),
        (
            "days",
            GenerateOptions {
                transactions: 5,
                days: 6,
                ..options(&out, 1)
            },
        ),
        (
            "start_date",
            GenerateOptions {
                start_date: "17/11/2026".into(),
                ..options(&out, 1)
            },
        ),
    ];
    for (expected, opts) in cases {
        match generate(&opts) {
            Err(DemoError::InvalidOption { option, reason }) => {
                assert_eq!(option, expected, "{reason}");
            }
            other => panic!("expected InvalidOption {{ option: {expected} }}, got {other:?}"),
        }
    }
    assert!(!out.exists());
    let message = generate(&GenerateOptions {
        start_date: "2026-13-01".into(),
        ..options(&out, 1)
    })
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("start_date") && message.contains("2026-13-01"),
        "{message}"
    );
}
