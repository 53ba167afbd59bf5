//! `spate shell`: an interactive SQL shell, in the manner of duckdb's, datafusion-cli's
//! and spark-sql's.
//!
//! Lines are read with rustyline (editing, a history file kept between sessions, Tab
//! completion: [`completion`]) and collected until the statement ends with `;` outside
//! strings and comments ([`spate::script::is_complete`]); then every statement of the
//! text runs in order, through the same code as `spate sql` (session from the flags,
//! progress line, result formats). A line starting with `.` is a meta-command
//! ([`meta`]). An error is printed and the shell goes on. Ctrl-C at the prompt clears
//! the line; while a statement runs it cancels the statement (its future is dropped,
//! which aborts the executor's tasks) and the prompt comes back. Ctrl-D leaves.

mod completion;
mod history;
mod meta;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use spate::arrow::array::StringArray;
use spate::arrow::datatypes::{DataType, Field, Schema};
use spate::arrow::record_batch::RecordBatch;
use spate::io::write_result;
use spate::report::Report;
use spate::{Session, StatementResult};
use tokio::runtime::Runtime;

use self::completion::ShellHelper;
use self::meta::MetaCommand;
use super::query::{Sink, check_dir, print_result, run_statement, sink, write_report};
use super::session::{build_session, register_tables, runtime};
use crate::cli::QueryOptions;
use crate::exit::Failure;

/// The prompt, and the one of the lines that continue a statement.
const PROMPT: &str = "spate> ";
const CONTINUATION: &str = "  ...> ";
/// Where statements come from, in messages (`<shell>:2: ...`).
const ORIGIN: &str = "<shell>";
/// Entries the history file keeps.
const HISTORY_SIZE: usize = 1000;

type LineEditor = Editor<ShellHelper, DefaultHistory>;

/// `spate shell`
pub fn run(options: &QueryOptions) -> Result<(), Failure> {
    if let Some(path) = &options.output {
        return Err(Failure::usage(format!(
            "--output {}: the shell prints results; write one to a file with COPY (...) TO, \
             or with spate sql --output",
            path.display()
        )));
    }
    let sink = sink(options)?;
    let session = build_session(options)?;
    let runtime = runtime(&session)?;
    runtime.block_on(register_tables(&session, options))?;
    let wants_report = options.report.is_some() || options.report_json.is_some();
    let mut shell = Shell {
        options,
        job: wants_report.then(|| Report::new(&session.config().report)),
        session,
        runtime,
        sink,
        history: history::path(|name| std::env::var(name).ok()),
        last: None,
    };
    let mut editor = shell.editor()?;
    if !options.quiet {
        eprintln!(
            "spate {} shell: end statements with ';'; .help for help, Ctrl-D to leave",
            env!("CARGO_PKG_VERSION")
        );
    }
    shell.read_eval_loop(&mut editor)?;
    match &shell.job {
        Some(job) => write_report(job, options, options.quiet),
        None => Ok(()),
    }
}

/// What the loop does after a meta-command.
enum Flow {
    Continue,
    Quit,
}

struct Shell<'a> {
    options: &'a QueryOptions,
    session: Session,
    runtime: Runtime,
    sink: Sink,
    /// The history file, if any (none once writing it failed).
    history: Option<PathBuf>,
    /// The report of the last statement that ran to its end, for `.report`.
    last: Option<Report>,
    /// The report of every statement, for `--report` and `--report-json` at the end.
    job: Option<Report>,
}

