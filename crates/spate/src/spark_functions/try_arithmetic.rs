//! Spark's `try_add`, `try_subtract`, `try_multiply` and `try_divide` on numbers: the
//! operator's result, or NULL where it overflows its type or divides by zero, whatever
//! the ANSI mode.
//!
//! # Algorithm
//! - Types: `try_add`, `try_subtract` and `try_multiply` coerce their arguments as the
//!   operator does (`int + int` is `int`, `int * decimal(10,0)` is `decimal(21,0)`), and
//!   return the operator's type. `try_divide` of integers and floats divides `double`s, as
//!   Spark's `/` does. A string argument is read as a `double` (Spark's reading outside
//!   ANSI mode). Dates, timestamps, intervals and decimal division are refused when the
//!   query is planned, naming the types.
//! - Values: Arrow's checked kernel runs over the whole batch. If it reports an overflow,
//!   the rows run one by one and the rows that overflow become NULL. Decimal results with
//!   more digits than their precision are NULL; a divisor of zero gives NULL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::kernels::numeric;
use arrow::compute::{cast, concat, nullif};
use arrow::datatypes::{DataType, Decimal128Type};
use arrow::error::ArrowError;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Operator, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// One of Spark's `try_*` arithmetic functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TryArithmetic {
    name: &'static str,
    op: Operator,
    signature: Signature,
}

impl TryArithmetic {
    pub(crate) fn add() -> Self {
        Self::new("try_add", Operator::Plus)
    }

    pub(crate) fn subtract() -> Self {
        Self::new("try_subtract", Operator::Minus)
    }

    pub(crate) fn multiply() -> Self {
        Self::new("try_multiply", Operator::Multiply)
    }

    pub(crate) fn divide() -> Self {
        Self::new("try_divide", Operator::Divide)
    }

    fn new(name: &'static str, op: Operator) -> Self {
        Self {
            name,
            op,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// The argument types the operator computes on, and its result type.
    fn types(&self, left: &DataType, right: &DataType) -> Result<(DataType, DataType, DataType)> {
        let read = |t: &DataType| match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Float64,
            other => other.clone(),
        };
        let (left, right) = (read(left), read(right));
        if !(left.is_numeric() || left.is_null()) || !(right.is_numeric() || right.is_null()) {
            return plan_err!(
                "{} of {left} and {right} is not supported: only numbers",
                self.name
            );
        }
        if self.op == Operator::Divide {
            if matches!(left, DataType::Decimal128(..) | DataType::Decimal256(..))
                || matches!(right, DataType::Decimal128(..) | DataType::Decimal256(..))
            {
                return plan_err!("{} of decimals is not supported", self.name);
            }
            return Ok((DataType::Float64, DataType::Float64, DataType::Float64));
        }
        let coercer = BinaryTypeCoercer::new(&left, &self.op, &right);
        let (lhs, rhs) = coercer.get_input_types()?;
        let result = coercer.get_result_type()?;
        Ok((lhs, rhs, result))
    }

    /// The operator over whole arrays, failing on overflow.
    fn kernel(&self, left: &dyn Array, right: &dyn Array) -> Result<ArrayRef, ArrowError> {
        match self.op {
            Operator::Plus => numeric::add(&left, &right),
            Operator::Minus => numeric::sub(&left, &right),
            Operator::Multiply => numeric::mul(&left, &right),
            _ => {
                let zero = ScalarValue::new_zero(right.data_type())
                    .and_then(|z| z.to_array_of_size(right.len()))
                    .map_err(|e| ArrowError::ComputeError(e.to_string()))?;
                let zero_divisor = eq(&right, &zero)?;
                let divisor = nullif(right, &zero_divisor)?;
                numeric::div(&left, &divisor)
            }
        }
    }

    /// The operator over arrays, NULL in the rows that overflow.
    fn evaluate(&self, left: &ArrayRef, right: &ArrayRef, result: &DataType) -> Result<ArrayRef> {
        let computed = match self.kernel(left, right) {
            Ok(array) => array,
            Err(ArrowError::ArithmeticOverflow(_)) => {
                let rows = (0..left.len())
                    .map(|i| {
                        let (l, r) = (left.slice(i, 1), right.slice(i, 1));
                        match self.kernel(&l, &r) {
                            Ok(row) => Ok(row),
                            Err(ArrowError::ArithmeticOverflow(_)) => Ok(new_null_array(result, 1)),
                            Err(e) => Err(e),
                        }
                    })
                    .collect::<Result<Vec<_>, ArrowError>>()?;
                let rows = rows
                    .iter()
                    .map(|row| cast(row, result))
                    .collect::<Result<Vec<_>, ArrowError>>()?;
                let refs: Vec<&dyn Array> = rows.iter().map(|r| r.as_ref()).collect();
                concat(&refs)?
            }
            Err(e) => return Err(e.into()),
        };
        let computed = cast(&computed, result)?;
        Ok(match result {
            DataType::Decimal128(precision, _) => Arc::new(
                computed
                    .as_primitive::<Decimal128Type>()
                    .null_if_overflow_precision(*precision),
            ),
            _ => computed,
        })
    }
}

impl ScalarUDFImpl for TryArithmetic {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [left, right] = arg_types else {
            return plan_err!("{} takes two arguments", self.name);
        };
        let (left, right, _) = self.types(left, right)?;
        Ok(vec![left, right])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [left, right] = arg_types else {
            return plan_err!("{} takes two arguments", self.name);
        };
        Ok(self.types(left, right)?.2)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [left, right] = arrays.as_slice() else {
            return plan_err!("{} takes two arguments", self.name);
        };
        let result = self.evaluate(left, right, args.return_field.data_type())?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Float64Array, Int32Array};

    /// `f` as DataFusion calls it: on the arguments cast to the coerced types.
    fn run(f: &TryArithmetic, left: ArrayRef, right: ArrayRef) -> ArrayRef {
        let (lhs, rhs, result) = f.types(left.data_type(), right.data_type()).unwrap();
        let left = cast(&left, &lhs).unwrap();
        let right = cast(&right, &rhs).unwrap();
        f.evaluate(&left, &right, &result).unwrap()
    }

    #[test]
    fn overflowing_rows_are_null_and_the_others_computed() {
        let left: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(i32::MAX), None]));
        let right: ArrayRef = Arc::new(Int32Array::from(vec![1, 1, 1]));
        let sum = run(&TryArithmetic::add(), left.clone(), right.clone());
        assert_eq!(
            sum.as_primitive::<arrow::datatypes::Int32Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(2), None, None]
        );
        let product = run(&TryArithmetic::multiply(), left, right);
        assert_eq!(
            product
                .as_primitive::<arrow::datatypes::Int32Type>()
                .value(1),
            i32::MAX
        );
    }

    #[test]
    fn divide_reads_doubles_and_zero_divisors_give_null() {
        let left: ArrayRef = Arc::new(Int32Array::from(vec![1, 1]));
        let right: ArrayRef = Arc::new(Int32Array::from(vec![2, 0]));
        let quotient = run(&TryArithmetic::divide(), left, right);
        let quotient = quotient.as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(quotient.iter().collect::<Vec<_>>(), [Some(0.5), None]);
    }

    #[test]
    fn decimals_beyond_their_precision_are_null() {
        let big = Decimal128Array::from(vec![10_i128.pow(37) * 5])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let big: ArrayRef = Arc::new(big);
        let sum = run(&TryArithmetic::add(), big.clone(), big);
        assert!(sum.is_null(0));
        let f = TryArithmetic::add();
        assert!(f.types(&DataType::Date32, &DataType::Int32).is_err());
    }
}
