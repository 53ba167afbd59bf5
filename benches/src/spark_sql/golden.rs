//! The golden files of Spark's SQLQueryTestSuite: an input file split into queries the way
//! the suite splits it, and the stored result of each query.
//!
//! # Splitting (as `SQLQueryTestHelper.getQueries` does)
//! 1. Lines whose trimmed text starts with `--` (but not `--QUERY-DELIMITER`) are comments;
//!    the rest is code. Comment lines carry the directives: `--SET k=v[,k=v]` (settings for
//!    the whole file) and `--IMPORT other.sql` (the code of another input, relative to the
//!    suite's `inputs/`, placed before this file's code).
//! 2. The code is joined with newlines and split after every `;` not preceded by `\`;
//!    lines between `--QUERY-DELIMITER-START` and `--QUERY-DELIMITER-END` form one query
//!    each, whatever `;` they hold.
//! 3. Each query is trimmed, lines starting with `--` are dropped, and empty ones skipped.
//!
//! # Results
//! A `.sql.out` file holds, per query, `-- !query` and its text, `-- !query schema` and a
//! `struct<...>`, `-- !query output` and the rows (tab-separated) or, for an error, the
//! exception class on the first line followed by its message.

use std::path::Path;

/// One query of an input file, with what Spark returned for it.
#[derive(Debug, Clone)]
pub(crate) struct GoldenQuery {
    /// The SQL as the suite ran it.
    pub sql: String,
    /// The schema line (`struct<a:int>`; `struct<>` for commands and errors).
    pub schema: String,
    /// What Spark returned.
    pub expected: Expected,
}

/// What Spark returned for a query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expected {
    /// Rows, each as the tab-separated line Spark printed.
    Rows(Vec<String>),
    /// An error of this exception class.
    Error(String),
}

/// An input file split into queries, with its directives.
#[derive(Debug, Default)]
pub(crate) struct InputFile {
    /// The queries, in order (imported ones first).
    pub queries: Vec<String>,
    /// The `--SET` settings, in order.
    pub settings: Vec<(String, String)>,
}

/// Whether a trimmed line is a comment for splitting (not a delimiter marker).
fn is_comment(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("--") && !line.starts_with("--QUERY-DELIMITER")
}

