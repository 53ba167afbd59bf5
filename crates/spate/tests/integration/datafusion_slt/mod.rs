//! DataFusion's own sqllogictest files, run through spate's executor.
//!
//! The files ship in the `datafusion-sqllogictest` crate of the DataFusion version spate
//! builds on. `SPATE_DATAFUSION_SLT_DIR` names the unpacked crate; without it the test
//! runs `scripts/fetch-datafusion-slt.sh`, which downloads the crate once into
//! `~/.cache/spate-testdata` and prints its directory. When neither gives the files (no
//! network on the first run), the test fails and says how to get them: a plain
//! `cargo test` never passes without running the comparison.
//!
//! Each file runs record by record twice, each time in a fresh session as DataFusion's
//! runner sets one up (4 target partitions, no information schema): once with
//! DataFusion's executor, once with spate's. A record passes or fails under each; a
//! timeout fails it, except that a query (which changes nothing) that times out is
//! stopped and run once more: if it passes then, it counts as passed and the report lists
//! it with what the first run was doing when it was stopped (on a shared 2-core machine
//! a record can wait long for its turn; a hang times out twice). The assertion: every record that passes under DataFusion's executor
//! passes under spate's, except
//!
//! - records that print plans (`EXPLAIN`, or expected output that is a plan), which the
//!   two executors need not share, and
//! - the entries of `testdata/datafusion-slt-known-differences.txt`, each with its reason.
//!
//! Records that fail under both (data files DataFusion's repository has but the crate does
//! not ship, per-file tables DataFusion's runner registers in Rust, spate's table factory
//! or error wording) are counted, not compared. The summary goes to stderr and the full
//! report to `$CARGO_TARGET_TMPDIR/datafusion-slt-report.txt`.

mod engine;
mod format;
mod report;

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use spate::{ByteSize, ExecutorKind, Session};
use sqllogictest::{QueryExpect, Record, RecordOutput, Runner};

use engine::{PathNames, SpateEngine};
use format::ColumnType;
use report::{FileRun, Outcome, RecordRun, Summary};

/// Where the `datafusion-sqllogictest` crate is unpacked.
const DIR_VAR: &str = "SPATE_DATAFUSION_SLT_DIR";
/// Downloads the crate once and prints where it is (relative to the repository).
const FETCH_SCRIPT: &str = "scripts/fetch-datafusion-slt.sh";
/// A record that runs longer fails (a query, the second time).
const RECORD_TIMEOUT: Duration = Duration::from_secs(30);
/// Files run at once (each under both executors at once).
const PARALLEL_FILES: usize = 2;
/// Optional: spate's executor runs every shuffle with this many partitions (by default it
/// sizes them per query).
const SHUFFLE_PARTITIONS_VAR: &str = "SPATE_DATAFUSION_SLT_SHUFFLE_PARTITIONS";

