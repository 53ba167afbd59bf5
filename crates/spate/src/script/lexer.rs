//! A minimal SQL lexer that cuts text into code, string and comment segments.
//!
//! It understands `'...'` strings (with `''` escapes), `"..."` and `` `...` `` quoted
//! identifiers, `-- ...` line comments and `/* ... */` block comments (nested, as in
//! PostgreSQL). Everything else is code. Each segment carries the line it starts on.

/// What a segment of SQL text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegmentKind {
    /// Plain SQL: keywords, names, operators, numbers, semicolons.
    Code,
    /// A string literal or quoted identifier, quotes included.
    Quoted,
    /// A comment, markers included.
    Comment,
}

/// A piece of SQL text: `text[start..end]`, starting on 1-based `line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub kind: SegmentKind,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    /// A string or comment that is not closed: it runs to the end of the text.
    pub open: bool,
}

/// Cuts `text` into segments covering it completely, in order. An unterminated string or
/// comment runs to the end of the text (the SQL parser reports it).
pub(crate) fn segments(text: &str) -> Vec<Segment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut line = 1;
    let mut code_start = 0;
    let mut code_line = 1;
    while pos < bytes.len() {
        let special_end = match bytes[pos] {
            b'\'' | b'"' | b'`' => Some((SegmentKind::Quoted, quoted_end(bytes, pos))),
            b'-' if bytes.get(pos + 1) == Some(&b'-') => {
                let end = bytes[pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| pos + i);
                Some((SegmentKind::Comment, (end, false)))
            }
            b'/' if bytes.get(pos + 1) == Some(&b'*') => {
                Some((SegmentKind::Comment, block_comment_end(bytes, pos)))
            }
            _ => None,
        };
        match special_end {
            Some((kind, (end, open))) => {
                if code_start < pos {
                    out.push(Segment {
                        kind: SegmentKind::Code,
                        start: code_start,
                        end: pos,
                        line: code_line,
                        open: false,
                    });
                }
                out.push(Segment {
                    kind,
                    start: pos,
                    end,
                    line,
                    open,
                });
                line += count_newlines(&bytes[pos..end]);
                pos = end;
                code_start = end;
                code_line = line;
            }
            None => {
                if bytes[pos] == b'\n' {
                    line += 1;
                }
                pos += 1;
            }
        }
    }
    if code_start < bytes.len() {
        out.push(Segment {
            kind: SegmentKind::Code,
            start: code_start,
            end: bytes.len(),
            line: code_line,
            open: false,
        });
    }
    out
}

/// The line of byte offset `offset` within a segment that starts on `segment_line`.
pub(crate) fn line_at(text: &str, segment: &Segment, offset: usize) -> usize {
    segment.line + count_newlines(&text.as_bytes()[segment.start..offset])
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// End (exclusive) of the quoted run opening at `start`, and whether it is left open; a
/// doubled quote is an escape.
fn quoted_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let quote = bytes[start];
    let mut pos = start + 1;
    while pos < bytes.len() {
        if bytes[pos] == quote {
            if bytes.get(pos + 1) == Some(&quote) {
                pos += 2;
                continue;
            }
            return (pos + 1, false);
        }
        pos += 1;
    }
    (bytes.len(), true)
}

/// End (exclusive) of the block comment opening at `start`, and whether it is left open.
fn block_comment_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut depth = 0usize;
    let mut pos = start;
    while pos + 1 < bytes.len() {
        match (bytes[pos], bytes[pos + 1]) {
            (b'/', b'*') => {
                depth += 1;
                pos += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                pos += 2;
                if depth == 0 {
                    return (pos, false);
                }
            }
            _ => pos += 1,
        }
    }
    (bytes.len(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(SegmentKind, &str, usize)> {
        segments(text)
            .into_iter()
            .map(|s| (s.kind, &text[s.start..s.end], s.line))
            .collect()
    }

    #[test]
    fn cuts_strings_comments_and_code() {
        use SegmentKind::*;
        let text = "select 'a;''b' -- c;\n/* x\n;*/ \"q\"";
        assert_eq!(
            kinds(text),
            vec![
                (Code, "select ", 1),
                (Quoted, "'a;''b'", 1),
                (Code, " ", 1),
                (Comment, "-- c;", 1),
                (Code, "\n", 1),
                (Comment, "/* x\n;*/", 2),
                (Code, " ", 3),
                (Quoted, "\"q\"", 3),
            ]
        );
    }

    #[test]
    fn nested_block_comments_and_unterminated_strings() {
        use SegmentKind::*;
        assert_eq!(
            kinds("/* a /* b */ c */x"),
            vec![(Comment, "/* a /* b */ c */", 1), (Code, "x", 1)]
        );
        assert_eq!(
            kinds("x 'open"),
            vec![(Code, "x ", 1), (Quoted, "'open", 1)]
        );
        let open = |text: &str| segments(text).iter().map(|s| s.open).collect::<Vec<_>>();
        assert_eq!(open("'a''"), [true]);
        assert_eq!(open("'a'''"), [false]);
        assert_eq!(open("/* a /* b */"), [true]);
        assert_eq!(open("x -- y"), [false, false]);
    }
}
