//! Spark's datetime patterns (Java's `DateTimeFormatter` letters: `yyyy-MM-dd HH:mm:ss.SSS`,
//! quoted text `'T'`, `''` for a quote) written as the chrono `strftime` patterns that
//! DataFusion's `to_timestamp`, `to_date` and `date_format` (`to_char`) read, under the
//! Spark dialect.
//!
//! # Algorithm
//! Every call of a function that takes a pattern ([`PATTERN_FUNCTIONS`]) whose pattern
//! argument (the second) is a string literal gets that literal translated. The pattern
//! is read left to right:
//! - a run of one letter (`yyyy`, `MM`, `d`) is one field, looked up by letter and run
//!   length in [`field`]; the run must translate exactly (Java's padding and text forms)
//!   in the direction the function uses it (formatting or parsing), else the statement
//!   fails naming the pattern and the field;
//! - `'...'` is literal text (`''` inside or alone is one quote);
//! - `[` and `]` (optional sections) and Java's reserved `{`, `}`, `#` are refused;
//! - any other character is literal (`%` written as chrono's `%%`).
//!
//! A pattern that is not a literal (a column) is left as it is; DataFusion then reads it
//! as chrono's. Where Spark parses more leniently than the translation (Spark's `SSS`
//! reads one to three fraction digits, chrono's `%3f` exactly three), the translation
//! fails on the input rather than return a different value.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart, Statement, Value,
    ValueWithSpan, VisitMut, VisitorMut,
};

use crate::error::SpateError;

/// Whether a function formats values with its pattern or parses text with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Format,
    Parse,
}

/// The functions whose second argument is a datetime pattern, and what they do with it.
const PATTERN_FUNCTIONS: &[(&str, Direction)] = &[
    ("date_format", Direction::Format),
    ("to_timestamp", Direction::Parse),
    ("to_date", Direction::Parse),
    ("unix_timestamp", Direction::Parse),
    ("to_unix_timestamp", Direction::Parse),
];

/// Translates the literal patterns of the datetime functions in `statement`, or names the
/// first pattern that cannot be translated exactly.
pub(crate) fn translate_patterns(statement: &mut Statement) -> Result<(), SpateError> {
    match statement.visit(&mut Translator) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

struct Translator;

impl VisitorMut for Translator {
    type Break = SpateError;

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<SpateError> {
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        let name = match function.name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => ident.value.to_lowercase(),
            _ => return ControlFlow::Continue(()),
        };
        let Some(&(_, direction)) = PATTERN_FUNCTIONS.iter().find(|(f, _)| *f == name) else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &mut function.args else {
            return ControlFlow::Continue(());
        };
        let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(pattern) | Value::DoubleQuotedString(pattern),
            ..
        })))) = list.args.get_mut(1)
        else {
            return ControlFlow::Continue(());
        };
        match translate(pattern, direction) {
            Ok(chrono) => {
                *pattern = chrono;
                ControlFlow::Continue(())
            }
            Err(reason) => ControlFlow::Break(SpateError::SparkUnsupported {
                construct: format!("datetime pattern '{pattern}' of {name}"),
                reason,
            }),
        }
    }
}

