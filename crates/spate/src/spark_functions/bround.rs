//! Spark's `bround(expr[, d])`: `expr` rounded to `d` decimal places (default 0, negative
//! rounds left of the point) with HALF_EVEN rounding (banker's: `2.5` is `2`, `3.5` is
//! `4`), in `expr`'s type.
//!
//! # Algorithm
//! - Integers (`tinyint` to `bigint`): the value is rounded in 128 bits to a multiple of
//!   `10^-d` (a `d` of 0 or more leaves it as it is); a result outside the type wraps as
//!   Spark's non-ANSI `longValue` does (`bround(127Y, -1)` is `-126`), and fails under
//!   ANSI mode.
//! - Floats: as Spark, the value's shortest decimal text (Java's `Double.toString` digits)
//!   is rounded as a decimal and read back, so `bround(0.125D, 2)` is `0.12`. NaN and the
//!   infinities stay as they are.
//! - A NULL `d` gives NULL; decimals and other types are refused when the query is planned.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Spark's `bround`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Bround {
    signature: Signature,
}

impl Bround {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Bround {
    fn name(&self) -> &str {
        "bround"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let value = match arg_types.first() {
            Some(DataType::Null) => DataType::Float64,
            Some(
                t @ (DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float32
                | DataType::Float64),
            ) => t.clone(),
            Some(other) => return plan_err!("bround of {other} is not supported"),
            None => return plan_err!("bround takes one or two arguments"),
        };
        match arg_types.get(1..) {
            Some([]) => Ok(vec![value]),
            Some([scale]) if scale.is_integer() || scale.is_null() => {
                Ok(vec![value, DataType::Int32])
            }
            Some([scale]) => plan_err!("bround's scale must be an integer, not {scale}"),
            _ => plan_err!("bround takes one or two arguments"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(t) => Ok(t.clone()),
            None => plan_err!("bround takes one or two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ansi = args.config_options.execution.enable_ansi_mode;
        let scale = match args.args.get(1) {
            None => Some(0),
            Some(ColumnarValue::Scalar(ScalarValue::Int32(scale))) => *scale,
            Some(ColumnarValue::Scalar(s)) if s.is_null() => None,
            Some(_) => return exec_err!("bround's scale must be a constant"),
        };
        let value = &args.args[0];
        let Some(scale) = scale else {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(
                value.data_type(),
            )?));
        };
        let is_scalar = matches!(value, ColumnarValue::Scalar(_));
        let array = value.to_array(args.number_rows)?;
        let result: ArrayRef = match array.data_type() {
            DataType::Int8 => integers::<Int8Type>(&array, scale, ansi)?,
            DataType::Int16 => integers::<Int16Type>(&array, scale, ansi)?,
            DataType::Int32 => integers::<Int32Type>(&array, scale, ansi)?,
            DataType::Int64 => integers::<Int64Type>(&array, scale, ansi)?,
            DataType::Float32 => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(|v| round_float(f64::from(v), scale) as f32),
            ),
            DataType::Float64 => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(|v| round_float(v, scale)),
            ),
            other => return exec_err!("bround of {other} is not supported"),
        };
        if is_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// `bround` over an integer array.
fn integers<T>(array: &ArrayRef, scale: i32, ansi: bool) -> Result<ArrayRef>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64> + TryFrom<i128>,
{
    let values = array.as_primitive::<T>();
    let rounded: PrimitiveArray<T> = values
        .iter()
        .map(|v| {
            v.map(|v| {
                let exact = round_integer(v.into(), scale);
                match T::Native::try_from(exact) {
                    Ok(fits) => Ok(fits),
                    Err(_) if ansi => exec_err!("bround overflows {}: {exact}", T::DATA_TYPE),
                    // Spark's non-ANSI result: the low bits, as Java's narrowing does.
                    Err(_) => wrap::<T>(exact),
                }
            })
            .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(rounded))
}

/// The low bits of `value` as `T`, as Java's narrowing of a `long` does.
fn wrap<T>(value: i128) -> Result<T::Native>
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i128>,
{
    let bits = T::DATA_TYPE.primitive_width().unwrap_or(8) * 8;
    let low = value & ((1i128 << bits) - 1);
    let signed = if low >= 1i128 << (bits - 1) {
        low - (1i128 << bits)
    } else {
        low
    };
    T::Native::try_from(signed).or_else(|_| exec_err!("bround cannot narrow {value}"))
}

/// `value` rounded HALF_EVEN to a multiple of `10^-scale`.
fn round_integer(value: i64, scale: i32) -> i128 {
    let value = i128::from(value);
    if scale >= 0 {
        return value;
    }
    // 10^39 exceeds every i64; rounding to it gives 0.
    let Some(unit) = 10i128
        .checked_pow(scale.unsigned_abs())
        .filter(|u| *u <= 10i128.pow(20))
    else {
        return 0;
    };
    let (quotient, remainder) = (value / unit, value % unit);
    let twice = remainder.abs() * 2;
    let away = twice > unit || (twice == unit && quotient % 2 != 0);
    if away {
        quotient * unit + remainder.signum() * unit
    } else {
        quotient * unit
    }
}

/// `value` rounded HALF_EVEN to `scale` decimal places of its shortest decimal text.
fn round_float(value: f64, scale: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    // Digits and exponent of the shortest text: value = 0.d1d2d3... * 10^point.
    let text = format!("{:e}", value.abs());
    let Some((mantissa, exponent)) = text.split_once('e') else {
        return value;
    };
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let Ok(exponent) = exponent.parse::<i64>() else {
        return value;
    };
    let point = exponent + 1;
    // Keep the digits left of position `point + scale`.
    let keep = point + i64::from(scale);
    if keep >= digits.len() as i64 {
        return value;
    }
    if keep < 0 {
        return 0.0_f64.copysign(value);
    }
    let keep = keep as usize;
    let mut kept: Vec<u8> = digits[..keep].to_vec();
    let rest = &digits[keep..];
    let half = rest[0] > 5 || (rest[0] == 5 && rest[1..].iter().any(|d| *d != 0));
    let tie = rest[0] == 5 && rest[1..].iter().all(|d| *d == 0);
    let odd = kept.last().is_some_and(|d| d % 2 == 1);
    let mut carry = half || (tie && odd);
    for digit in kept.iter_mut().rev() {
        if !carry {
            break;
        }
        *digit += 1;
        carry = *digit == 10;
        if carry {
            *digit = 0;
        }
    }
    let mut number = String::from(if carry { "1" } else { "" });
    number.extend(kept.iter().map(|d| char::from(b'0' + d)));
    if number.is_empty() {
        number.push('0');
    }
    let shift = if carry { point + 1 } else { point } - number.len() as i64;
    let rounded: f64 = format!("{number}e{shift}").parse().unwrap_or(value.abs());
    rounded.copysign(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_half_to_even() {
        assert_eq!(round_integer(25, -1), 20);
        assert_eq!(round_integer(35, -1), 40);
        assert_eq!(round_integer(-25, -1), -20);
        assert_eq!(round_integer(525, -2), 500);
        assert_eq!(round_integer(550, -2), 600);
        assert_eq!(round_integer(525, -3), 1000);
        assert_eq!(round_integer(525, 1), 525);
        assert_eq!(round_integer(i64::MAX, -40), 0);
    }

    #[test]
    fn integers_outside_their_type_wrap_as_in_spark() {
        let array: ArrayRef = Arc::new(arrow::array::Int8Array::from(vec![127, 25]));
        let rounded = integers::<Int8Type>(&array, -1, false).unwrap();
        let rounded = rounded.as_primitive::<Int8Type>();
        assert_eq!(rounded.values(), &[-126, 20]);
        assert!(integers::<Int8Type>(&array, -1, true).is_err());
        let array: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![i64::MIN]));
        let rounded = integers::<Int64Type>(&array, -1, false).unwrap();
        assert_eq!(
            rounded.as_primitive::<Int64Type>().value(0),
            9223372036854775806
        );
    }

    #[test]
    fn floats_round_their_decimal_text_half_to_even() {
        assert_eq!(round_float(2.5, 0), 2.0);
        assert_eq!(round_float(3.5, 0), 4.0);
        assert_eq!(round_float(-2.5, 0), -2.0);
        assert_eq!(round_float(0.125, 2), 0.12);
        assert_eq!(round_float(0.135, 2), 0.14);
        assert_eq!(round_float(9.96, 1), 10.0);
        assert_eq!(round_float(1234.5, -2), 1200.0);
        assert_eq!(round_float(0.4, 0), 0.0);
        assert_eq!(round_float(0.04, -1), 0.0);
        assert!(round_float(f64::NAN, 1).is_nan());
    }
}
