//! Spark's `mask(str[, upperChar, lowerChar, digitChar, otherChar])`: `str` with each
//! upper-case letter replaced by `upperChar` (default `X`), each lower-case letter by
//! `lowerChar` (`x`), each digit by `digitChar` (`n`) and every other character by
//! `otherChar` (default NULL). A NULL replacement keeps that class of characters as they
//! are; a NULL `str` gives NULL.
//!
//! # Algorithm
//! Spark names the call with its defaults filled in (`mask(s, X, x, n, NULL)`), so the
//! Spark dialect writes them into the call before naming it
//! ([`crate::spark_rewrites::fill_defaults`]), and this function always receives five
//! arguments. The replacements must be constants of one character each (Spark's rule);
//! the string is then mapped character by character: letters by their Unicode case, the
//! digits `0`-`9` (Spark also counts other Unicode decimal digits as digits).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The argument names, for errors.
const ARGUMENTS: [&str; 4] = ["upperChar", "lowerChar", "digitChar", "otherChar"];

/// Spark's `mask`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Mask {
    signature: Signature,
}

impl Mask {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Mask {
    fn name(&self) -> &str {
        "mask"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > 5 {
            return plan_err!("mask takes one to five arguments");
        }
        arg_types
            .iter()
            .map(|t| match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                    Ok(DataType::Utf8)
                }
                other => plan_err!("mask takes strings, not {other}"),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let defaults = [Some('X'), Some('x'), Some('n'), None];
        let mut replacements = defaults;
        for (i, arg) in args.args.iter().enumerate().skip(1) {
            let ColumnarValue::Scalar(value) = arg else {
                return exec_err!("mask's {} must be a constant", ARGUMENTS[i - 1]);
            };
            replacements[i - 1] = match value {
                ScalarValue::Utf8(Some(text)) => {
                    let mut chars = text.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Some(c),
                        _ => {
                            return exec_err!(
                                "mask's {} must be one character, not '{text}'",
                                ARGUMENTS[i - 1]
                            );
                        }
                    }
                }
                _ => None,
            };
        }
        let is_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = args.args[0].to_array(args.number_rows)?;
        let input = arrow::compute::cast(&input, &DataType::Utf8)?;
        let Some(strings) = input.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("mask takes a string");
        };
        let masked: StringArray = strings
            .iter()
            .map(|s| s.map(|s| mask(s, &replacements)))
            .collect();
        let masked: ArrayRef = Arc::new(masked);
        if is_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &masked, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(masked))
        }
    }
}

/// `text` with each character replaced by its class's replacement, if it has one.
fn mask(text: &str, [upper, lower, digit, other]: &[Option<char>; 4]) -> String {
    text.chars()
        .map(|c| {
            let replacement = if c.is_uppercase() {
                upper
            } else if c.is_lowercase() {
                lower
            } else if c.is_ascii_digit() {
                digit
            } else {
                other
            };
            replacement.unwrap_or(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_each_class_and_keeps_those_without_replacement() {
        let defaults = [Some('X'), Some('x'), Some('n'), None];
        assert_eq!(mask("AbCD123-@$#", &defaults), "XxXXnnn-@$#");
        let all = [Some('Q'), Some('q'), Some('d'), Some('o')];
        assert_eq!(mask("AbCD123-@$#", &all), "QqQQdddoooo");
        let digits_only = [None, None, Some('d'), None];
        assert_eq!(mask("abcd-EFGH-8765", &digits_only), "abcd-EFGH-dddd");
    }
}