/// The chrono pattern for Spark's `pattern`, or why there is none.
fn translate(pattern: &str, direction: Direction) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() {
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let letters: String = chars[i..i + run].iter().collect();
            let chrono = field(c, run, direction).ok_or_else(|| match direction {
                Direction::Format => format!("'{letters}' has no exact equivalent in formatting"),
                Direction::Parse => format!("'{letters}' has no exact equivalent in parsing"),
            })?;
            out.push_str(chrono);
            i += run;
        } else if c == '\'' {
            i += 1;
            if chars.get(i) == Some(&'\'') {
                out.push('\'');
                i += 1;
                continue;
            }
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (None, _) => return Err("a quoted text is not closed".into()),
                    (Some('\''), Some('\'')) => {
                        out.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some(&text), _) => {
                        push_literal(&mut out, text);
                        i += 1;
                    }
                }
            }
        } else if matches!(c, '[' | ']') {
            return Err("optional sections ([...]) are not supported".into());
        } else if matches!(c, '{' | '}' | '#') {
            return Err(format!("'{c}' is reserved"));
        } else {
            push_literal(&mut out, c);
            i += 1;
        }
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// The chrono item for a run of `count` letters `letter`, where Java's and chrono's
/// output (padding, text) agree, and for parsing where both read the same text.
fn field(letter: char, count: usize, direction: Direction) -> Option<&'static str> {
    let format = direction == Direction::Format;
    Some(match (letter, count) {
        // Year: `y` unpadded, `yy` the last two digits, `yyyy` four digits. Spark parses
        // `yy` into 2000-2099, chrono into 1970-2069.
        ('y', 1) if format => "%-Y",
        ('y', 1) => "%Y",
        ('y', 2) if format => "%y",
        ('y', 4) => "%Y",
        // Month: number unpadded or two digits, short or full name (Spark: M or L).
        ('M' | 'L', 1) if format => "%-m",
        ('M' | 'L', 1 | 2) => "%m",
        ('M' | 'L', 3) => "%b",
        ('M' | 'L', 4) => "%B",
        // Day of month and of year.
        ('d', 1) if format => "%-d",
        ('d', 1 | 2) => "%d",
        ('D', 1) if format => "%-j",
        ('D', 1) => "%j",
        ('D', 3) => "%j",
        // Hour of day (0-23), clock hour of half day (1-12), minute, second.
        ('H', 1) if format => "%-H",
        ('H', 1 | 2) => "%H",
        ('h', 1) if format => "%-I",
        ('h', 1 | 2) => "%I",
        ('m', 1) if format => "%-M",
        ('m', 1 | 2) => "%M",
        ('s', 1) if format => "%-S",
        ('s', 1 | 2) => "%S",
        // Fraction of second: exactly 3, 6 or 9 digits.
        ('S', 3) => "%3f",
        ('S', 6) => "%6f",
        ('S', 9) => "%9f",
        ('a', 1) => "%p",
        // Day of week: short or full name.
        ('E', 1..=3) => "%a",
        ('E', 4) => "%A",
        // Zone offset: `+0800` (`Z` to `ZZZ`, `xx`), `+08:00` (`xxx`).
        ('Z', 1..=3) | ('x', 2) => "%z",
        ('x', 3) => "%:z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    #[test]
    fn translates_letters_quotes_and_percent() {
        let t = |p| translate(p, Direction::Format);
        assert_eq!(
            t("yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%d %H:%M:%S.%3f"
        );
        assert_eq!(t("yyyy-MM-dd'T'HH:mm").unwrap(), "%Y-%m-%dT%H:%M");
        assert_eq!(t("''h' o''clock' a").unwrap(), "'%-I o'clock %p");
        assert_eq!(t("d MMM yy, EEEE").unwrap(), "%-d %b %y, %A");
        assert_eq!(t("100% yyyy").unwrap(), "100%% %Y");
        assert_eq!(t("").unwrap(), "");
    }

    #[test]
    fn the_direction_decides_padding_and_two_digit_years() {
        assert_eq!(
            translate("d/M/y", Direction::Format).unwrap(),
            "%-d/%-m/%-Y"
        );
        assert_eq!(translate("d/M/y", Direction::Parse).unwrap(), "%d/%m/%Y");
        assert!(translate("yy", Direction::Parse).is_err());
    }

    #[test]
    fn refuses_what_has_no_exact_equivalent() {
        for pattern in [
            "yyyy-MM-dd[ HH:mm]",
            "yyyy G",
            "yyy",
            "SS",
            "QQ",
            "'unclosed",
            "VV",
        ] {
            let error = translate(pattern, Direction::Format).unwrap_err();
            assert!(!error.is_empty(), "{pattern}");
        }
        assert!(
            translate("a[b]", Direction::Format)
                .unwrap_err()
                .contains("optional")
        );
    }

    fn translated(sql: &str) -> Result<String, String> {
        let mut statements = Parser::parse_sql(&SparkSqlDialect {}, sql).unwrap();
        translate_patterns(&mut statements[0]).map_err(|e| e.to_string())?;
        Ok(statements[0].to_string())
    }

    #[test]
    fn rewrites_literal_patterns_of_the_pattern_functions_only() {
        assert_eq!(
            translated(
                "SELECT date_format(ts, 'yyyy-MM-dd'), to_timestamp(s, fmt), \
                 TO_DATE(s, 'dd/MM/yyyy'), concat(s, 'yyyy') FROM t"
            )
            .unwrap(),
            "SELECT date_format(ts, '%Y-%m-%d'), to_timestamp(s, fmt), \
             TO_DATE(s, '%d/%m/%Y'), concat(s, 'yyyy') FROM t"
        );
        let error = translated("SELECT date_format(ts, 'yyyy G') FROM t").unwrap_err();
        assert!(
            error.contains("'yyyy G'") && error.contains("date_format"),
            "{error}"
        );
    }
}
