//! The sqllogictest suites under `testdata/slt/`, run through a spate session.
//!
//! Each file runs in a fresh session with its own temp directory: `__TEST_DIR__` in the
//! file stands for it and `__TESTDATA__` for the repository's `testdata/`. The session has
//! the parameter `run_date=2026-11-23`, so files can test `${param}` substitution.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use spate::{ByteSize, ExecutorKind, Session, SpateError, StatementKind};
use sqllogictest::{DBOutput, DefaultColumnType};

struct SpateDb {
    session: Session,
}

#[async_trait]
impl sqllogictest::AsyncDB for SpateDb {
    type Error = SpateError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let mut results = self.session.run_script(sql).await?;
        let Some(last) = results.pop() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        // INSERT and COPY return their row count, as in DataFusion's own suites.
        if let Some(count) = last.rows_written {
            return Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Integer],
                rows: vec![vec![count.to_string()]],
            });
        }
        if last.kind != StatementKind::Query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let rows = spate::io::string_rows(&last.batches)?
            .into_iter()
            .map(|cells| {
                cells
                    .into_iter()
                    .map(|c| {
                        if c.is_empty() {
                            "(empty)".to_string()
                        } else {
                            c
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; last.schema.fields().len()],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "spate"
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub fn slt_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("slt"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

/// One way of running the suites; every one must pass them all, so spate's executor and
/// DataFusion's return the same rows under forced partition counts and tiny memory.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub name: &'static str,
    pub executor: ExecutorKind,
    pub shuffle_partitions: Option<usize>,
    pub memory: ByteSize,
    pub adaptive: bool,
    /// Faults injected (see `faults.rs`); `None` for none.
    pub faults: Option<spate::FaultInjection>,
}

const SETUPS: [Setup; 6] = [
    Setup {
        name: "datafusion",
        executor: ExecutorKind::DataFusion,
        shuffle_partitions: None,
        memory: ByteSize::mib(256),
        adaptive: true,
        faults: None,
    },
    Setup {
        name: "spate",
        executor: ExecutorKind::Spate,
        shuffle_partitions: None,
        memory: ByteSize::mib(256),
        adaptive: true,
        faults: None,
    },
    Setup {
        name: "spate, 1 shuffle partition",
        executor: ExecutorKind::Spate,
        shuffle_partitions: Some(1),
        memory: ByteSize::mib(256),
        adaptive: true,
        faults: None,
    },
    Setup {
        name: "spate, 7 shuffle partitions",
        executor: ExecutorKind::Spate,
        shuffle_partitions: Some(7),
        memory: ByteSize::mib(256),
        adaptive: true,
        faults: None,
    },
    Setup {
        name: "spate, 2 shuffle partitions, 2 MiB memory",
        executor: ExecutorKind::Spate,
        shuffle_partitions: Some(2),
        memory: ByteSize::mib(2),
        adaptive: true,
        faults: None,
    },
    Setup {
        name: "spate, 3 shuffle partitions, 2 MiB memory, adaptive off",
        executor: ExecutorKind::Spate,
        shuffle_partitions: Some(3),
        memory: ByteSize::mib(2),
        adaptive: false,
        faults: None,
    },
];

pub async fn run_file(path: &Path, setup: Setup) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("__TEST_DIR__", &dir.path().display().to_string())
        .replace(
            "__TESTDATA__",
            &testdata().canonicalize().unwrap().display().to_string(),
        );
    let mut runner = sqllogictest::Runner::new(move || async move {
        let mut builder = Session::builder()
            .threads(2)
            .executor(setup.executor)
            .memory_limit(setup.memory)
            .adaptive(setup.adaptive)
            .param("run_date", "2026-11-23");
        if let Some(n) = setup.shuffle_partitions {
            builder = builder.shuffle_partitions(n);
        }
        if let Some(faults) = setup.faults {
            builder = builder
                .inject_faults(faults)
                .task_retries(super::faults::RETRIES);
        }
        Ok(SpateDb {
            session: builder.build()?,
        })
    });
    runner
        .run_script_async(&text)
        .await
        .map_err(|e| format!("{} [{}]: {}", path.display(), setup.name, e.display(false)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_suites_pass_under_every_executor_setup() {
    let files = slt_files();
    assert!(
        files.len() >= 5,
        "expected the .slt suites, found {files:?}"
    );
    let mut failures = Vec::new();
    for setup in SETUPS {
        for file in &files {
            if let Err(err) = run_file(file, setup).await {
                failures.push(err);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        files.len() * SETUPS.len(),
        failures.join("\n\n")
    );
}
