//! SQL dialects: DataFusion's own, or Spark SQL's ([`SqlDialect`], the setting
//! `spate.dialect`).
//!
//! The dialect decides how statements are parsed: under `spark`, with sqlparser's Spark SQL
//! dialect (backquoted identifiers, lambdas `x -> x + 1`, `FILTER (WHERE ...)` on
//! aggregates, `SELECT * EXCEPT`, struct literals); under `datafusion`, with whatever
//! `datafusion.sql_parser.dialect` names (Generic by default). Parsed Spark statements are
//! then adapted to what DataFusion plans ([`adapt`]: `CREATE TEMPORARY VIEW`, Spark's
//! names for unaliased select items, Spark's types for numeric literals). A session
//! built in the Spark dialect also has Spark's functions, with Spark's semantics
//! ([`with_spark_functions`]). Every session accepts `SET spark.*` keys
//! ([`crate::spark_settings`]). `SET spate.dialect = 'spark'` in a script switches the
//! parser from the next statement on; the function names come with a session built in
//! the dialect (`--dialect spark`, `spate.toml`, or `SessionBuilder::dialect`).

use std::str::FromStr;

use datafusion::common::config_field;
use datafusion::config::{ConfigOptions, Dialect};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use crate::config::SpateConfig;
use crate::error::SpateError;

/// The SQL dialect statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlDialect {
    /// DataFusion's SQL, parsed with `datafusion.sql_parser.dialect`.
    #[default]
    DataFusion,
    /// Spark SQL.
    Spark,
}

impl FromStr for SqlDialect {
    type Err = SpateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "datafusion" => Ok(SqlDialect::DataFusion),
            "spark" => Ok(SqlDialect::Spark),
            _ => Err(SpateError::InvalidOption {
                option: "dialect".into(),
                value: text.to_string(),
                reason: "expected spark or datafusion".into(),
            }),
        }
    }
}

impl std::fmt::Display for SqlDialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SqlDialect::DataFusion => "datafusion",
            SqlDialect::Spark => "spark",
        })
    }
}

// The dialect is a setting: `spate.dialect = spark`.
config_field!(SqlDialect, value => value.parse::<SqlDialect>()
    .map_err(|e| datafusion::error::DataFusionError::Configuration(match e {
        SpateError::InvalidOption { reason, .. } => reason,
        other => other.to_string(),
    }))?);

/// The parser dialect for a session's options: Spark SQL's under `spate.dialect = spark`,
/// else DataFusion's setting.
pub(crate) fn parser_dialect(options: &ConfigOptions) -> Dialect {
    match SpateConfig::of(options).dialect {
        SqlDialect::Spark => Dialect::Spark,
        SqlDialect::DataFusion => options.sql_parser.dialect,
    }
}

/// A parsed statement adapted to what DataFusion plans, under the Spark dialect: Spark's
/// session-scoped `CREATE [OR REPLACE] TEMPORARY VIEW` becomes a view of the session
/// (DataFusion's views already live only as long as the session), and unaliased select
/// items get Spark's names ([`crate::spark_names`]), Spark's shorthand functions are
/// written out ([`crate::spark_rewrites`]), numeric literals get Spark's types
/// ([`crate::spark_literals`]), datetime patterns are written as chrono's
/// ([`crate::spark_datetime_patterns`]; a pattern without an exact equivalent is an error),
/// and `CREATE TABLE ... USING fmt` without a location makes a session table
/// ([`session_table`]).
pub(crate) fn adapt(
    statement: DfStatement,
    options: &ConfigOptions,
) -> Result<DfStatement, SpateError> {
    if SpateConfig::of(options).dialect != SqlDialect::Spark {
        return Ok(statement);
    }
    match statement {
        DfStatement::Statement(mut inner) => {
            match inner.as_mut() {
                SqlStatement::CreateView(view) => view.temporary = false,
                SqlStatement::CreateTable(table) => session_table(table),
                _ => {}
            }
            crate::spark_rewrites::fill_defaults(inner.as_mut());
            crate::spark_names::name_select_items(inner.as_mut());
            crate::spark_rewrites::rewrite_functions(inner.as_mut());
            crate::spark_datetime_patterns::translate_patterns(inner.as_mut())?;
            crate::spark_literals::type_literals(inner.as_mut());
            Ok(DfStatement::Statement(inner))
        }
        other => Ok(other),
    }
}

/// Spark's `CREATE TABLE t (...) USING parquet` (or any format) without a location: a
/// managed table in Spark's warehouse. spate has no warehouse, so the table is one of the
/// session, in memory (DataFusion's `CREATE TABLE` without a format), and `INSERT INTO` it
/// works as in Spark; it is gone when the session ends. A table with a `LOCATION` keeps
/// its format clause, which DataFusion refuses with a message naming it.
fn session_table(table: &mut datafusion::sql::sqlparser::ast::CreateTable) {
    use datafusion::sql::sqlparser::ast::HiveIOFormat;
    let Some(formats) = &table.hive_formats else {
        return;
    };
    let using_only = matches!(formats.storage, Some(HiveIOFormat::Using { .. }))
        && formats.row_format.is_none()
        && formats.serde_properties.is_none()
        && formats.location.is_none();
    if using_only && table.location.is_none() && !table.external {
        table.hive_formats = None;
    }
}

/// The text a statement is parsed from: under the Spark dialect, Spark's suffixed numeric
/// literals (`6S`, `1.5D`) written as casts sqlparser reads
/// ([`crate::spark_literals::suffixed_literals`]); otherwise the text itself.
pub(crate) fn parse_text<'a>(sql: &'a str, options: &ConfigOptions) -> std::borrow::Cow<'a, str> {
    if SpateConfig::of(options).dialect == SqlDialect::Spark {
        crate::spark_literals::suffixed_literals(sql)
    } else {
        std::borrow::Cow::Borrowed(sql)
    }
}

/// `state` with Spark's functions (the `datafusion-spark` crate's scalar, aggregate,
/// window and table functions, and its planner of `EXTRACT` and `SUBSTRING`), which take
/// the place of DataFusion's functions of the same name (`concat` of a NULL is NULL, as in
/// Spark). For sessions of the Spark dialect.
pub(crate) fn with_spark_functions(
    state: datafusion::execution::SessionStateBuilder,
) -> datafusion::execution::SessionStateBuilder {
    use datafusion_spark::SessionStateBuilderSpark;
    state.with_spark_features()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dialects() {
        assert_eq!("Spark".parse::<SqlDialect>().ok(), Some(SqlDialect::Spark));
        assert_eq!(
            "datafusion".parse::<SqlDialect>().ok(),
            Some(SqlDialect::DataFusion)
        );
        assert!("hive".parse::<SqlDialect>().is_err());
        assert_eq!(SqlDialect::Spark.to_string(), "spark");
    }
}