/// Files and directories (relative to `test_files/`, a trailing `/` for a directory) that
/// are not run, and why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "spark/",
        "needs the datafusion-spark functions and Spark SQL dialect, which spate does not build",
    ),
    (
        "tpch/",
        "needs TPC-H data from DataFusion's tpch-gen script (DataFusion's runner skips it too)",
    ),
    (
        "avro.slt",
        "needs DataFusion's avro feature, which spate does not build",
    ),
    (
        "encrypted_parquet.slt",
        "needs DataFusion's parquet_encryption feature, which spate does not build",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datafusion_slt_files_pass_under_spate_where_they_pass_under_datafusion() {
    let suite = Arc::new(Suite::open(&slt_dir()));
    let started = Instant::now();
    let (run, skipped): (Vec<_>, Vec<_>) = suite
        .files()
        .into_iter()
        .partition(|file| skip_reason(&file.name).is_none());
    let mut runs: Vec<FileRun> = futures::stream::iter(run)
        .map(|file| run_file(Arc::clone(&suite), file))
        .buffer_unordered(PARALLEL_FILES)
        .collect()
        .await;
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    let skipped = skipped
        .into_iter()
        .map(|file| {
            let reason = skip_reason(&file.name).unwrap_or_default();
            (file.name, reason.to_string())
        })
        .collect();
    let known = report::known_differences(&repository().join(report::KNOWN_DIFFERENCES));
    let setup = match shuffle_partitions() {
        Some(n) => format!("spate's executor with {n} shuffle partitions"),
        None => "spate's executor".to_string(),
    };
    let summary = Summary::new(&runs, skipped, &known, started.elapsed(), setup);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("datafusion-slt-report.txt");
    std::fs::write(&path, summary.report(&runs)).unwrap();
    say(&format!(
        "{}\n(full report: {})",
        summary.counts(),
        path.display()
    ));
    let unexpected = summary.unexpected_differences(&runs, &known);
    assert!(
        unexpected.is_empty(),
        "{} records pass under DataFusion's executor but fail under spate's, and are not in \
         {}:\n{}",
        unexpected.len(),
        report::KNOWN_DIFFERENCES,
        unexpected.join("\n\n")
    );
}

/// The unpacked `datafusion-sqllogictest` crate: `$SPATE_DATAFUSION_SLT_DIR`, else what
/// `scripts/fetch-datafusion-slt.sh` prints (it downloads the crate on its first run and
/// answers from its cache after). Fails the test, saying how to get the files, when the
/// script cannot.
fn slt_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR_VAR) {
        return PathBuf::from(dir);
    }
    let script = repository().join(FETCH_SCRIPT);
    let output = std::process::Command::new(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let printed = String::from_utf8_lossy(&output.stdout);
    let dir = printed.lines().last().unwrap_or_default().trim();
    assert!(
        output.status.success() && !dir.is_empty(),
        "DataFusion's sqllogictest files are missing and {FETCH_SCRIPT} could not download \
         them ({}):\n{}\nRun `export {DIR_VAR}=$({FETCH_SCRIPT})` where crates.io is \
         reachable, or unpack the datafusion-sqllogictest crate of Cargo.lock's DataFusion \
         version and set {DIR_VAR} to it.",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    say(&format!("datafusion_slt: files from {dir}"));
    PathBuf::from(dir)
}

fn shuffle_partitions() -> Option<usize> {
    let value = std::env::var(SHUFFLE_PARTITIONS_VAR).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|e| panic!("{SHUFFLE_PARTITIONS_VAR}={value}: {e}")),
    )
}

/// Writes past the test harness's capture: the counts are the point of this test.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn skip_reason(name: &str) -> Option<&'static str> {
    SKIPPED
        .iter()
        .find(|(pattern, _)| {
            if pattern.ends_with('/') {
                name.starts_with(pattern)
            } else {
                name == *pattern
            }
        })
        .map(|(_, reason)| *reason)
}

/// The unpacked crate, laid out as in DataFusion's repository.
struct Suite {
    /// `<root>/datafusion/sqllogictest`: relative paths in the files start here.
    base: PathBuf,
    /// `<root>`, which DataFusion's expected outputs call `WORKSPACE_ROOT`.
    root: PathBuf,
}

/// One `.slt` file: its name relative to `test_files/` and where it is.
struct SltFile {
    name: String,
    path: PathBuf,
}