/// Reads and splits `inputs/<name>`, following its `--IMPORT`s from `inputs`.
pub(crate) fn read_input(inputs: &Path, name: &str) -> Result<InputFile, String> {
    let text = read(&inputs.join(name))?;
    let (comments, code): (Vec<&str>, Vec<&str>) = text.split('\n').partition(|l| is_comment(l));
    let mut all_code: Vec<String> = Vec::new();
    for import in comments.iter().filter_map(|c| c.strip_prefix("--IMPORT ")) {
        let imported = read(&inputs.join(import.trim()))?;
        all_code.extend(
            imported
                .split('\n')
                .filter(|l| !is_comment(l))
                .map(str::to_string),
        );
    }
    all_code.extend(code.iter().map(|l| l.to_string()));
    let settings = comments
        .iter()
        .filter_map(|c| c.strip_prefix("--SET "))
        .flat_map(|s| s.split(','))
        .filter_map(|kv| {
            let (key, value) = kv.split_once('=')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    Ok(InputFile {
        queries: split_queries(&all_code),
        settings,
    })
}

/// Splits code lines into queries (steps 2 and 3 of the module doc).
pub(crate) fn split_queries(code: &[String]) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut other: Vec<&str> = Vec::new();
    let mut block: Option<String> = None;
    for line in code {
        let trimmed = line.trim();
        if trimmed.starts_with("--QUERY-DELIMITER-START") {
            raw.extend(split_on_semicolons(&other.join("\n")));
            other.clear();
            block = Some(String::new());
        } else if trimmed.starts_with("--QUERY-DELIMITER-END") {
            let text = block.take().unwrap_or_default();
            raw.push(format!("\n{}", text.strip_suffix(';').unwrap_or(&text)));
        } else if let Some(text) = block.as_mut() {
            text.push('\n');
            text.push_str(line);
        } else {
            other.push(line);
        }
    }
    raw.extend(split_on_semicolons(&other.join("\n")));
    raw.iter()
        .map(|q| q.trim())
        .filter(|q| !q.is_empty())
        .map(|q| {
            q.split('\n')
                .filter(|l| !l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .filter(|q| !q.is_empty())
        .collect()
}

/// Splits after each `;` that does not follow a backslash (Java's `(?<=[^\\]);`), dropping
/// the `;`.
fn split_on_semicolons(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c == ';' && previous.is_some_and(|p| p != '\\') {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        previous = Some(c);
    }
    parts.push(current);
    parts
}

/// Reads the results of one input file.
pub(crate) fn read_results(path: &Path) -> Result<Vec<GoldenQuery>, String> {
    parse_results(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a `.sql.out` file's text.
pub(crate) fn parse_results(text: &str) -> Result<Vec<GoldenQuery>, String> {
    let mut queries = Vec::new();
    for block in text.split("\n-- !query\n").skip(1) {
        let (sql, rest) = block
            .split_once("\n-- !query schema\n")
            .ok_or_else(|| format!("query {} has no schema", queries.len() + 1))?;
        let (schema, output) = rest
            .split_once("\n-- !query output\n")
            .or_else(|| rest.split_once("\n-- !query output"))
            .ok_or_else(|| format!("query {} has no output", queries.len() + 1))?;
        let output = output.trim_end_matches('\n');
        let schema = schema.trim().to_string();
        let lines: Vec<String> = if output.is_empty() {
            Vec::new()
        } else {
            output.split('\n').map(str::to_string).collect()
        };
        let expected = match lines.first() {
            Some(first) if schema == "struct<>" && is_exception_class(first) => {
                Expected::Error(first.clone())
            }
            _ => Expected::Rows(lines),
        };
        queries.push(GoldenQuery {
            sql: sql.to_string(),
            schema,
            expected,
        });
    }
    Ok(queries)
}

/// Whether a line names an exception class (`org.apache.spark.SparkException`).
fn is_exception_class(line: &str) -> bool {
    let name = line.trim();
    name.contains('.')
        && !name.contains(' ')
        && (name.ends_with("Exception") || name.ends_with("Error"))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.split('\n').map(str::to_string).collect()
    }

    #[test]
    fn splits_like_the_suite() {
        let code = lines(
            "select 1;\nselect 'a\\;b';\n--QUERY-DELIMITER-START\nselect 2; select 3;\n--QUERY-DELIMITER-END\n\nselect 4\n;",
        );
        assert_eq!(
            split_queries(&code),
            [
                "select 1",
                "select 'a\\;b'",
                "select 2; select 3",
                "select 4"
            ]
        );
    }

    #[test]
    fn parses_rows_errors_and_commands() {
        let text = "-- Automatically generated by SQLQueryTestSuite\n-- !query\nCREATE VIEW v AS SELECT 1\n-- !query schema\nstruct<>\n-- !query output\n\n\n\n-- !query\nSELECT a, b FROM v\n-- !query schema\nstruct<a:int,b:string>\n-- !query output\n1\tx\nNULL\ty\n\n\n-- !query\nSELECT x\n-- !query schema\nstruct<>\n-- !query output\norg.apache.spark.sql.AnalysisException\n{\n  \"errorClass\" : \"X\"\n}\n";
        let queries = parse_results(text).unwrap();
        assert_eq!(queries.len(), 3);
        assert_eq!(queries[0].expected, Expected::Rows(vec![]));
        assert_eq!(
            queries[1].expected,
            Expected::Rows(vec!["1\tx".into(), "NULL\ty".into()])
        );
        assert_eq!(queries[1].schema, "struct<a:int,b:string>");
        assert_eq!(
            queries[2].expected,
            Expected::Error("org.apache.spark.sql.AnalysisException".into())
        );
    }
}
