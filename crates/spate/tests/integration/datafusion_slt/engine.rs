//! The sqllogictest database: a spate [`Session`], run the way DataFusion's own engine
//! (`datafusion-sqllogictest`'s `engines/datafusion_engine`) runs its context.
//!
//! Every statement goes through `Session::sql` and the DataFrame's `collect`, so the
//! session's executor runs its physical plan. DDL and `SET` take effect when planned, as
//! in DataFusion. Results are printed as DataFusion's engine prints them
//! ([`super::format`]), and errors read `DataFusion error: ...` with DataFusion's own
//! message, so that `statement error <regex>` records match.

use async_trait::async_trait;
use spate::{Session, SpateError};
use sqllogictest::DBOutput;

use super::format::{self, ColumnType};

/// An error as DataFusion's engine displays it.
#[derive(Debug)]
pub struct EngineError(String);

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineError {}

impl EngineError {
    fn datafusion(err: &spate::datafusion::error::DataFusionError) -> Self {
        EngineError(format!("DataFusion error: {}", err.strip_backtrace()))
    }

    /// Spate wraps DataFusion's errors (statement context, shorter messages); the one
    /// underneath is what DataFusion's engine would have shown.
    fn spate(err: &SpateError) -> Self {
        match err.root() {
            SpateError::DataFusion(inner) => Self::datafusion(inner),
            SpateError::MemoryLimit { detail, .. } => {
                EngineError(format!("DataFusion error: Resources exhausted: {detail}"))
            }
            other => EngineError(other.to_string()),
        }
    }
}

/// Text replacements on result cells: this run's directories become the names
/// DataFusion's expected outputs use (`WORKSPACE_ROOT/...`).
pub type PathNames = Vec<(String, String)>;

/// One sqllogictest connection: a session and how to name its paths in results.
pub struct SpateEngine {
    session: Session,
    path_names: PathNames,
}

impl SpateEngine {
    pub fn new(session: Session, path_names: PathNames) -> Self {
        SpateEngine {
            session,
            path_names,
        }
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for SpateEngine {
    type Error = EngineError;
    type ColumnType = ColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<ColumnType>, EngineError> {
        // Parse errors with DataFusion's wording; spate rewords them for script users.
        let state = self.session.context().state();
        let dialect = state.config().options().sql_parser.dialect;
        state
            .sql_to_statement(sql, &dialect)
            .map_err(|e| EngineError::datafusion(&e))?;
        let df = self
            .session
            .sql(sql)
            .await
            .map_err(|e| EngineError::spate(&e))?;
        let schema = df.schema();
        let batches = df.collect().await.map_err(|e| EngineError::spate(&e))?;
        let types = format::column_types(schema.fields());
        let mut rows =
            format::rows(&batches).map_err(|e| EngineError(format!("Arrow error: {e}")))?;
        for cell in rows.iter_mut().flatten() {
            for (path, name) in &self.path_names {
                if cell.contains(path.as_str()) {
                    *cell = cell.replace(path.as_str(), name);
                }
            }
        }
        if rows.is_empty() && types.is_empty() {
            Ok(DBOutput::StatementComplete(0))
        } else {
            Ok(DBOutput::Rows { types, rows })
        }
    }

    async fn shutdown(&mut self) {}

    /// The name `onlyif`/`skipif` conditions test, as DataFusion's engine has it.
    fn engine_name(&self) -> &str {
        "DataFusion"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// Trailing whitespace of expected lines is not significant (DataFusion's normalizer).
#[allow(clippy::ptr_arg)] // the signature sqllogictest::Normalizer asks for
pub fn normalize(line: &String) -> String {
    line.trim_end().to_string()
}

/// DataFusion's validator: rows joined by spaces against the expected lines, where
/// `<slt:ignore>` in the expected text matches anything.
pub fn validate(
    normalizer: sqllogictest::Normalizer,
    actual: &[Vec<String>],
    expected: &[String],
) -> bool {
    const IGNORE: &str = "<slt:ignore>";
    let expected: Vec<String> = expected.iter().map(normalizer).collect();
    let actual: Vec<String> = actual
        .iter()
        .map(|row| row.join(" ").trim_end().to_string())
        .collect();
    if !expected.iter().any(|line| line.contains(IGNORE)) {
        return actual == expected;
    }
    let expected = expected.join("\n");
    let actual = actual.join("\n");
    let mut position = 0;
    for (i, fragment) in expected.split(IGNORE).enumerate() {
        if fragment.is_empty() {
            continue;
        }
        match actual[position..].find(fragment) {
            Some(found) if i > 0 || found == 0 => position += found + fragment.len(),
            _ => return false,
        }
    }
    true
}