impl Suite {
    fn open(dir: &Path) -> Self {
        let base = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("{DIR_VAR}={}: {e}", dir.display()));
        assert!(
            base.join("test_files").is_dir(),
            "{DIR_VAR}={} has no test_files/",
            base.display()
        );
        let root = base
            .parent()
            .and_then(Path::parent)
            .unwrap_or(&base)
            .to_path_buf();
        Suite { base, root }
    }

    fn test_files(&self) -> PathBuf {
        self.base.join("test_files")
    }

    fn files(&self) -> Vec<SltFile> {
        let mut paths = Vec::new();
        let mut dirs = vec![self.test_files()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "slt") {
                    paths.push(path);
                }
            }
        }
        let mut files: Vec<SltFile> = paths
            .into_iter()
            .map(|path| SltFile {
                name: self.name_of(&path),
                path,
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        files
    }

    /// `path` relative to `test_files/`, with `/` separators.
    fn name_of(&self, path: &Path) -> String {
        let relative = path.strip_prefix(self.test_files()).unwrap_or(path);
        relative.to_string_lossy().replace('\\', "/")
    }

    /// SQL text rewrites for one run: the files name data relative to `base` and scratch
    /// space as `test_files/scratch/`, which each run gets afresh in `scratch`.
    fn rewrites(&self, scratch: &Path) -> Vec<(String, String)> {
        let base = self.base.display();
        let parent = self.base.parent().unwrap_or(&self.base).display();
        vec![
            (
                "'test_files/scratch/".into(),
                format!("'{}/", scratch.display()),
            ),
            ("'test_files/".into(), format!("'{base}/test_files/")),
            ("'data/".into(), format!("'{base}/data/")),
            ("'../../".into(), format!("'{}/", self.root.display())),
            ("'../".into(), format!("'{parent}/")),
        ]
    }

    /// How this run's paths appear in results, as DataFusion's normalized outputs name
    /// them (object-store paths have no leading `/`).
    fn path_names(&self, scratch: &Path) -> PathNames {
        let bare = |p: &Path| p.display().to_string().trim_start_matches('/').to_string();
        vec![
            (
                bare(scratch),
                "WORKSPACE_ROOT/datafusion/sqllogictest/test_files/scratch".into(),
            ),
            (bare(&self.root), "WORKSPACE_ROOT".into()),
        ]
    }
}

/// What kind of record, for counting.
enum Kind {
    /// A statement or query, compared.
    Compared { key: String },
    /// A statement or query that prints a plan: run, not compared.
    Plan { key: String },
    /// Anything else (control, include markers, comments): applied, not counted.
    Other,
}

async fn run_file(suite: Arc<Suite>, file: SltFile) -> FileRun {
    let started = Instant::now();
    let records = match sqllogictest::parse_file::<ColumnType>(&file.path) {
        Ok(records) => Arc::new(records),
        Err(err) => {
            return FileRun::unparsable(file.name, err.to_string());
        }
    };
    let kinds: Vec<Kind> = records
        .iter()
        .map(|record| kind(&suite, &file.name, record))
        .collect();
    let pass = |executor| {
        tokio::spawn(run_pass(
            Arc::clone(&suite),
            file.name.clone(),
            Arc::clone(&records),
            executor,
        ))
    };
    let (datafusion, spate) =
        tokio::join!(pass(ExecutorKind::DataFusion), pass(ExecutorKind::Spate));
    let (datafusion, spate) = (datafusion.unwrap(), spate.unwrap());
    let records = kinds
        .into_iter()
        .zip(datafusion.into_iter().zip(spate))
        .filter_map(|(kind, outcomes)| match (kind, outcomes) {
            (Kind::Compared { key }, (Some(datafusion), Some(spate))) => Some(RecordRun {
                key,
                plan: false,
                datafusion,
                spate,
            }),
            (Kind::Plan { key }, (Some(datafusion), Some(spate))) => Some(RecordRun {
                key,
                plan: true,
                datafusion,
                spate,
            }),
            _ => None,
        })
        .collect();
    FileRun {
        name: file.name,
        records,
        error: None,
        elapsed: started.elapsed(),
    }
}

fn kind(suite: &Suite, file: &str, record: &Record<ColumnType>) -> Kind {
    let (loc, sql, plan_output) = match record {
        Record::Statement { loc, sql, .. } => (loc, sql, false),
        Record::Query {
            loc, sql, expected, ..
        } => (loc, sql, prints_plan(expected)),
        _ => return Kind::Other,
    };
    let own = suite.name_of(Path::new(loc.file()));
    let key = if own == file {
        format!("{file}:{}", loc.line())
    } else {
        format!("{file}>{own}:{}", loc.line())
    };
    if plan_output || is_explain(sql) {
        Kind::Plan { key }
    } else {
        Kind::Compared { key }
    }
}

/// Whether `sql` is an `EXPLAIN`, after leading comments.
fn is_explain(sql: &str) -> bool {
    let code = sql
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ");
    code.get(..7)
        .is_some_and(|start| start.eq_ignore_ascii_case("explain"))
}

