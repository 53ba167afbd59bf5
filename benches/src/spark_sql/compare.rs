//! One query's outcome: what spate did against what Spark stored, reduced to a pass or
//! the first cause of failure.
//!
//! A query where Spark raised an error passes when spate raises one too (any error: the
//! suite's error classes are Spark's own). Otherwise spate's rows, written the way Spark
//! writes them ([`super::spark_format`]), must equal the stored ones (both sorted unless
//! the plan ends in a sort, as the suite does); then the column types, then the names.
//! Rows are checked first because they are what a pipeline consumes.

use serde::{Deserialize, Serialize};
use spate::arrow::datatypes::SchemaRef;

use super::golden::{Expected, GoldenQuery};
use super::spark_types::{parse_struct, spark_type};

/// Why a query failed, or that it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Cause {
    Pass,
    /// spate's parser rejected a statement Spark ran.
    ParseError,
    /// Planning failed (unknown function or column, type error, ...) where Spark ran.
    PlanError,
    /// Running failed where Spark returned rows.
    ExecError,
    /// Spark raised an error; spate returned rows.
    MissingError,
    /// Different rows.
    WrongRows,
    /// The same rows, different column types.
    WrongTypes,
    /// The same rows and types, different column names.
    WrongNames,
    /// The query did not finish within the per-query timeout.
    Timeout,
    /// The query panicked or its worker process died.
    Crash,
}

impl Cause {
    pub(crate) const FAILURES: [Cause; 9] = [
        Cause::ParseError,
        Cause::PlanError,
        Cause::ExecError,
        Cause::MissingError,
        Cause::WrongRows,
        Cause::WrongTypes,
        Cause::WrongNames,
        Cause::Timeout,
        Cause::Crash,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Cause::Pass => "pass",
            Cause::ParseError => "parse error",
            Cause::PlanError => "plan error",
            Cause::ExecError => "exec error",
            Cause::MissingError => "missing error",
            Cause::WrongRows => "wrong rows",
            Cause::WrongTypes => "wrong types",
            Cause::WrongNames => "wrong names",
            Cause::Timeout => "timeout",
            Cause::Crash => "crash",
        }
    }
}

/// The outcome of one query: its cause and a short detail for failures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub query: usize,
    pub cause: Cause,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The query's SQL (failures only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sql: String,
}

/// What spate did with a query.
pub(crate) enum Actual {
    /// A failure at this stage (`ParseError`, `PlanError` or `ExecError`).
    Failed(Cause, String),
    /// Rows (written as Spark writes them) under this schema; `sorted` when the plan
    /// ends in a sort.
    Rows {
        schema: SchemaRef,
        rows: Vec<String>,
        sorted: bool,
    },
}

/// The cause for `actual` against Spark's `golden`, with a detail for failures.
pub(crate) fn judge(golden: &GoldenQuery, actual: Actual) -> (Cause, String) {
    match (&golden.expected, actual) {
        (Expected::Error(_), Actual::Failed(..)) => (Cause::Pass, String::new()),
        (Expected::Error(class), Actual::Rows { .. }) => {
            (Cause::MissingError, format!("Spark raised {class}"))
        }
        (Expected::Rows(_), Actual::Failed(cause, detail)) => (cause, detail),
        (
            Expected::Rows(expected),
            Actual::Rows {
                schema,
                rows,
                sorted,
            },
        ) => {
            if golden.schema == "struct<>" && expected.is_empty() {
                // A command (CREATE VIEW, SET, INSERT): it ran.
                return (Cause::Pass, String::new());
            }
            if !same_rows(expected, rows, sorted) {
                return (Cause::WrongRows, String::new());
            }
            compare_schema(&golden.schema, &schema)
        }
    }
}

