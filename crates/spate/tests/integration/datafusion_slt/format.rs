//! Results as DataFusion's sqllogictest engine prints them, so that its expected outputs
//! match: `NULL`, `(empty)` for an empty string, booleans as `true`/`false`, floats and
//! decimals rounded to 12 decimal places without trailing zeros, multi-line cells (plans)
//! spread over numbered rows, and the column type letters `B D I P R T ?`.

use spate::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float16Array, Float32Array, Float64Array,
    LargeStringArray, StringArray, StringViewArray,
};
use spate::arrow::datatypes::{
    DataType, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, DecimalType, Fields,
};
use spate::arrow::error::ArrowError;
use spate::arrow::record_batch::RecordBatch;
use spate::arrow::util::display::ArrayFormatter;
use spate::datafusion::config::{ConfigField, FormatOptions};

/// A result column's type as a sqllogictest letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    DateTime,
    Integer,
    Float,
    Text,
    Timestamp,
    Another,
}

impl sqllogictest::ColumnType for ColumnType {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'B' => Self::Boolean,
            'D' => Self::DateTime,
            'I' => Self::Integer,
            'P' => Self::Timestamp,
            'R' => Self::Float,
            'T' => Self::Text,
            _ => Self::Another,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Self::Boolean => 'B',
            Self::DateTime => 'D',
            Self::Integer => 'I',
            Self::Timestamp => 'P',
            Self::Float => 'R',
            Self::Text => 'T',
            Self::Another => '?',
        }
    }
}

/// The letters of a result's columns.
pub fn column_types(fields: &Fields) -> Vec<ColumnType> {
    fields
        .iter()
        .map(|field| column_type(field.data_type()))
        .collect()
}

fn column_type(data_type: &DataType) -> ColumnType {
    match data_type {
        DataType::Boolean => ColumnType::Boolean,
        t if t.is_integer() => ColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnType::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::Text,
        DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => {
            ColumnType::DateTime
        }
        DataType::Timestamp(..) => ColumnType::Timestamp,
        DataType::Dictionary(key, value)
            if key.is_integer()
                && matches!(
                    value.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
        {
            ColumnType::Text
        }
        _ => ColumnType::Another,
    }
}

/// The rows of `batches` as cells of text. A last cell with line breaks (a plan) becomes
/// one more row per line, numbered, its indentation turned into dashes.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, ArrowError> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut cells = batch
                .columns()
                .iter()
                .map(|column| cell(column, row))
                .collect::<Result<Vec<_>, _>>()?;
            let last = cells.pop();
            match last {
                Some(text) if text.contains('\n') => {
                    rows.push(cells);
                    for (i, line) in text.split('\n').enumerate() {
                        let content = line.trim_start();
                        let dashes = "-".repeat(line.len() - content.len());
                        rows.push(vec![format!("{:02}){dashes}{content}", i + 1)]);
                    }
                }
                Some(text) => {
                    cells.push(text);
                    rows.push(cells);
                }
                None => rows.push(cells),
            }
        }
    }
    Ok(rows)
}

/// One value as text.
pub fn cell(column: &ArrayRef, row: usize) -> Result<String, ArrowError> {
    if column.is_null(row) {
        return Ok("NULL".to_string());
    }
    let any = column.as_any();
    let text = match column.data_type() {
        DataType::Null => "NULL".to_string(),
        DataType::Boolean => downcast::<BooleanArray>(any)?.value(row).to_string(),
        DataType::Float16 => {
            let value = downcast::<Float16Array>(any)?.value(row).to_f32();
            float(f64::from(value), value.to_string())
        }
        DataType::Float32 => {
            let value = downcast::<Float32Array>(any)?.value(row);
            float(f64::from(value), value.to_string())
        }
        DataType::Float64 => {
            let value = downcast::<Float64Array>(any)?.value(row);
            float(value, value.to_string())
        }
        DataType::Decimal32(_, scale) => {
            decimal_cell::<Decimal32Type>(column.as_primitive::<Decimal32Type>().value(row), *scale)
        }
        DataType::Decimal64(_, scale) => {
            decimal_cell::<Decimal64Type>(column.as_primitive::<Decimal64Type>().value(row), *scale)
        }
        DataType::Decimal128(_, scale) => decimal_cell::<Decimal128Type>(
            column.as_primitive::<Decimal128Type>().value(row),
            *scale,
        ),
        DataType::Decimal256(_, scale) => decimal_cell::<Decimal256Type>(
            column.as_primitive::<Decimal256Type>().value(row),
            *scale,
        ),
        DataType::Utf8 => text(downcast::<StringArray>(any)?.value(row)),
        DataType::LargeUtf8 => text(downcast::<LargeStringArray>(any)?.value(row)),
        DataType::Utf8View => text(downcast::<StringViewArray>(any)?.value(row)),
        DataType::Dictionary(..) => {
            let dictionary = column.as_any_dictionary();
            let key = dictionary.normalized_keys()[row];
            return cell(dictionary.values(), key);
        }
        _ => {
            let mut options = FormatOptions::default();
            options
                .set("null", "NULL")
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            let options = spate::arrow::util::display::FormatOptions::try_from(&options)
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            ArrayFormatter::try_new(column.as_ref(), &options)?
                .value(row)
                .to_string()
        }
    };
    Ok(text)
}

