//! Hive partition columns: found from `key=value` directories and typed from their values.
//!
//! Every file of a partitioned table must sit under the same keys in the same order
//! (`day=.../store=.../f.parquet`). A key whose values all parse as integers becomes
//! `Int64`, all ISO dates (`2026-11-23`) `Date32`, anything else `Utf8`. Hive's
//! `__HIVE_DEFAULT_PARTITION__` stands for null and does not decide the type.

use datafusion::arrow::datatypes::DataType;

use crate::error::{Result, SpateError};

/// The directory names Hive writes for a null partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// The partition columns of a table, from the paths of its files relative to the table's
/// root (`day=2026-11-23/part-0.parquet`). `root` is only used in messages.
pub(crate) fn infer_partition_columns<'a>(
    root: &str,
    relative_paths: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, DataType)>> {
    let mut keys: Option<(Vec<String>, String)> = None;
    let mut values: Vec<Vec<String>> = Vec::new();
    for path in relative_paths {
        let dirs: Vec<&str> = path.split('/').collect();
        let dirs = &dirs[..dirs.len().saturating_sub(1)];
        let pairs: Vec<(&str, &str)> = dirs.iter().filter_map(|d| d.split_once('=')).collect();
        let file_keys: Vec<String> = pairs.iter().map(|(k, _)| k.to_string()).collect();
        match &keys {
            None => {
                values = vec![Vec::new(); file_keys.len()];
                keys = Some((file_keys, path.to_string()));
            }
            Some((expected, first_path)) if *expected != file_keys => {
                return Err(SpateError::BadPartitioning {
                    path: root.to_string(),
                    reason: format!(
                        "{path} is under partition keys [{}] but {first_path} is under [{}]",
                        file_keys.join(", "),
                        expected.join(", ")
                    ),
                });
            }
            Some(_) => {}
        }
        for (slot, (_, value)) in values.iter_mut().zip(&pairs) {
            slot.push(value.to_string());
        }
    }
    let Some((keys, _)) = keys else {
        return Ok(Vec::new());
    };
    Ok(keys
        .into_iter()
        .zip(values)
        .map(|(key, vals)| {
            let data_type = infer_type(vals.iter().map(String::as_str));
            (key, data_type)
        })
        .collect())
}

fn infer_type<'a>(values: impl Iterator<Item = &'a str> + Clone) -> DataType {
    let present = values.filter(|v| *v != HIVE_NULL && !v.is_empty());
    if present.clone().next().is_none() {
        return DataType::Utf8;
    }
    if present.clone().all(|v| v.parse::<i64>().is_ok()) {
        DataType::Int64
    } else if present.clone().all(is_iso_date) {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

fn is_iso_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (m, d): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    (1..=12).contains(&m) && (1..=31).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_partition_columns() {
        let cols = infer_partition_columns(
            "t",
            [
                "day=2026-11-22/store=1/region=eu/a.parquet",
                "day=2026-11-23/store=20/region=us/b.parquet",
            ],
        )
        .unwrap();
        assert_eq!(
            cols,
            vec![
                ("day".to_string(), DataType::Date32),
                ("store".to_string(), DataType::Int64),
                ("region".to_string(), DataType::Utf8),
            ]
        );
    }

    #[test]
    fn unpartitioned_and_null_values() {
        assert!(
            infer_partition_columns("t", ["a.parquet", "b.parquet"])
                .unwrap()
                .is_empty()
        );
        let cols =
            infer_partition_columns("t", ["k=__HIVE_DEFAULT_PARTITION__/a.csv", "k=7/b.csv"])
                .unwrap();
        assert_eq!(cols, vec![("k".to_string(), DataType::Int64)]);
        let mixed = infer_partition_columns("t", ["k=2026-01-01/a", "k=x/b"]).unwrap();
        assert_eq!(mixed, vec![("k".to_string(), DataType::Utf8)]);
    }

    #[test]
    fn inconsistent_keys_name_the_file() {
        let err = infer_partition_columns("t", ["day=1/a.parquet", "b.parquet"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("b.parquet is under partition keys []"),
            "{err}"
        );
    }

    #[test]
    fn dates() {
        assert!(is_iso_date("2026-11-23"));
        assert!(!is_iso_date("2026-13-01"));
        assert!(!is_iso_date("20261123"));
    }
}
