//! `tpch spark-sql`: spate measured by Apache Spark's own SQL conformance suite
//! (SQLQueryTestSuite's golden files, Spark 3.5 and 4.0).
//!
//! Every input file runs in a worker process of its own (`tpch spark-sql-file`, see
//! [`file_run`]), several at a time: a fresh session per file as in Spark's suite, and a
//! query that hangs or crashes the process costs only the rest of its file. The parent
//! reads each worker's outcomes line by line; a worker silent for longer than the query
//! timeout is killed and its remaining queries count as timeouts (or crashes, if it
//! died). The totals are printed as markdown; `--markdown` and `--json` write the per-file
//! tables, and `--baseline` fails the run when a file passes fewer queries than the
//! committed baseline says.
//!
//! ```text
//! tpch spark-sql --markdown spark-sql.md --baseline benches/spark-sql-baseline.json
//! tpch spark-sql --suite 3.5 --group core --only group-by
//! tpch spark-sql --baseline benches/spark-sql-baseline.json --update-baseline
//! ```

mod compare;
pub(crate) mod file_run;
mod golden;
mod spark_format;
mod spark_types;
mod tally;
mod test_tables;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use clap::Args;

use compare::{Cause, Outcome};
use tally::FileResult;

/// The environment variable naming the golden files' directory.
pub(crate) const ENV_TESTS: &str = "SPATE_SPARK_SQL_TESTS";

/// Options of `tpch spark-sql`.
#[derive(Debug, Args)]
pub(crate) struct SparkSqlOptions {
    /// The golden files (holding `spark-3.5/`, `spark-4.0/` and
    /// `core-vs-spark-only-3.5.json`). Default: `$SPATE_SPARK_SQL_TESTS`, else
    /// `../shared/spark-sql-tests` beside the repository.
    #[arg(long)]
    tests: Option<PathBuf>,
    /// Which suites: `3.5`, `4.0` or `all`.
    #[arg(long, default_value = "all")]
    suite: String,
    /// Which 3.5 files: `core`, `spark-only` or `all`.
    #[arg(long, default_value = "all")]
    group: String,
    /// Only input files whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Files run at once (default: the cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds a query may run before it fails as a timeout.
    #[arg(long, default_value = "10")]
    query_timeout: u64,
    /// The SQL dialect the files run in (`spark` or `datafusion`).
    #[arg(long, default_value = "spark")]
    dialect: String,
    /// The executor (`spate` or `datafusion`).
    #[arg(long, default_value = "spate")]
    executor: String,
    /// Write the totals, per-folder and per-file tables here as markdown.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Write the per-file results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Fail when a file passes fewer queries than this baseline (per-file counts) holds.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write this run's counts into the baseline instead of checking against it.
    #[arg(long, requires = "baseline")]
    update_baseline: bool,
}

/// One input file to run.
#[derive(Debug, Clone)]
struct FileJob {
    suite: &'static str,
    group: String,
    dir: PathBuf,
    file: String,
    ansi: bool,
}

/// Runs the suites and reports.
pub(crate) fn run(options: &SparkSqlOptions) -> Result<(), String> {
    let tests = tests_dir(options.tests.as_deref());
    let jobs = select_files(&tests, options)?;
    if jobs.is_empty() {
        return Err(format!("no input files selected under {}", tests.display()));
    }
    let results = run_all(jobs, options)?;
    println!("{}", tally::totals_markdown(&results));
    if let Some(path) = &options.markdown {
        write(path, &tally::full_markdown(&results))?;
    }
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
        write(path, &json)?;
    }
    match &options.baseline {
        Some(path) if options.update_baseline => {
            let old = if path.exists() {
                tally::read_baseline(path)?
            } else {
                tally::Baseline::new()
            };
            let json = serde_json::to_string_pretty(&tally::updated_baseline(old, &results))
                .map_err(|e| e.to_string())?;
            write(path, &format!("{json}\n"))
        }
        Some(path) => check_baseline(path, &results),
        None => Ok(()),
    }
}

fn check_baseline(path: &Path, results: &[FileResult]) -> Result<(), String> {
    let (worse, better) = tally::against_baseline(&tally::read_baseline(path)?, results);
    let update = format!(
        "cargo run --release --bin tpch -- spark-sql --baseline {} --update-baseline",
        path.display()
    );
    if !better.is_empty() {
        println!(
            "{} files pass more queries than the baseline holds; record them with `{update}`:\n  {}",
            better.len(),
            better.join("\n  ")
        );
    }
    if worse.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} files pass fewer queries than {} holds:\n  {}\n(if a drop is intended, record it \
         with `{update}` and say why in the commit)",
        worse.len(),
        path.display(),
        worse.join("\n  ")
    ))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The golden files' directory: the option, the environment, or beside the repository.