fn downcast<T: 'static>(any: &dyn std::any::Any) -> Result<&T, ArrowError> {
    any.downcast_ref::<T>().ok_or_else(|| {
        ArrowError::CastError(format!("array is not a {}", std::any::type_name::<T>()))
    })
}

fn text(value: &str) -> String {
    if value.is_empty() {
        "(empty)".to_string()
    } else {
        value.trim_end_matches('\n').replace('\0', "\\0")
    }
}

/// A float: `NaN` without its sign, `Infinity`, or its shortest decimal form rounded to
/// 12 decimal places.
fn float(value: f64, shortest: String) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "Infinity".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Infinity".to_string()
    } else {
        plain_decimal(&shortest, 12)
    }
}

fn decimal_cell<T: DecimalType>(value: T::Native, scale: i8) -> String {
    let text = T::format_decimal(value, u8::MAX, scale);
    plain_decimal(&text, u32::try_from(scale).unwrap_or(0))
}

/// `number` (digits with an optional sign and point, no exponent) rounded half to even to
/// `places` decimal places, without trailing zeros in the fraction, `-` dropped from zero.
pub fn plain_decimal(number: &str, places: u32) -> String {
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let places = places as usize;
    // All digits as one integer of `int_part.len() + places` digits, plus what is cut off.
    let mut kept: Vec<u8> = int_part.bytes().map(|b| b - b'0').collect();
    let frac: Vec<u8> = frac_part.bytes().map(|b| b - b'0').collect();
    kept.extend(frac.iter().take(places));
    kept.extend(std::iter::repeat_n(0, places.saturating_sub(frac.len())));
    let cut = frac.get(places..).unwrap_or(&[]);
    let round_up = match cut.split_first() {
        Some((&first, rest)) => {
            first > 5
                || (first == 5
                    && (rest.iter().any(|&d| d != 0) || kept.last().is_some_and(|d| d % 2 == 1)))
        }
        None => false,
    };
    if round_up {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, 1);
                break;
            }
            i -= 1;
            if kept[i] == 9 {
                kept[i] = 0;
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let split = kept.len() - places;
    let int_digits: String = kept[..split].iter().map(|d| char::from(b'0' + d)).collect();
    let frac_digits: String = kept[split..].iter().map(|d| char::from(b'0' + d)).collect();
    let int_digits = int_digits.trim_start_matches('0');
    let frac_digits = frac_digits.trim_end_matches('0');
    let int_digits = if int_digits.is_empty() {
        "0"
    } else {
        int_digits
    };
    let zero = int_digits == "0" && frac_digits.is_empty();
    let sign = if negative && !zero { "-" } else { "" };
    if frac_digits.is_empty() {
        format!("{sign}{int_digits}")
    } else {
        format!("{sign}{int_digits}.{frac_digits}")
    }
}

#[test]
fn plain_decimals_round_half_to_even_and_drop_trailing_zeros() {
    assert_eq!(plain_decimal("0.30000000000000004", 12), "0.3");
    assert_eq!(plain_decimal("1.0000000000011", 12), "1.000000000001");
    assert_eq!(plain_decimal("-0.0000000000001", 12), "0");
    assert_eq!(plain_decimal("-0", 12), "0");
    assert_eq!(plain_decimal("100", 12), "100");
    assert_eq!(plain_decimal("1.50", 2), "1.5");
    assert_eq!(plain_decimal("9.9999999999999", 12), "10");
    assert_eq!(plain_decimal("0.0000000000005", 12), "0");
    assert_eq!(plain_decimal("0.0000000000015", 12), "0.000000000002");
    assert_eq!(plain_decimal("-123.456", 0), "-123");
    assert_eq!(plain_decimal("123", 0), "123");
}
