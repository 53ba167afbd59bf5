//! Spark's type names: a stored `struct<name:type,...>` split into columns, and an Arrow
//! type written as Spark's `catalogString` writes it (`int`, `decimal(10,2)`,
//! `array<string>`, `struct<a:int>`, `map<string,int>`).

use spate::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

/// One column of a stored schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    pub data_type: String,
}

/// Splits `struct<a:int,f(x, y):array<int>>` into its columns. Names are written bare, so
/// commas and colons count only outside parentheses and angle brackets; the type is what
/// follows the last such colon.
pub(crate) fn parse_struct(text: &str) -> Result<Vec<Column>, String> {
    let inner = text
        .trim()
        .strip_prefix("struct<")
        .and_then(|t| t.strip_suffix('>'))
        .ok_or_else(|| format!("not a struct type: {text}"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    split_top_level(inner, ',')
        .into_iter()
        .map(|field| {
            let colon = last_top_level(field, ':')
                .ok_or_else(|| format!("no type in field `{field}` of {text}"))?;
            Ok(Column {
                name: field[..colon].to_string(),
                data_type: field[colon + 1..].to_string(),
            })
        })
        .collect()
}

/// Byte offsets of `sep` outside brackets and backquotes.
fn top_level_positions(text: &str, sep: char) -> Vec<usize> {
    let (mut parens, mut angles, mut quoted) = (0i32, 0i32, false);
    let mut positions = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '`' => quoted = !quoted,
            _ if quoted => {}
            '(' | '[' => parens += 1,
            ')' | ']' => parens -= 1,
            '<' if parens == 0 => angles += 1,
            '>' if parens == 0 && angles > 0 => angles -= 1,
            c if c == sep && parens == 0 && angles == 0 => positions.push(i),
            _ => {}
        }
    }
    positions
}

fn split_top_level(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for at in top_level_positions(text, sep) {
        parts.push(&text[start..at]);
        start = at + sep.len_utf8();
    }
    parts.push(&text[start..]);
    parts
}

fn last_top_level(text: &str, sep: char) -> Option<usize> {
    top_level_positions(text, sep).last().copied()
}

/// The Spark name of an Arrow type (`<unsupported: ...>` for types Spark lacks).
pub(crate) fn spark_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "void".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => format!("decimal({p},{s})"),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp".into(),
        DataType::Timestamp(_, None) => "timestamp_ntz".into(),
        DataType::Interval(IntervalUnit::YearMonth) => "interval year to month".into(),
        DataType::Interval(IntervalUnit::DayTime) => "interval day to second".into(),
        DataType::Duration(TimeUnit::Microsecond) => "interval day to second".into(),
        DataType::Interval(IntervalUnit::MonthDayNano) => "interval".into(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::FixedSizeList(f, _) => format!("array<{}>", spark_type(f.data_type())),
        DataType::Struct(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), spark_type(f.data_type())))
                .collect();
            format!("struct<{}>", fields.join(","))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{},{}>",
                spark_type(kv[0].data_type()),
                spark_type(kv[1].data_type())
            ),
            other => format!("<unsupported: map of {other}>"),
        },
        DataType::Dictionary(_, value) => spark_type(value),
        other => format!("<unsupported: {other}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_with_commas_and_nested_types() {
        let columns = parse_struct(
            "struct<a:int,coalesce(a, b):array<struct<x:int,y:string>>,(a < b):boolean>",
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "int"),
                ("coalesce(a, b)", "array<struct<x:int,y:string>>"),
                ("(a < b)", "boolean")
            ]
        );
        assert!(parse_struct("struct<>").unwrap().is_empty());
        assert!(parse_struct("int").is_err());
    }

    #[test]
    fn names_arrow_types_like_spark() {
        assert_eq!(spark_type(&DataType::Decimal128(10, 2)), "decimal(10,2)");
        let list = DataType::List(std::sync::Arc::new(spate::arrow::datatypes::Field::new(
            "item",
            DataType::Int64,
            true,
        )));
        assert_eq!(spark_type(&list), "array<bigint>");
    }
}
