//! `${name}` parameter substitution.

use std::collections::HashMap;

use super::lexer::{SegmentKind, line_at, segments};
use crate::error::{Result, SpateError};

/// Replaces every `${name}` in `sql` (in code and strings, not in comments) with its value.
/// `first_line` is the line `sql` starts on, so that an unknown name is reported where it
/// stands. Values are inserted as they are: write `'${day}'` for a string literal.
/// `${name:-default}` takes `default` when the session has no value for `name`.
///
/// ```
/// use std::collections::HashMap;
/// use spate::script::substitute;
/// let params = HashMap::from([("day".to_string(), "2026-11-23".to_string())]);
/// let sql = substitute("select * from t where day = '${day}' -- ${not_needed}", &params, 1).unwrap();
/// assert_eq!(sql, "select * from t where day = '2026-11-23' -- ${not_needed}");
/// let err = substitute("select\n${nope}", &params, 7).unwrap_err();
/// assert!(matches!(err, spate::SpateError::UnknownParameter { line: 8, .. }));
/// let sql = substitute("'${dir:-./warehouse}/sales' '${day:-x}'", &params, 1).unwrap();
/// assert_eq!(sql, "'./warehouse/sales' '2026-11-23'");
/// ```
pub fn substitute(
    sql: &str,
    params: &HashMap<String, String>,
    first_line: usize,
) -> Result<String> {
    if !sql.contains("${") {
        return Ok(sql.to_string());
    }
    let mut out = String::with_capacity(sql.len());
    for segment in segments(sql) {
        let piece = &sql[segment.start..segment.end];
        if segment.kind == SegmentKind::Comment {
            out.push_str(piece);
            continue;
        }
        let mut rest = piece;
        let mut offset = segment.start;
        while let Some(open) = rest.find("${") {
            let name_start = open + 2;
            let Some(close) = rest[name_start..].find('}') else {
                break;
            };
            let inside = &rest[name_start..name_start + close];
            let (name, default) = match inside.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inside, None),
            };
            if !is_identifier(name) {
                out.push_str(&rest[..name_start]);
                offset += name_start;
                rest = &rest[name_start..];
                continue;
            }
            let value = params
                .get(name)
                .map(String::as_str)
                .or(default)
                .ok_or_else(|| SpateError::UnknownParameter {
                    name: name.to_string(),
                    line: line_at(sql, &segment, offset + open) + first_line - 1,
                })?;
            out.push_str(&rest[..open]);
            out.push_str(value);
            let consumed = name_start + close + 1;
            offset += consumed;
            rest = &rest[consumed..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_in_code_and_strings() {
        let p = params(&[("t", "sales"), ("d", "2026-11-23")]);
        assert_eq!(
            substitute(
                "select * from ${t} where d = '${d}' and x = \"${t}\"",
                &p,
                1
            )
            .ok(),
            Some("select * from sales where d = '2026-11-23' and x = \"sales\"".to_string())
        );
    }

    #[test]
    fn leaves_comments_and_non_parameters_alone() {
        let p = params(&[]);
        let sql = "select '$', '${', '${1x}' /* ${y} */";
        assert_eq!(substitute(sql, &p, 1).ok(), Some(sql.to_string()));
    }

    #[test]
    fn unknown_parameter_reports_its_line() {
        let err = substitute("select 1,\n  ${missing}", &params(&[]), 10).unwrap_err();
        assert!(
            matches!(err, SpateError::UnknownParameter { line: 11, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "unknown parameter ${missing}: no value given"
        );
    }

    #[test]
    fn value_with_braces_is_not_rescanned() {
        let p = params(&[("a", "${b}")]);
        assert_eq!(substitute("${a}", &p, 1).ok(), Some("${b}".to_string()));
    }
}
