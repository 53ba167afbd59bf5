//! The built-in tables Spark's `SQLQueryTestSuite` creates in code before each input file
//! runs (`createTestTables` in the suite), registered in the file's session the same way:
//!
//! | table | columns | rows |
//! |---|---|---|
//! | `testdata` | `key int`, `value string` | `(1, '1')` .. `(100, '100')` |
//! | `arraydata` | `arraycol array<int>`, `nestedarraycol array<array<int>>` | `([1,2,3], [[1,2,3]])`, `([2,3,4], [[2,3,4]])` |
//! | `mapdata` | `mapcol map<int,string>` | `{1:a1,..,5:e1}`, `{1:a2,..,4:d2}`, `{1:a3,2:b3,3:c3}`, `{1:a4,2:b4}`, `{1:a5}` |
//!
//! Each is an in-memory table built from Arrow arrays, not from SQL, so the engine under
//! test does not build its own fixtures. Spark's suite also loads `aggtest`, `onek` and
//! `tenk1` from data files that are not part of the golden files; those are not created.
//! Spark's tables live in the catalog and a file's `CREATE OR REPLACE TEMPORARY VIEW
//! testData` shadows them; here the view replaces the table, which is the same for the
//! rest of the file.

use std::sync::Arc;

use spate::Session;
use spate::arrow::array::{
    ArrayRef, Int32Array, Int32Builder, ListBuilder, MapBuilder, RecordBatch, StringArray,
    StringBuilder,
};

/// Registers `testdata`, `arraydata` and `mapdata` in `session`.
pub(crate) fn register(session: &Session) -> Result<(), String> {
    let tables = [
        ("testdata", testdata()?),
        ("arraydata", arraydata()?),
        ("mapdata", mapdata()?),
    ];
    for (name, batch) in tables {
        session
            .context()
            .register_batch(name, batch)
            .map_err(|e| format!("cannot register the suite's table {name}: {e}"))?;
    }
    Ok(())
}

/// `testdata(key int, value string)`: keys 1 to 100, each value its key as text.
fn testdata() -> Result<RecordBatch, String> {
    let keys: Vec<i32> = (1..=100).collect();
    let values: Vec<String> = keys.iter().map(i32::to_string).collect();
    batch(vec![
        ("key", Arc::new(Int32Array::from(keys)) as ArrayRef),
        ("value", Arc::new(StringArray::from(values))),
    ])
}

/// `arraydata(arraycol array<int>, nestedarraycol array<array<int>>)`.
fn arraydata() -> Result<RecordBatch, String> {
    let rows: [&[i32]; 2] = [&[1, 2, 3], &[2, 3, 4]];
    let mut flat = ListBuilder::new(Int32Builder::new());
    let mut nested = ListBuilder::new(ListBuilder::new(Int32Builder::new()));
    for row in rows {
        flat.values().append_slice(row);
        flat.append(true);
        nested.values().values().append_slice(row);
        nested.values().append(true);
        nested.append(true);
    }
    batch(vec![
        ("arraycol", Arc::new(flat.finish()) as ArrayRef),
        ("nestedarraycol", Arc::new(nested.finish())),
    ])
}

/// `mapdata(mapcol map<int,string>)`: row `r` (1 to 5) maps keys 1 to `6 - r` to the
/// letters `a`, `b`, ... followed by `r` (`{1:"a2",2:"b2",3:"c2",4:"d2"}`).
fn mapdata() -> Result<RecordBatch, String> {
    let mut maps = MapBuilder::new(None, Int32Builder::new(), StringBuilder::new());
    for row in 1..=5 {
        for (key, letter) in (1..=6 - row).zip('a'..='e') {
            maps.keys().append_value(key);
            maps.values().append_value(format!("{letter}{row}"));
        }
        maps.append(true)
            .map_err(|e| format!("cannot build mapdata: {e}"))?;
    }
    batch(vec![("mapcol", Arc::new(maps.finish()) as ArrayRef)])
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, String> {
    RecordBatch::try_from_iter(columns).map_err(|e| format!("cannot build a test table: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark_sql::spark_format::spark_rows;

    #[test]
    fn tables_print_as_in_the_golden_files() {
        let arrays = spark_rows(&[arraydata().unwrap()], "UTC").unwrap();
        assert_eq!(arrays, ["[1,2,3]\t[[1,2,3]]", "[2,3,4]\t[[2,3,4]]"]);
        let maps = spark_rows(&[mapdata().unwrap()], "UTC").unwrap();
        assert_eq!(maps[0], "{1:\"a1\",2:\"b1\",3:\"c1\",4:\"d1\",5:\"e1\"}");
        assert_eq!(maps[4], "{1:\"a5\"}");
        let rows = spark_rows(&[testdata().unwrap()], "UTC").unwrap();
        assert_eq!((rows.len(), rows[99].as_str()), (100, "100\t100"));
    }
}