/// Whether a query's expected output is a plan (DataFusion's engine numbers plan lines
/// `01)`, and its plan rows start with `logical_plan`/`physical_plan`).
fn prints_plan(expected: &QueryExpect<ColumnType>) -> bool {
    let QueryExpect::Results { results, .. } = expected else {
        return false;
    };
    results.iter().any(|line| {
        let line = line.trim_start();
        line.starts_with("logical_plan")
            || line.starts_with("physical_plan")
            || (line.len() > 3
                && line.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && line.as_bytes()[2] == b')')
    })
}

/// Runs every record of a file in one fresh session with `executor`. Returns, per record,
/// its outcome if it is a statement or query that ran (`None` otherwise, and after
/// `halt`).
async fn run_pass(
    suite: Arc<Suite>,
    file: String,
    records: Arc<Vec<Record<ColumnType>>>,
    executor: ExecutorKind,
) -> Vec<Option<Outcome>> {
    let scratch = tempfile::tempdir().unwrap();
    // DataFusion's runner gives each file an empty `test_files/scratch/<stem>/`.
    let stem = Path::new(&file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::create_dir_all(scratch.path().join(stem)).unwrap();
    let rewrites = suite.rewrites(scratch.path());
    let path_names = suite.path_names(scratch.path());
    let mut builder = Session::builder()
        .threads(2)
        .executor(executor)
        .memory_limit(ByteSize::gib(4))
        .config("datafusion.execution.target_partitions", "4")
        .config("datafusion.catalog.information_schema", "false");
    if executor == ExecutorKind::Spate
        && let Some(n) = shuffle_partitions()
    {
        builder = builder.shuffle_partitions(n);
    }
    let session = builder.build().unwrap();
    let progress = session.progress();
    let mut runner = Runner::new(move || {
        let engine = SpateEngine::new(session.clone(), path_names.clone());
        async move { Ok(engine) }
    });
    runner.add_label("Datafusion");
    runner.with_column_validator(sqllogictest::strict_column_validator);
    runner.with_normalizer(engine::normalize);
    runner.with_validator(engine::validate);

    let mut outcomes = vec![None; records.len()];
    for (i, record) in records.iter().enumerate() {
        if matches!(record, Record::Halt { .. }) {
            break;
        }
        let counted = matches!(record, Record::Statement { .. } | Record::Query { .. });
        let mut record = record.clone();
        if let Record::Statement { sql, .. } | Record::Query { sql, .. } = &mut record {
            for (from, to) in &rewrites {
                if sql.contains(from.as_str()) {
                    *sql = sql.replace(from.as_str(), to);
                }
            }
        }
        let query = matches!(record, Record::Query { .. });
        let mut outcome = run_record(&mut runner, record.clone()).await;
        if query && matches!(&outcome, Outcome::Failed(m) if m == &timed_out()) {
            let stopped = format!(
                "timed out after {RECORD_TIMEOUT:?}; its stages then: {:?}",
                progress.stages()
            );
            outcome = match run_record(&mut runner, record).await {
                Outcome::Passed => Outcome::PassedAfterTimeout(stopped),
                again => again,
            };
        }
        if counted {
            outcomes[i] = Some(outcome);
        }
    }
    outcomes
}

/// Runs `record`, for at most [`RECORD_TIMEOUT`].
async fn run_record<D, M>(runner: &mut Runner<D, M>, record: Record<ColumnType>) -> Outcome
where
    D: sqllogictest::AsyncDB<ColumnType = ColumnType>,
    M: sqllogictest::MakeConnection<Conn = D>,
{
    let run = AssertUnwindSafe(runner.run_async(record)).catch_unwind();
    match tokio::time::timeout(RECORD_TIMEOUT, run).await {
        Ok(Ok(Ok(RecordOutput::Nothing))) => Outcome::Skipped,
        Ok(Ok(Ok(_))) => Outcome::Passed,
        Ok(Ok(Err(err))) => Outcome::Failed(err.display(false).to_string()),
        Ok(Err(panic)) => Outcome::Failed(format!("panicked: {}", panic_message(&panic))),
        Err(_) => Outcome::Failed(timed_out()),
    }
}

fn timed_out() -> String {
    format!("timed out after {RECORD_TIMEOUT:?}")
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_default()
}