impl Shell<'_> {
    /// The line editor, with completion and the history of earlier sessions.
    fn editor(&mut self) -> Result<LineEditor, Failure> {
        let terminal =
            |e: ReadlineError| Failure::statement(format!("cannot use the terminal: {e}"));
        let config = Config::builder()
            .auto_add_history(false)
            .history_ignore_space(true)
            .completion_type(CompletionType::List)
            .max_history_size(HISTORY_SIZE)
            .and_then(|builder| builder.history_ignore_dups(true))
            .map_err(terminal)?
            .build();
        let mut editor = LineEditor::with_config(config).map_err(terminal)?;
        let helper = ShellHelper::new(self.session.clone(), self.runtime.handle().clone());
        editor.set_helper(Some(helper));
        if let Some(path) = self.history.clone() {
            let loaded = match path.parent() {
                Some(dir) => std::fs::create_dir_all(dir).map_err(ReadlineError::Io),
                None => Ok(()),
            }
            .and_then(|()| editor.load_history(&path));
            match loaded {
                Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.history_failed(&path, &e),
                Ok(()) => {}
            }
        }
        Ok(editor)
    }

    fn history_failed(&mut self, path: &Path, err: &ReadlineError) {
        eprintln!(
            "warning: history file {}: {err}; history is not kept (set {} to another file)",
            path.display(),
            history::ENV
        );
        self.history = None;
    }

    /// Reads lines until Ctrl-D or `.quit`, running each statement once it is complete.
    fn read_eval_loop(&mut self, editor: &mut LineEditor) -> Result<(), Failure> {
        let mut pending = String::new();
        loop {
            if let Some(helper) = editor.helper_mut() {
                helper.pending.clone_from(&pending);
            }
            let prompt = if pending.is_empty() {
                PROMPT
            } else {
                CONTINUATION
            };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    pending.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => return Ok(()),
                Err(e) => return Err(Failure::statement(format!("cannot read the terminal: {e}"))),
            };
            if pending.is_empty() && meta::is_meta(&line) {
                self.remember(editor, line.trim());
                match self.meta(&line) {
                    Flow::Continue => continue,
                    Flow::Quit => return Ok(()),
                }
            }
            if pending.is_empty() && line.trim().is_empty() {
                continue;
            }
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending.push_str(&line);
            if spate::script::is_complete(&pending) {
                let text = std::mem::take(&mut pending);
                self.remember(editor, &text);
                self.run_sql(&text, true);
            }
        }
    }

    /// Adds `entry` to the history, and to the history file.
    fn remember(&mut self, editor: &mut LineEditor, entry: &str) {
        if editor.add_history_entry(entry).is_err() {
            return;
        }
        if let Some(path) = self.history.clone()
            && let Err(e) = editor.append_history(&path)
        {
            self.history_failed(&path, &e);
        }
    }

    fn meta(&mut self, line: &str) -> Flow {
        let done = match meta::parse(line) {
            Err(message) => Err(Failure::usage(message)),
            Ok(MetaCommand::Quit) => return Flow::Quit,
            Ok(MetaCommand::Help) => {
                println!("{}", meta::HELP);
                Ok(())
            }
            Ok(MetaCommand::Tables) => self.tables(),
            Ok(MetaCommand::Describe(table)) => {
                self.run_sql(&format!("describe {table}"), false);
                Ok(())
            }
            Ok(MetaCommand::Report(path)) => self.write_last_report(&path),
        };
        if let Err(failure) = done {
            show(&failure);
        }
        Flow::Continue
    }

    /// Runs every statement of `text` in order, printing results; stops at the first
    /// error or Ctrl-C. With `record`, each statement's report is kept for `.report` and
    /// `--report`.
    fn run_sql(&mut self, text: &str, record: bool) {
        let script = match self.session.prepare_script(ORIGIN, text) {
            Ok(script) => script,
            Err(e) => return show(&e.into()),
        };
        for statement in &script.statements {
            let run = run_statement(&self.session, statement, self.options);
            let outcome = self.runtime.block_on(async {
                tokio::select! {
                    result = run => Some(result),
                    () = interrupted() => None,
                }
            });
            let result = match outcome {
                Some(Ok(result)) => result,
                Some(Err(failure)) => return show(&failure),
                None => {
                    eprintln!("cancelled");
                    return;
                }
            };
            if let Err(failure) = print_result(&result, statement.returns_rows(), &self.sink) {
                return show(&failure);
            }
            if record {
                self.record(&result);
            }
        }
    }

    fn record(&mut self, result: &StatementResult) {
        let mut last = Report::new(&self.session.config().report);
        last.add(result);
        self.last = Some(last);
        if let Some(job) = &mut self.job {
            job.add(result);
        }
    }

    /// `.tables`: the session's tables and views, one a row, in the result format.
    fn tables(&self) -> Result<(), Failure> {
        let names = self.session.table_names();
        let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(names))],
        )
        .map_err(|e| Failure::statement(e.to_string()))?;
        let mut stdout = std::io::stdout().lock();
        write_result(self.sink.format, &schema, &[batch], &mut stdout)?;
        Ok(())
    }

    /// `.report FILE`: the report of the last statement, as JSON when FILE ends in
    /// `.json`, else as HTML.
    fn write_last_report(&self, path: &Path) -> Result<(), Failure> {
        let Some(report) = &self.last else {
            return Err(Failure::usage(".report: no statement has run yet"));
        };
        check_dir(path, ".report")?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            report.write_json(path)?;
        } else {
            report.write_html(path)?;
        }
        if !self.options.quiet && std::io::stderr().is_terminal() {
            eprintln!("wrote the report to {}", path.display());
        }
        Ok(())
    }
}

/// Resolves on Ctrl-C (SIGINT; the terminal sends it while a statement runs, since the
/// line editor is not reading then). Never resolves when the signal cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Prints a failure the way `main` does, and the shell goes on.
fn show(failure: &Failure) {
    eprintln!("error: {}", failure.message);
}
