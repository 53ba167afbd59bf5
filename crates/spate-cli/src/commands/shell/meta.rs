//! The shell's meta-commands: lines starting with `.` (as in duckdb and sqlite3), and
//! `\q`.

use std::path::PathBuf;

/// A meta-command the shell understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaCommand {
    /// `.tables`: the names of the session's tables and views.
    Tables,
    /// `.describe TABLE` or `.schema TABLE`: a table's columns and types.
    Describe(String),
    /// `.report FILE`: the job report of the last statement, as HTML, or JSON when FILE
    /// ends in `.json`.
    Report(PathBuf),
    /// `.help`
    Help,
    /// `.quit`, `.exit` or `\q`
    Quit,
}

/// The meta-commands' names, for completion.
pub const NAMES: [&str; 7] = [
    ".tables",
    ".describe",
    ".schema",
    ".report",
    ".help",
    ".quit",
    ".exit",
];

/// What `.help` prints.
pub const HELP: &str = "\
Statements end with ';' and may span lines; several may stand on one line.
Meta-commands:
  .tables              list the tables and views
  .describe TABLE      show the columns of TABLE (also .schema TABLE)
  .report FILE         write the job report of the last statement: HTML, or JSON
                       when FILE ends in .json
  .help                show this help
  .quit, .exit, \\q     leave the shell (so does Ctrl-D)
Keys: Tab completes keywords, tables and columns; Up/Down and Ctrl-R search the
history; Ctrl-C clears the line, or cancels the running statement.";

/// Whether `line` is a meta-command rather than SQL.
pub fn is_meta(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('.') || line.starts_with('\\')
}

/// Parses a meta-command line; the error is the message to show.
pub fn parse(line: &str) -> Result<MetaCommand, String> {
    let line = line.trim().trim_end_matches(';').trim_end();
    let (name, argument) = match line.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (line, ""),
    };
    let needs = |what: &str| -> Result<String, String> {
        match argument {
            "" => Err(format!("{name} needs {what}: {name} {what}")),
            argument => Ok(argument.to_string()),
        }
    };
    let none = |command: MetaCommand| match argument {
        "" => Ok(command),
        extra => Err(format!("{name} takes no argument, got '{extra}'")),
    };
    match name {
        ".tables" => none(MetaCommand::Tables),
        ".describe" | ".schema" if argument.contains(';') => {
            Err(format!("{name} takes one table, got '{argument}'"))
        }
        ".describe" | ".schema" => needs("TABLE").map(MetaCommand::Describe),
        ".report" => needs("FILE").map(|path| MetaCommand::Report(PathBuf::from(path))),
        ".help" => none(MetaCommand::Help),
        ".quit" | ".exit" | "\\q" => none(MetaCommand::Quit),
        other => Err(format!("unknown command '{other}' (.help lists them)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_their_arguments() {
        assert_eq!(parse(".tables"), Ok(MetaCommand::Tables));
        assert_eq!(parse("  .tables;  "), Ok(MetaCommand::Tables));
        assert_eq!(
            parse(".describe  stores"),
            Ok(MetaCommand::Describe("stores".into()))
        );
        assert_eq!(
            parse(".schema stores;"),
            Ok(MetaCommand::Describe("stores".into()))
        );
        assert_eq!(
            parse(".report /tmp/r.html"),
            Ok(MetaCommand::Report(PathBuf::from("/tmp/r.html")))
        );
        for quit in [".quit", ".exit", "\\q"] {
            assert_eq!(parse(quit), Ok(MetaCommand::Quit));
        }
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        for (line, message) in [
            (".describe", ".describe needs TABLE: .describe TABLE"),
            (
                ".describe a; drop table b",
                ".describe takes one table, got 'a; drop table b'",
            ),
            (".tables x", ".tables takes no argument, got 'x'"),
            (
                ".frobnicate",
                "unknown command '.frobnicate' (.help lists them)",
            ),
        ] {
            assert_eq!(parse(line), Err(message.to_string()));
        }
    }

    #[test]
    fn meta_lines_start_with_a_dot_or_a_backslash() {
        assert!(is_meta("  .tables"));
        assert!(is_meta("\\q"));
        assert!(!is_meta("select .5;"));
    }
}
