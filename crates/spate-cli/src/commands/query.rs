//! `spate run` and `spate sql`: build a session from the flags, register tables, then run
//! the scripts statement by statement.
//!
//! Every statement of every script is parsed before the first runs, and `--output` is
//! written only after the last one succeeded, so a failing script leaves no output file.
//! A job report (`--report`, `--report-json`) is written either way: a failed run's ends
//! with the statement that failed, its error and the stages it ran.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use spate::io::{ResultFormat, write_result, write_result_file};
use spate::report::Report;
use spate::{ByteSize, PreparedStatement, Session, SpateError, StatementResult};

use super::session::{build_session, register_tables, runtime};
use crate::cli::{Format, QueryOptions};
use crate::exit::Failure;
use crate::progress::Spinner;

/// `spate run FILE...`
pub fn run_files(files: &[PathBuf], options: &QueryOptions) -> Result<(), Failure> {
    let scripts = files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    run_scripts(scripts, options)
}

/// `spate sql QUERY` and `spate sql -`
pub fn run_inline(query: &str, options: &QueryOptions) -> Result<(), Failure> {
    let text = if query == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
        text
    } else {
        query.to_string()
    };
    run_scripts(vec![("<sql>".to_string(), text)], options)
}

/// `spate explain QUERY|FILE`
pub fn explain(query: &str, options: &QueryOptions) -> Result<(), Failure> {
    let path = Path::new(query);
    let (origin, text) = if query != "-" && path.extension().is_some_and(|e| e == "sql") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {query}: {e}")))?;
        (query.to_string(), text)
    } else if query == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
        ("<sql>".to_string(), text)
    } else {
        ("<sql>".to_string(), query.to_string())
    };
    let mut options = QueryOptions { ..options.clone() };
    options.format = Some(options.format.unwrap_or(Format::Table));
    options.explain = true;
    run_scripts(vec![(origin, text)], &options)
}

/// Where results go and in which format.
pub struct Sink {
    pub format: ResultFormat,
    output: Option<PathBuf>,
    /// Reports of statements without rows go to stdout in table mode, otherwise to stderr
    /// when it is a terminal.
    quiet: bool,
}

fn run_scripts(scripts: Vec<(String, String)>, options: &QueryOptions) -> Result<(), Failure> {
    let sink = sink(options)?;
    let session = build_session(options)?;
    let runtime = runtime(&session)?;
    runtime.block_on(async {
        tokio::select! {
            result = execute(&session, scripts, options, &sink) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure { code: 130, message: "interrupted".into() }),
        }
    })
}

/// A file named by `flag` must go into a directory that exists.
pub fn check_dir(path: &Path, flag: &str) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{flag} {}: directory {} does not exist",
        path.display(),
        dir.display()
    )))
}

/// Where the results of `options` go, checking the directories of the files it names.
pub fn sink(options: &QueryOptions) -> Result<Sink, Failure> {
    if let Some(path) = &options.report {
        check_dir(path, "--report")?;
    }
    if let Some(path) = &options.report_json {
        check_dir(path, "--report-json")?;
    }
    let from_flag = options.format.map(|f| match f {
        Format::Table => ResultFormat::Table,
        Format::Csv => ResultFormat::Csv,
        Format::Json => ResultFormat::Json,
        Format::Ndjson => ResultFormat::Ndjson,
    });
    let format = match &options.output {
        Some(path) => {
            check_dir(path, "--output")?;
            ResultFormat::from_path(path).or(from_flag).ok_or_else(|| {
                Failure::usage(format!(
                    "--output {}: cannot tell the format from the name; use .csv, .json, .ndjson or .parquet, or give --format",
                    path.display()
                ))
            })?
        }
        None => from_flag.unwrap_or(if std::io::stdout().is_terminal() {
            ResultFormat::Table
        } else {
            ResultFormat::Csv
        }),
    };
    Ok(Sink {
        format,
        output: options.output.clone(),
        quiet: options.quiet,
    })
}

async fn execute(
    session: &Session,
    scripts: Vec<(String, String)>,
    options: &QueryOptions,
    sink: &Sink,
) -> Result<(), Failure> {
    register_tables(session, options).await?;
    let mut statements: Vec<PreparedStatement> = Vec::new();
    for (origin, text) in &scripts {
        for statement in session.prepare_script(origin, text)?.statements {
            // `spate explain`: queries and writes are explained, DDL runs.
            if options.explain && (statement.returns_rows() || statement.writes()) {
                statements.push(statement.explained());
            } else {
                statements.push(statement);
            }
        }
    }
    if let Some(path) = &sink.output {
        check_one_result(&statements, path)?;
    }
    let mut kept: Option<StatementResult> = None;
    let wants_report = options.report.is_some() || options.report_json.is_some();
    let mut job = wants_report.then(|| Report::new(&session.config().report));
    for statement in &statements {
        let started = Instant::now();
        let result = match run_statement(session, statement, options).await {
            Ok(result) => result,
            Err(failure) => {
                // The report of a failed run ends with the statement that failed.
                if let Some(job) = &mut job {
                    let stages = session.progress().failed_stages();
                    job.add_failed(statement, &failure.message, started.elapsed(), stages);
                    if let Err(unwritten) = write_report(job, options, sink.quiet) {
                        eprintln!("error: {}", unwritten.message);
                    }
                }
                return Err(failure);
            }
        };
        if let Some(job) = &mut job {
            job.add(&result);
        }
        if sink.output.is_some() && statement.returns_rows() {
            kept = Some(result);
        } else {
            print_result(&result, statement.returns_rows(), sink)?;
        }
    }
    if let (Some(path), Some(result)) = (&sink.output, kept) {
        write_result_file(path, sink.format, &result.schema, &result.batches)?;
        if !sink.quiet && std::io::stderr().is_terminal() {
            eprintln!("wrote {} rows to {}", result.row_count(), path.display());
        }
    }
    if let Some(job) = job {
        write_report(&job, options, sink.quiet)?;
    }
    Ok(())
}

