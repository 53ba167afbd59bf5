//! Tab completion in the shell: SQL keywords, the session's tables, the columns of the
//! tables the statement names (of all tables while it names none), and meta-commands.
//! Matching is a case-insensitive prefix match; keywords take the case of what was typed.

use std::time::{Duration, Instant};

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use spate::Session;
use tokio::runtime::Handle;

use super::meta;

/// The longest completion waits for tables' schemas (a table in an object store is read
/// on first use); tables not resolved by then offer no columns this time.
const SCHEMA_WAIT: Duration = Duration::from_secs(2);

/// Keywords offered by completion (lower case).
const KEYWORDS: &[&str] = &[
    "all",
    "analyze",
    "and",
    "as",
    "asc",
    "avg",
    "between",
    "by",
    "case",
    "cast",
    "columns",
    "copy",
    "count",
    "create",
    "cross",
    "date",
    "delete",
    "desc",
    "describe",
    "distinct",
    "drop",
    "else",
    "end",
    "except",
    "exists",
    "explain",
    "external",
    "false",
    "first",
    "from",
    "full",
    "group",
    "having",
    "if",
    "ilike",
    "in",
    "inner",
    "insert",
    "intersect",
    "interval",
    "into",
    "is",
    "join",
    "last",
    "lateral",
    "left",
    "like",
    "limit",
    "location",
    "matched",
    "max",
    "merge",
    "min",
    "not",
    "null",
    "nulls",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "over",
    "overwrite",
    "partition",
    "partitioned",
    "range",
    "replace",
    "right",
    "rows",
    "select",
    "set",
    "show",
    "stored",
    "sum",
    "table",
    "tables",
    "temporary",
    "then",
    "timestamp",
    "to",
    "true",
    "union",
    "unnest",
    "update",
    "using",
    "values",
    "view",
    "when",
    "where",
    "window",
    "with",
];

/// The shell's rustyline helper: completion only (no hints, colours or validation; the
/// shell itself collects lines until a statement ends).
pub struct ShellHelper {
    session: Session,
    runtime: Handle,
    /// The lines of the statement typed so far, before the line being edited.
    pub pending: String,
}

impl ShellHelper {
    pub fn new(session: Session, runtime: Handle) -> Self {
        ShellHelper {
            session,
            runtime,
            pending: String::new(),
        }
    }

    /// The column names of the tables named in `statement`, or of every table when it
    /// names none; each table's schema is read at most until [`SCHEMA_WAIT`] has passed.
    fn columns(&self, tables: &[String], statement: &str) -> Vec<String> {
        let words: Vec<String> = words(statement).map(str::to_lowercase).collect();
        let named: Vec<&String> = tables
            .iter()
            .filter(|t| words.contains(&t.to_lowercase()))
            .collect();
        let wanted = if named.is_empty() {
            tables.iter().collect()
        } else {
            named
        };
        let deadline = Instant::now() + SCHEMA_WAIT;
        let context = self.session.context();
        let mut columns = Vec::new();
        for table in wanted {
            let left = deadline.saturating_duration_since(Instant::now());
            // The timer is made inside the runtime, as it must be.
            let lookup =
                async { tokio::time::timeout(left, context.table_provider(table.as_str())).await };
            if let Ok(Ok(provider)) = self.runtime.block_on(lookup) {
                columns.extend(provider.schema().fields().iter().map(|f| f.name().clone()));
            }
        }
        columns
    }
}

/// The words (names and keywords) of `text`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the word ending at byte `pos` of `line` starts.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(pos, |(i, _)| i)
}

/// The completions of `word`: tables and columns as they are named, keywords in the case
/// of `word` (upper case when it is), sorted, without duplicates.
pub fn candidates(word: &str, tables: &[String], columns: &[String]) -> Vec<String> {
    if word.is_empty() {
        return Vec::new();
    }
    let prefix = word.to_lowercase();
    let matches = |name: &&String| name.to_lowercase().starts_with(&prefix);
    let upper = word.chars().any(char::is_alphabetic) && word.chars().all(|c| !c.is_lowercase());
    let keywords = KEYWORDS
        .iter()
        .filter(|k| k.starts_with(&prefix))
        .map(|k| match upper {
            true => k.to_uppercase(),
            false => (*k).to_string(),
        });
    let mut out: Vec<String> = tables
        .iter()
        .filter(matches)
        .chain(columns.iter().filter(matches))
        .cloned()
        .chain(keywords)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        if self.pending.is_empty() && meta::is_meta(line) {
            let typed = &line[..pos];
            let Some((_, argument)) = typed.split_once(char::is_whitespace) else {
                let names = meta::NAMES.iter().filter(|n| n.starts_with(typed.trim()));
                let start = typed.len() - typed.trim_start().len();
                return Ok((start, names.map(|n| (*n).to_string()).collect()));
            };
            // The argument of .describe: a table.
            let start = pos - argument.trim_start().len();
            let tables = self.session.table_names();
            return Ok((start, candidates(&line[start..pos], &tables, &[])));
        }
        let start = word_start(line, pos);
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let tables = self.session.table_names();
        let columns = self.columns(&tables, &format!("{}\n{line}", self.pending));
        Ok((start, candidates(word, &tables, &columns)))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn tables_columns_and_keywords_by_prefix_ignoring_case() {
        let tables = names(&["stores", "transactions"]);
        let columns = names(&["store_id", "total", "sku"]);
        assert_eq!(
            candidates("st", &tables, &columns),
            ["store_id", "stored", "stores"]
        );
        assert_eq!(candidates("TRA", &tables, &columns), ["transactions"]);
        assert_eq!(candidates("sel", &tables, &columns), ["select"]);
        assert_eq!(candidates("SEL", &tables, &columns), ["SELECT"]);
        assert_eq!(candidates("Wh", &tables, &columns), ["when", "where"]);
        assert!(candidates("", &tables, &columns).is_empty());
        assert!(candidates("zz", &tables, &columns).is_empty());
    }

    #[test]
    fn the_word_before_the_cursor() {
        let line = "select s.store_i from stores s";
        assert_eq!(word_start(line, 16), 9);
        assert_eq!(word_start(line, 6), 0);
        assert_eq!(word_start(line, 7), 7);
        assert_eq!(words("a.b, c(d)").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    }
}
