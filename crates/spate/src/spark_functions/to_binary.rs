//! Spark's `to_binary(str[, fmt])` and `try_to_binary(str[, fmt])`: `str` read as bytes in
//! the format `fmt` names (case-insensitive `hex`, the default, `utf-8` or `utf8`, or
//! `base64`). A NULL `str` or `fmt` gives NULL. `to_binary` fails on text that is not in
//! the format and on an unknown format; `try_to_binary` gives NULL for both.
//!
//! # Algorithm
//! `fmt` must be a constant (Spark's rule). Each string is decoded on its own:
//! - `hex`: pairs of hex digits, case-insensitive; an odd count reads the first digit
//!   alone (`'123'` is `0x01 0x23`), as Spark's `unhex` does; anything else is invalid;
//! - `utf-8`: the string's bytes;
//! - `base64`: the standard alphabet; spaces, tabs and line breaks before the padding are
//!   skipped; a last group of two or three characters may go without its `=` padding, but
//!   padding, when there, completes the group and ends the text (Java's decoder, behind
//!   Spark's check).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Spark's `to_binary` (`lenient` false) or `try_to_binary` (`lenient` true).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToBinary {
    lenient: bool,
    signature: Signature,
}

/// The formats `to_binary` reads.
#[derive(Debug, Clone, Copy)]
enum Format {
    Hex,
    Utf8,
    Base64,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Hex => "hex",
            Format::Utf8 => "utf-8",
            Format::Base64 => "base64",
        }
    }
}

impl ToBinary {
    pub(crate) fn new(lenient: bool) -> Self {
        Self {
            lenient,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn function(&self) -> &'static str {
        if self.lenient {
            "try_to_binary"
        } else {
            "to_binary"
        }
    }

    /// `fmt`'s format, `None` for a NULL `fmt`.
    fn format(&self, fmt: Option<&ColumnarValue>) -> Result<Option<Format>> {
        let text = match fmt {
            None => return Ok(Some(Format::Hex)),
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(text))) => text.as_deref(),
            Some(ColumnarValue::Scalar(s)) if s.is_null() => None,
            Some(_) => return exec_err!("{}'s format must be a constant", self.function()),
        };
        let Some(text) = text else {
            return Ok(None);
        };
        Ok(Some(match text.to_ascii_lowercase().as_str() {
            "hex" => Format::Hex,
            "utf-8" | "utf8" => Format::Utf8,
            "base64" => Format::Base64,
            _ => {
                return exec_err!(
                    "{}'s format must be hex, utf-8, utf8 or base64, not '{text}'",
                    self.function()
                );
            }
        }))
    }
}

impl ScalarUDFImpl for ToBinary {
    fn name(&self) -> &str {
        self.function()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > 2 {
            return plan_err!("{} takes one or two arguments", self.function());
        }
        arg_types
            .iter()
            .map(|t| match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                    Ok(DataType::Utf8)
                }
                // try_to_binary('abc', 1) is NULL in Spark: the format is then invalid.
                other if self.lenient => Ok(other.clone()),
                other => plan_err!("{} takes strings, not {other}", self.function()),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let format = match self.format(args.args.get(1)) {
            Ok(format) => format,
            Err(_) if self.lenient => None,
            Err(e) => return Err(e),
        };
        let Some(format) = format else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Binary(None)));
        };
        let is_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = args.args[0].to_array(args.number_rows)?;
        let input = arrow::compute::cast(&input, &DataType::Utf8)?;
        let Some(strings) = input.as_any().downcast_ref::<StringArray>() else {
            return exec_err!("{} takes a string", self.function());
        };
        let decoded = strings
            .iter()
            .map(|s| {
                let Some(s) = s else {
                    return Ok(None);
                };
                match decode(s, format) {
                    Some(bytes) => Ok(Some(bytes)),
                    None if self.lenient => Ok(None),
                    None => exec_err!("to_binary: '{s}' is not valid {}", format.name()),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let decoded: ArrayRef = Arc::new(BinaryArray::from_iter(decoded));
        if is_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &decoded, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(decoded))
        }
    }
}

/// The bytes `text` stands for in `format`, `None` if it is not valid.
fn decode(text: &str, format: Format) -> Option<Vec<u8>> {
    match format {
        Format::Utf8 => Some(text.as_bytes().to_vec()),
        Format::Hex => unhex(text),
        Format::Base64 => unbase64(text),
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let (first, rest) = digits.split_at(digits.len() % 2);
    let mut bytes: Vec<u8> = first.to_vec();
    bytes.extend(rest.chunks(2).map(|pair| (pair[0] << 4) | pair[1]));
    Some(bytes)
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let (data, padding) = match text.find('=') {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    if padding.len() > 2 || padding.chars().any(|c| c != '=') {
        return None;
    }
    let values = data
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .map(|c| match c {
            'A'..='Z' => Some(c as u32 - 'A' as u32),
            'a'..='z' => Some(c as u32 - 'a' as u32 + 26),
            '0'..='9' => Some(c as u32 - '0' as u32 + 52),
            '+' => Some(62),
            '/' => Some(63),
            _ => None,
        })
        .collect::<Option<Vec<u32>>>()?;
    let tail = values.len() % 4;
    if tail == 1 || (!padding.is_empty() && tail + padding.len() != 4) {
        return None;
    }
    let mut bytes = Vec::with_capacity(values.len() * 3 / 4);
    for group in values.chunks(4) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        let [_, a, b, c] = bits.to_be_bytes();
        bytes.extend_from_slice(&[a, b, c][..group.len() - 1]);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_pairs_and_a_leading_odd_digit() {
        assert_eq!(unhex("737472696E67").unwrap(), b"string");
        assert_eq!(unhex("123").unwrap(), [0x01, 0x23]);
        assert_eq!(unhex("abc").unwrap(), [0x0a, 0xbc]);
        assert_eq!(unhex("").unwrap(), b"");
        assert!(unhex("GG").is_none());
        assert!(unhex("01 AF").is_none());
    }

    #[test]
    fn base64_skips_spaces_and_checks_padding() {
        assert_eq!(unbase64("U3BhcmsgU1FM").unwrap(), b"Spark SQL");
        assert_eq!(unbase64(" ab cd ").unwrap(), [0x69, 0xb7, 0x1d]);
        assert_eq!(unbase64(" ab c=").unwrap(), [0x69, 0xb7]);
        assert_eq!(unbase64("  ").unwrap(), b"");
        for invalid in [" ab cdef= = ", "a", "a?", "abcde", "abcd=", "a===", "ab==f"] {
            assert!(unbase64(invalid).is_none(), "{invalid}");
        }
    }
}