/// Runs `statement` with the progress line on standard error (unless `--quiet`), then
/// prints what it took when `--metrics` asks. Dropping the future cancels the statement.
pub async fn run_statement(
    session: &Session,
    statement: &PreparedStatement,
    options: &QueryOptions,
) -> Result<StatementResult, Failure> {
    let label = format!("{}:{}", statement.origin, statement.line);
    let _spinner = Spinner::start(session.progress(), label, !options.quiet);
    let result = session.execute_statement(statement).await?;
    if options.metrics {
        print_metrics(&result);
    }
    Ok(result)
}

/// `--report` and `--report-json`: the job report of the statements that ran.
pub fn write_report(job: &Report, options: &QueryOptions, quiet: bool) -> Result<(), Failure> {
    if let Some(path) = &options.report_json {
        job.write_json(path)?;
    }
    if let Some(path) = &options.report {
        job.write_html(path)?;
        if !quiet && std::io::stderr().is_terminal() {
            eprintln!("wrote the report to {}", path.display());
        }
    }
    Ok(())
}

/// `--metrics`: what a statement took, on standard error.
fn print_metrics(result: &StatementResult) {
    let m = &result.metrics;
    eprintln!(
        "{}:{}: {:.3}s, {} rows, peak memory {}, spilled {} in {} files",
        result.origin,
        result.line,
        result.elapsed.as_secs_f64(),
        m.output_rows,
        ByteSize(m.peak_memory),
        ByteSize(m.spilled_bytes),
        m.spill_files
    );
    for io in &m.store_io {
        eprintln!(
            "  {}: {} GETs, {} read ({} read ahead, {} of them unused), {} HEADs, {} lists, {} \
             PUTs ({} multipart parts), {} written, at most {} in flight so far",
            io.store,
            io.gets,
            ByteSize(io.bytes_read),
            ByteSize(io.read_ahead_bytes),
            ByteSize(io.read_ahead_unused),
            io.heads,
            io.lists,
            io.puts,
            io.parts,
            ByteSize(io.bytes_written),
            io.max_in_flight
        );
    }
    for io in &m.bigquery_io {
        eprintln!(
            "  bigquery {}: {} read sessions, {} streams, {} rows and {} received; {} write \
             streams, {} rows and {} sent",
            io.table,
            io.read_sessions,
            io.read_streams,
            io.rows_received,
            ByteSize(io.bytes_received),
            io.write_streams,
            io.rows_sent,
            ByteSize(io.bytes_sent)
        );
    }
    let stages = spate::QueryMetrics {
        stages: m.stages.clone(),
    };
    let (retried, recomputed) = (stages.failed_attempts(), stages.recomputed_tasks());
    let reruns = stages.stage_reruns();
    if retried + recomputed > 0 {
        eprintln!(
            "{retried} task attempts failed and were retried, {recomputed} map tasks recomputed, {reruns} whole-stage reruns"
        );
    }
    if !m.stages.is_empty() {
        eprint!("{stages}");
    }
}

/// `--output` holds one result: the script must have exactly one statement returning rows.
fn check_one_result(statements: &[PreparedStatement], path: &Path) -> Result<(), Failure> {
    let queries: Vec<String> = statements
        .iter()
        .filter(|s| s.returns_rows())
        .map(|s| format!("{}:{}", s.origin, s.line))
        .collect();
    if queries.len() == 1 {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "--output {} takes the result of one query, but the SQL has {}{}",
        path.display(),
        queries.len(),
        if queries.is_empty() {
            String::new()
        } else {
            format!(" ({})", queries.join(", "))
        }
    )))
}

/// Prints a query's rows in the sink's format, or the one-line report of another
/// statement (`created view v (0.01s)`).
pub fn print_result(
    result: &StatementResult,
    returns_rows: bool,
    sink: &Sink,
) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    if returns_rows {
        return match write_result(sink.format, &result.schema, &result.batches, &mut stdout) {
            Err(SpateError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                Ok(())
            }
            other => other.map_err(Failure::from),
        };
    }
    if sink.quiet {
        return Ok(());
    }
    let line = format!("{} ({:.2}s)", result.message, result.elapsed.as_secs_f64());
    if sink.format == ResultFormat::Table {
        let _ = writeln!(stdout, "{line}");
    } else if std::io::stderr().is_terminal() {
        eprintln!("{line}");
    }
    Ok(())
}
