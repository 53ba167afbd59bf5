//! Splits a script into statements at semicolons outside strings and comments.

use super::lexer::{SegmentKind, line_at, segments};

/// One statement of a script: its text (without the closing semicolon, surrounding blanks
/// and leading comments) and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement's SQL text.
    pub text: String,
    /// The line of the script where the statement's first word stands.
    pub line: usize,
}

/// Splits `script` into its statements. Statements holding only comments and blanks are
/// dropped.
///
/// ```
/// use spate::script::split_statements;
/// let stmts = split_statements("-- report\nselect 1;\n\nselect ';' as s;");
/// assert_eq!(stmts.len(), 2);
/// assert_eq!((stmts[0].text.as_str(), stmts[0].line), ("select 1", 2));
/// assert_eq!((stmts[1].text.as_str(), stmts[1].line), ("select ';' as s", 4));
/// ```
pub fn split_statements(script: &str) -> Vec<ScriptStatement> {
    let mut out = Vec::new();
    let mut current = Pending::default();
    for segment in segments(script) {
        match segment.kind {
            SegmentKind::Comment => {
                if current.start.is_some() {
                    current.end = segment.end;
                }
            }
            SegmentKind::Quoted => current.extend(segment.start, segment.end, segment.line),
            SegmentKind::Code => {
                let code = &script[segment.start..segment.end];
                let mut piece_start = segment.start;
                for (i, byte) in code.bytes().enumerate() {
                    let at = segment.start + i;
                    if byte == b';' {
                        current.extend_code(script, &segment, piece_start, at);
                        current.finish(script, &mut out);
                        piece_start = at + 1;
                    }
                }
                current.extend_code(script, &segment, piece_start, segment.end);
            }
        }
    }
    current.finish(script, &mut out);
    out
}

/// Whether `text` ends where a statement may end: every string, quoted identifier and
/// block comment is closed, and the last code before trailing blanks and comments is a
/// `;` (or there is no code at all). An interactive shell reads lines until this holds.
///
/// ```
/// use spate::script::is_complete;
/// assert!(is_complete("select 1;"));
/// assert!(is_complete("select 1; -- done"));
/// assert!(!is_complete("select 1"));
/// assert!(!is_complete("select ';"));
/// assert!(!is_complete("select 1; /* still"));
/// assert!(is_complete("  -- only a comment"));
/// ```
pub fn is_complete(text: &str) -> bool {
    for segment in segments(text).iter().rev() {
        if segment.open {
            return false;
        }
        match segment.kind {
            SegmentKind::Comment => {}
            SegmentKind::Quoted => return false,
            SegmentKind::Code => {
                let code = text[segment.start..segment.end].trim_end();
                if !code.is_empty() {
                    return code.ends_with(';');
                }
            }
        }
    }
    true
}

/// The statement being collected: byte range from its first word to its last.
#[derive(Default)]
struct Pending {
    start: Option<usize>,
    end: usize,
    line: usize,
}

impl Pending {
    fn extend(&mut self, start: usize, end: usize, line: usize) {
        if self.start.is_none() {
            self.start = Some(start);
            self.line = line;
        }
        self.end = end;
    }

    /// Adds the code in `script[from..to]`, skipping blanks before the first word.
    fn extend_code(
        &mut self,
        script: &str,
        segment: &super::lexer::Segment,
        from: usize,
        to: usize,
    ) {
        let piece = &script[from..to];
        let Some(first) = piece.find(|c: char| !c.is_whitespace()) else {
            return;
        };
        let start = from + first;
        let line = line_at(script, segment, start);
        self.extend(start, to, line);
    }

    fn finish(&mut self, script: &str, out: &mut Vec<ScriptStatement>) {
        if let Some(start) = self.start.take() {
            let text = script[start..self.end].trim_end();
            if !text.is_empty() {
                out.push(ScriptStatement {
                    text: text.to_string(),
                    line: self.line,
                });
            }
        }
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(String, usize)> {
        split_statements(text)
            .into_iter()
            .map(|s| (s.text, s.line))
            .collect()
    }

    #[test]
    fn splits_with_line_numbers() {
        let script =
            "\n\nCREATE VIEW v AS\n  SELECT 1;\n-- note; not a statement\nSELECT *\nFROM v;;\n";
        assert_eq!(
            split(script),
            vec![
                ("CREATE VIEW v AS\n  SELECT 1".to_string(), 3),
                ("SELECT *\nFROM v".to_string(), 6)
            ]
        );
    }

    #[test]
    fn complete_when_the_last_code_is_a_semicolon() {
        assert!(is_complete(""));
        assert!(is_complete("select 1;\n"));
        assert!(is_complete("select 1; select 2;"));
        assert!(!is_complete("select 1; select 2"));
        assert!(!is_complete("select 'a;'"));
        assert!(is_complete("select 'a;';"));
        assert!(!is_complete("select \"x;"));
        assert!(is_complete("select 1; /* a */ -- b\n"));
        assert!(!is_complete("select 1 -- ;"));
    }

    #[test]
    fn keeps_semicolons_in_strings_and_comments() {
        let script = "select 'a;b' /* ; */, \"c;d\" from t -- x;\n;select 2";
        assert_eq!(
            split(script),
            vec![
                ("select 'a;b' /* ; */, \"c;d\" from t -- x;".to_string(), 1),
                ("select 2".to_string(), 2)
            ]
        );
    }

    #[test]
    fn statement_starting_with_a_string_and_trailing_text() {
        assert_eq!(split("  'x'"), vec![("'x'".to_string(), 1)]);
        assert_eq!(split("-- only a comment\n/* and another */"), vec![]);
        assert_eq!(split("select 1"), vec![("select 1".to_string(), 1)]);
    }

    #[test]
    fn windows_line_endings() {
        assert_eq!(
            split("select 1;\r\nselect 2;\r\n"),
            vec![("select 1".to_string(), 1), ("select 2".to_string(), 2)]
        );
    }
}