/// Compares as the suite does: rows sorted as strings unless the query sorts, the whole
/// output with trailing whitespace stripped.
fn same_rows(expected: &[String], mut actual: Vec<String>, sorted: bool) -> bool {
    let mut expected = expected.to_vec();
    if !sorted {
        expected.sort();
        actual.sort();
    }
    let expected = expected.join("\n");
    let actual = actual.join("\n");
    expected.trim_end() == actual.trim_end() || same_numbers(&expected, &actual)
}

/// Whether two outputs differ only in the last digits of floating-point values (sums in
/// another order): same shape, every differing field a float within 1e-12 relative.
fn same_numbers(expected: &str, actual: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        s.split(['\n', '\t', ',', '[', ']', '{', '}', ':'])
            .map(str::to_string)
            .collect()
    };
    let (e, a) = (split(expected), split(actual));
    e.len() == a.len()
        && e.iter().zip(&a).all(|(x, y)| {
            x == y
                || match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                    _ => false,
                }
        })
}

fn compare_schema(expected: &str, actual: &SchemaRef) -> (Cause, String) {
    let columns = match parse_struct(expected) {
        Ok(columns) => columns,
        Err(e) => return (Cause::WrongTypes, e),
    };
    let types: Vec<String> = actual
        .fields()
        .iter()
        .map(|f| spark_type(f.data_type()))
        .collect();
    let expected_types: Vec<&str> = columns.iter().map(|c| c.data_type.as_str()).collect();
    if types != expected_types {
        return (
            Cause::WrongTypes,
            format!("{} vs {}", expected_types.join(","), types.join(",")),
        );
    }
    let names: Vec<&str> = actual.fields().iter().map(|f| f.name().as_str()).collect();
    let expected_names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    if names != expected_names {
        return (
            Cause::WrongNames,
            format!("{} vs {}", expected_names.join(","), names.join(",")),
        );
    }
    (Cause::Pass, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn golden(schema: &str, expected: Expected) -> GoldenQuery {
        GoldenQuery {
            sql: String::new(),
            schema: schema.into(),
            expected,
        }
    }

    fn rows(schema: Schema, rows: &[&str], sorted: bool) -> Actual {
        Actual::Rows {
            schema: Arc::new(schema),
            rows: rows.iter().map(|r| r.to_string()).collect(),
            sorted,
        }
    }

    #[test]
    fn judges_rows_types_names_and_errors() {
        let schema = Schema::new(vec![Field::new("a", DataType::Int32, true)]);
        let stored = golden(
            "struct<a:int>",
            Expected::Rows(vec!["1".into(), "2".into()]),
        );
        let judge_rows = |r: &[&str], sorted| judge(&stored, rows(schema.clone(), r, sorted)).0;
        assert_eq!(judge_rows(&["2", "1"], false), Cause::Pass);
        assert_eq!(judge_rows(&["2", "1"], true), Cause::WrongRows);
        assert_eq!(judge_rows(&["1"], false), Cause::WrongRows);
        let long = Schema::new(vec![Field::new("a", DataType::Int64, true)]);
        assert_eq!(
            judge(&stored, rows(long, &["1", "2"], false)).0,
            Cause::WrongTypes
        );
        let renamed = Schema::new(vec![Field::new("t.a", DataType::Int32, true)]);
        assert_eq!(
            judge(&stored, rows(renamed, &["1", "2"], false)).0,
            Cause::WrongNames
        );
        let error = golden("struct<>", Expected::Error("x.AnalysisException".into()));
        assert_eq!(
            judge(&error, rows(schema.clone(), &[], false)).0,
            Cause::MissingError
        );
        let failed = Actual::Failed(Cause::PlanError, "no column".into());
        assert_eq!(judge(&error, failed).0, Cause::Pass);
    }

    #[test]
    fn floats_may_differ_in_the_last_digits_only() {
        assert!(same_numbers("0.30000000000000004\tx", "0.3\tx"));
        assert!(!same_numbers("0.31\tx", "0.3\tx"));
        assert!(!same_numbers("1\tx", "2\tx"));
    }
}
