//! Filters as a Storage Read `row_restriction`: the GoogleSQL text of the DataFusion
//! filters that mean exactly the same in BigQuery.
//!
//! Translated: a column compared with a literal (`=`, `<>`, `<`, `<=`, `>`, `>=`, either
//! side), `IS [NOT] NULL`, `[NOT] IN (literals)`, `[NOT] BETWEEN`, and `AND`/`OR`/`NOT` of
//! those. Columns must be top-level columns of types whose comparisons agree in both
//! engines: integers, decimals, booleans, strings (both compare code points), bytes,
//! dates, DATETIME and TIMESTAMP (microseconds). Floats stay in spate (NaN compares
//! differently), and so does anything else. A filter that does not translate whole is not
//! sent: DataFusion keeps it.

use arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, expr::InList};

use crate::types::TYPE_METADATA_KEY;

/// The row restriction for `filter` over a table of `schema`, if it translates exactly.
pub fn row_restriction(filter: &Expr, schema: &Schema) -> Option<String> {
    match filter {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => {
                let word = if *op == Operator::And { "AND" } else { "OR" };
                Some(format!(
                    "({} {word} {})",
                    row_restriction(left, schema)?,
                    row_restriction(right, schema)?
                ))
            }
            _ => comparison(left, *op, right, schema),
        },
        Expr::Not(inner) => Some(format!("(NOT {})", row_restriction(inner, schema)?)),
        Expr::IsNull(inner) => Some(format!("({} IS NULL)", column(inner, schema)?.0)),
        Expr::IsNotNull(inner) => Some(format!("({} IS NOT NULL)", column(inner, schema)?.0)),
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let (name, data_type) = column(expr, schema)?;
            let values = list
                .iter()
                .map(|e| literal(e, data_type))
                .collect::<Option<Vec<_>>>()?;
            if values.is_empty() {
                return None;
            }
            let not = if *negated { "NOT " } else { "" };
            Some(format!("({name} {not}IN ({}))", values.join(", ")))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let (name, data_type) = column(expr, schema)?;
            let (low, high) = (literal(low, data_type)?, literal(high, data_type)?);
            let not = if *negated { "NOT " } else { "" };
            Some(format!("({name} {not}BETWEEN {low} AND {high})"))
        }
        _ => None,
    }
}

/// `column op literal` (or the mirror image).
fn comparison(left: &Expr, op: Operator, right: &Expr, schema: &Schema) -> Option<String> {
    let symbol = match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        _ => return None,
    };
    if let Some((name, data_type)) = column(left, schema) {
        let value = literal(right, data_type)?;
        return Some(format!("({name} {symbol} {value})"));
    }
    let (name, data_type) = column(right, schema)?;
    let value = literal(left, data_type)?;
    let mirrored = match symbol {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        same => same,
    };
    Some(format!("({name} {mirrored} {value})"))
}

/// A top-level column of a type whose comparisons BigQuery and spate agree on, quoted.
fn column<'a>(expr: &Expr, schema: &'a Schema) -> Option<(String, &'a DataType)> {
    let Expr::Column(column) = expr else {
        return None;
    };
    let field = schema.field_with_name(&column.name).ok()?;
    if field.metadata().contains_key(TYPE_METADATA_KEY) {
        return None;
    }
    let comparable = matches!(
        field.data_type(),
        DataType::Int64
            | DataType::Boolean
            | DataType::Utf8
            | DataType::Binary
            | DataType::Date32
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
            | DataType::Timestamp(TimeUnit::Microsecond, _)
    );
    comparable.then(|| (format!("`{}`", column.name), field.data_type()))
}

/// A literal of the column's type, as GoogleSQL.
fn literal(expr: &Expr, column_type: &DataType) -> Option<String> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    if value.data_type() != *column_type || value.is_null() {
        return None;
    }
    Some(match value {
        ScalarValue::Int64(Some(v)) => v.to_string(),
        ScalarValue::Boolean(Some(v)) => v.to_string().to_uppercase(),
        ScalarValue::Utf8(Some(v)) => quote(v),
        ScalarValue::Binary(Some(v)) => {
            let hex: String = v.iter().map(|b| format!("\\x{b:02x}")).collect();
            format!("b'{hex}'")
        }
        ScalarValue::Date32(Some(_)) => format!("DATE '{value}'"),
        ScalarValue::Decimal128(Some(_), _, _) => format!("NUMERIC '{value}'"),
        ScalarValue::Decimal256(Some(_), _, _) => format!("BIGNUMERIC '{value}'"),
        ScalarValue::TimestampMicrosecond(Some(v), zone) => {
            let at = chrono_text(*v)?;
            match zone {
                Some(_) => format!("TIMESTAMP '{at}+00:00'"),
                None => format!("DATETIME '{at}'"),
            }
        }
        _ => return None,
    })
}

/// A string literal: single quotes, with quotes and backslashes escaped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Microseconds since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff`.
fn chrono_text(micros: i64) -> Option<String> {
    let value = ScalarValue::TimestampMicrosecond(Some(micros), None).to_string();
    // ScalarValue prints `2026-11-23T10:11:12.123456`.
    Some(value.replace('T', " "))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("store_id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Float64, true),
            Field::new("day", DataType::Date32, true),
            Field::new("doc", DataType::Utf8, true).with_metadata(HashMap::from([(
                TYPE_METADATA_KEY.to_string(),
                "JSON".to_string(),
            )])),
        ])
    }

    #[test]
    fn translates_exact_filters_only() {
        let s = schema();
        let f = col("store_id")
            .gt_eq(lit(3i64))
            .and(col("name").eq(lit("O'Brien")));
        assert_eq!(
            row_restriction(&f, &s).unwrap(),
            "((`store_id` >= 3) AND (`name` = 'O\\'Brien'))"
        );
        assert_eq!(
            row_restriction(&lit(5i64).lt(col("store_id")), &s).unwrap(),
            "(`store_id` > 5)"
        );
        let day = ScalarValue::Date32(Some(20_415));
        assert_eq!(
            row_restriction(&col("day").eq(lit(day)), &s).unwrap(),
            "(`day` = DATE '2025-11-23')"
        );
        assert_eq!(
            row_restriction(
                &col("store_id").in_list(vec![lit(1i64), lit(2i64)], true),
                &s
            )
            .unwrap(),
            "(`store_id` NOT IN (1, 2))"
        );
        assert!(row_restriction(&col("price").gt(lit(1.0)), &s).is_none());
        assert!(row_restriction(&col("doc").is_null(), &s).is_none());
        assert!(row_restriction(&col("store_id").eq(lit(1i32)), &s).is_none());
        let half = col("store_id").eq(lit(1i64)).or(col("price").lt(lit(2.0)));
        assert!(row_restriction(&half, &s).is_none());
    }
}
