//! Values written as Spark's suite writes them (`HiveResult.toHiveString`): `NULL` for a
//! top-level null and `null` inside arrays, maps and structs; strings bare at the top and
//! double-quoted inside; doubles as Java's `Double.toString` (`1.0`, `1.0E10`, `NaN`);
//! decimals in plain notation with their scale; timestamps `yyyy-MM-dd HH:mm:ss[.ffffff]`
//! in the session time zone, trailing zeros of the fraction dropped; arrays `[1,2]`, maps
//! `{k:v}` with entries sorted, structs `{"a":1}`.

use spate::arrow::array::{Array, ArrayRef, AsArray};
use spate::arrow::compute::cast;
use spate::arrow::datatypes::{
    DataType, Float32Type, Float64Type, IntervalMonthDayNanoType, IntervalUnit,
    IntervalYearMonthType,
};
use spate::arrow::record_batch::RecordBatch;
use spate::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The rows of `batches`, each as Spark's tab-separated line.
pub(crate) fn spark_rows(batches: &[RecordBatch], time_zone: &str) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| in_time_zone(c, time_zone))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let values: Vec<String> = columns
                .iter()
                .map(|c| format_value(c.as_ref(), row, false))
                .collect::<Result<_, _>>()?;
            rows.push(values.join("\t"));
        }
    }
    Ok(rows)
}

/// Timestamps with a time zone moved to the session's, so they print as local time.
fn in_time_zone(column: &ArrayRef, time_zone: &str) -> Result<ArrayRef, String> {
    match column.data_type() {
        DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != time_zone => {
            cast(column, &DataType::Timestamp(*unit, Some(time_zone.into())))
                .map_err(|e| e.to_string())
        }
        _ => Ok(column.clone()),
    }
}

/// One value; `nested` inside an array, map or struct.
pub(crate) fn format_value(array: &dyn Array, row: usize, nested: bool) -> Result<String, String> {
    if array.is_null(row) {
        return Ok(if nested { "null" } else { "NULL" }.to_string());
    }
    let text = match array.data_type() {
        DataType::Float64 => java_double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => java_float(array.as_primitive::<Float32Type>().value(row)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = leaf(array, row)?;
            if nested { format!("\"{text}\"") } else { text }
        }
        DataType::Binary => String::from_utf8_lossy(array.as_binary::<i32>().value(row)).into(),
        DataType::LargeBinary => {
            String::from_utf8_lossy(array.as_binary::<i64>().value(row)).into()
        }
        DataType::BinaryView => String::from_utf8_lossy(array.as_binary_view().value(row)).into(),
        DataType::List(_) => elements(&array.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => elements(&array.as_list::<i64>().value(row))?,
        DataType::FixedSizeList(_, _) => elements(&array.as_fixed_size_list().value(row))?,
        DataType::Struct(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .zip(array.as_struct().columns())
                .map(|(f, c)| Ok(format!("\"{}\":{}", f.name(), format_value(c, row, true)?)))
                .collect::<Result<_, String>>()?;
            format!("{{{}}}", parts.join(","))
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let mut parts: Vec<String> = (0..entries.len())
                .map(|i| {
                    Ok(format!(
                        "{}:{}",
                        format_value(entries.column(0), i, true)?,
                        format_value(entries.column(1), i, true)?
                    ))
                })
                .collect::<Result<_, String>>()?;
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
        DataType::Interval(IntervalUnit::YearMonth) => {
            year_month(array.as_primitive::<IntervalYearMonthType>().value(row))
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            calendar_interval(v.months, v.days, v.nanoseconds)
        }
        DataType::Timestamp(_, _) => trim_fraction(leaf(array, row)?),
        _ => leaf(array, row)?,
    };
    Ok(text)
}

fn elements(values: &ArrayRef) -> Result<String, String> {
    let parts: Vec<String> = (0..values.len())
        .map(|i| format_value(values.as_ref(), i, true))
        .collect::<Result<_, _>>()?;
    Ok(format!("[{}]", parts.join(",")))
}

/// A scalar through Arrow's formatter, with Spark's date and timestamp patterns.
fn leaf(array: &dyn Array, row: usize) -> Result<String, String> {
    let options = FormatOptions::new()
        .with_null("NULL")
        .with_date_format(Some("%Y-%m-%d"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    let formatter = ArrayFormatter::try_new(array, &options).map_err(|e| e.to_string())?;
    Ok(formatter.value(row).to_string())
}

/// `2016-12-31 00:12:00.120000` as `2016-12-31 00:12:00.12`.
fn trim_fraction(text: String) -> String {
    match text.rfind('.') {
        Some(dot) if text[dot + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            let trimmed = text.trim_end_matches('0');
            trimmed.strip_suffix('.').unwrap_or(trimmed).to_string()
        }
        _ => text,
    }
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7, else `d.dddE±n`.
pub(crate) fn java_double(value: f64) -> String {
    java_number(value, value.abs(), format!("{value}"), format!("{value:e}"))
}

/// Java's `Float.toString`.
pub(crate) fn java_float(value: f32) -> String {
    let magnitude = f64::from(value.abs());
    java_number(
        f64::from(value),
        magnitude,
        format!("{value}"),
        format!("{value:e}"),
    )
}

fn java_number(value: f64, magnitude: f64, plain: String, scientific: String) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// Spark's ANSI year-month interval: `INTERVAL '1-2' YEAR TO MONTH`.
fn year_month(months: i32) -> String {
    let sign = if months < 0 { "-" } else { "" };
    let months = months.unsigned_abs();
    format!(
        "INTERVAL '{sign}{}-{}' YEAR TO MONTH",
        months / 12,
        months % 12
    )
}

/// Spark's `CalendarInterval.toString`: `1 years 2 months 3 days 4 hours 5.5 seconds`.
fn calendar_interval(months: i32, days: i32, nanos: i64) -> String {
    let mut parts = Vec::new();
    let (years, months) = (months / 12, months % 12);
    for (n, unit) in [(years, "years"), (months, "months"), (days, "days")] {
        if n != 0 {
            parts.push(format!("{n} {unit}"));
        }
    }
    let micros = nanos / 1000;
    let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    for (n, unit) in [(hours, "hours"), (minutes, "minutes")] {
        if n != 0 {
            parts.push(format!("{n} {unit}"));
        }
    }
    if rest != 0 {
        let seconds = format!("{}.{:06}", rest / 1_000_000, (rest % 1_000_000).abs());
        let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
        parts.push(format!("{seconds} seconds"));
    }
    if parts.is_empty() {
        "0 seconds".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(-0.5), "-0.5");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(1234567.0), "1234567.0");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_float(0.1), "0.1");
    }

    #[test]
    fn fractions_lose_trailing_zeros() {
        assert_eq!(
            trim_fraction("2016-12-31 00:12:00.120000".into()),
            "2016-12-31 00:12:00.12"
        );
        assert_eq!(
            trim_fraction("2016-12-31 00:12:00".into()),
            "2016-12-31 00:12:00"
        );
        assert_eq!(
            calendar_interval(14, 3, 5_500_000_000),
            "1 years 2 months 3 days 5.5 seconds"
        );
    }
}