fn tests_dir(option: Option<&Path>) -> PathBuf {
    option
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(ENV_TESTS).map(PathBuf::from))
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spark-sql-tests")
        })
}

/// The input files the options select, with their group and ANSI mode.
fn select_files(tests: &Path, options: &SparkSqlOptions) -> Result<Vec<FileJob>, String> {
    let split_path = tests.join("core-vs-spark-only-3.5.json");
    let split: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&split_path)
            .map_err(|e| format!("cannot read {}: {e}", split_path.display()))?,
    )
    .map_err(|e| format!("bad {}: {e}", split_path.display()))?;
    let spark_only: Vec<&str> = split["spark_only"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut jobs = Vec::new();
    for suite in ["3.5", "4.0"] {
        if options.suite != "all" && options.suite != suite {
            continue;
        }
        let dir = tests.join(format!("spark-{suite}"));
        for file in input_files(&dir.join("inputs"))? {
            let group = match suite {
                "3.5" if spark_only.contains(&file.as_str()) => "spark-only",
                "3.5" => "core",
                _ => "all",
            };
            let wanted = options.group == "all" || suite != "3.5" || options.group == group;
            let named = options
                .only
                .as_ref()
                .is_none_or(|o| file.contains(o.as_str()));
            if !wanted || !named || !dir.join("results").join(format!("{file}.out")).exists() {
                continue;
            }
            let ansi = match suite {
                "3.5" => file.starts_with("ansi/") || file.starts_with("postgreSQL/"),
                _ => !file.starts_with("nonansi/"),
            };
            jobs.push(FileJob {
                suite,
                group: group.to_string(),
                dir: dir.clone(),
                file,
                ansi,
            });
        }
    }
    Ok(jobs)
}

/// The `.sql` files under `inputs`, relative to it, sorted.
fn input_files(inputs: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    let mut dirs = vec![inputs.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "sql")
                && let Ok(relative) = path.strip_prefix(inputs)
            {
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Runs the jobs in worker processes, `--jobs` at a time; results in the jobs' order.
fn run_all(jobs: Vec<FileJob>, options: &SparkSqlOptions) -> Result<Vec<FileResult>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let count = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let done = Mutex::new(Vec::with_capacity(count));
    let workers = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some((index, job)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let result = run_file(&exe, &job, options);
                    if let Ok(mut done) = done.lock() {
                        done.push((index, result));
                    }
                }
            });
        }
    });
    let mut done = done.into_inner().map_err(|e| e.to_string())?;
    done.sort_by_key(|(index, _)| *index);
    Ok(done.into_iter().map(|(_, result)| result).collect())
}

/// One worker process for one file; its outcomes, the missing ones filled in.
fn run_file(exe: &Path, job: &FileJob, options: &SparkSqlOptions) -> FileResult {
    let mut result = FileResult::new(job.suite, &job.group, &job.file);
    let child = Command::new(exe)
        .arg("spark-sql-file")
        .arg("--inputs")
        .arg(job.dir.join("inputs"))
        .arg("--results")
        .arg(job.dir.join("results"))
        .args(["--file", &job.file, "--ansi", &job.ansi.to_string()])
        .args([
            "--dialect",
            &options.dialect,
            "--executor",
            &options.executor,
        ])
        .args(["--query-timeout", &options.query_timeout.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("{}: cannot start a worker: {e}", job.file);
            return result;
        }
    };
    let (sender, receiver) = channel::<String>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let patience = Duration::from_secs(options.query_timeout + 20);
    let mut missing = Cause::Crash;
    loop {
        match receiver.recv_timeout(patience) {
            Ok(line) => read_line(&line, &mut result),
            Err(RecvTimeoutError::Timeout) => {
                missing = Cause::Timeout;
                let _ = child.kill();
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.wait();
    result.fill(missing);
    result
}

/// One line of a worker: the header or an outcome.
fn read_line(line: &str, result: &mut FileResult) {
    if let Ok(outcome) = serde_json::from_str::<Outcome>(line) {
        result.add(&outcome);
    } else if let Ok(header) = serde_json::from_str::<serde_json::Value>(line) {
        result.queries = header["queries"].as_u64().unwrap_or(0) as usize;
        result.aligned = header["aligned"].as_bool().unwrap_or(false);
    }
}
