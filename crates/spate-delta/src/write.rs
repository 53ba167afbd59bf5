//! Planning a write into a Delta table.
//!
//! [`plan_write`] opens the table, checks the rows against it (save mode, columns and
//! types, partition columns, `replaceWhere`), and returns the physical plan that writes
//! and commits:
//!
//! ```text
//! DeltaCommitExec            one task: commits every add as one new version
//!   CoalescePartitionsExec   gathers the adds
//!     DeltaWriterExec        one task per input partition: writes Parquet files
//!       <the query>          run by the session's executor
//! ```
//!
//! Nothing is checked while rows flow that could have been checked here: a write that
//! fails planning has touched nothing.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::DFSchema;
use datafusion::execution::context::SessionState;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow, TryIntoKernel};
use deltalake::operations::write::WriterStatsConfig;

use crate::commit_exec::{CommitPlan, DeltaCommitExec};
use crate::config::{DeltaWriteOptions, OverwriteScope, WriteMode};
use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;
use crate::table::{TableVersion, open_table};
use crate::writer_exec::{DeltaWriterExec, WriterSpec, indexed_columns};

/// Plans writing `input` (a physical plan of the session) into the table at `location`.
/// Returns `None` when there is nothing to do (mode Ignore and the table exists).
pub async fn plan_write(
    state: &SessionState,
    location: &DeltaLocation,
    input: Arc<dyn ExecutionPlan>,
    options: &DeltaWriteOptions,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let shown = location.to_string();
    let opened = open_table(state.runtime_env(), location, TableVersion::Latest).await?;
    if !check_mode(&shown, opened.table.is_some(), options)? {
        return Ok(None);
    }
    let target = Target::of(&shown, opened.table.as_ref(), &input.schema(), options)?;
    let partition_schema = Arc::new(Schema::new(
        target
            .partition_columns
            .iter()
            .filter_map(|c| target.schema.field_with_name(c).ok().cloned())
            .collect::<Vec<Field>>(),
    ));
    let replace_where = match &options.overwrite {
        OverwriteScope::ReplaceWhere(text) if options.mode == WriteMode::Overwrite => Some(
            compile_replace_where(state, &shown, text, &partition_schema)?,
        ),
        _ => None,
    };
    let spec = writer_spec(location, &target, options);
    let config = spec.writer_config(&state.config_options().execution.parquet)?;
    let writer = Arc::new(DeltaWriterExec::new(
        input,
        spec,
        config,
        opened.log_store.object_store(None),
    ));
    let commit = CommitPlan {
        location: shown,
        log_store: opened.log_store,
        table: opened.table,
        new_schema: target.new_schema,
        partition_columns: target.partition_columns,
        mode: options.mode,
        overwrite: options.overwrite.clone(),
        replace_where,
        partition_schema,
    };
    let gathered = Arc::new(CoalescePartitionsExec::new(writer));
    Ok(Some(Arc::new(DeltaCommitExec::new(
        gathered,
        Arc::new(commit),
    ))))
}

/// Whether the save mode lets the write go ahead on a table that `exists` (`false`:
/// nothing to do); errors for a mode that forbids it, or `replaceWhere` off an overwrite.
fn check_mode(shown: &str, exists: bool, options: &DeltaWriteOptions) -> Result<bool> {
    match options.mode {
        WriteMode::ErrorIfExists if exists => {
            return Err(DeltaError::AlreadyExists {
                location: shown.to_string(),
            });
        }
        WriteMode::Ignore if exists => return Ok(false),
        _ => {}
    }
    // A table's dynamic-overwrite default does not concern its appends; replaceWhere
    // on an append is a mistake.
    if let (
        WriteMode::Append | WriteMode::ErrorIfExists | WriteMode::Ignore,
        OverwriteScope::ReplaceWhere(text),
    ) = (options.mode, &options.overwrite)
    {
        return Err(DeltaError::InvalidOption {
            option: "replaceWhere".into(),
            value: text.clone(),
            reason: "replacing partitions needs save mode Overwrite (INSERT OVERWRITE)".into(),
        });
    }
    Ok(true)
}

/// The table a write goes into: the existing one's, or the one the rows make.
struct Target {
    /// Its Arrow schema, partition columns included.
    schema: SchemaRef,
    partition_columns: Vec<String>,
    /// The schema to create the table with (`None`: the table exists).
    new_schema: Option<StructType>,
    /// The existing table's statistics settings.
    stats: Option<WriterStatsConfig>,
}

impl Target {
    /// Checks the rows (schema `rows`) against the table (or, for a new table, that they
    /// can make one).
    fn of(
        shown: &str,
        table: Option<&deltalake::DeltaTable>,
        rows: &SchemaRef,
        options: &DeltaWriteOptions,
    ) -> Result<Self> {
        let Some(table) = table else {
            let kernel = new_table_schema(shown, rows, &options.partition_by)?;
            let arrow: Schema =
                (&kernel)
                    .try_into_arrow()
                    .map_err(|e| DeltaError::SchemaMismatch {
                        location: shown.to_string(),
                        detail: e.to_string(),
                    })?;
            return Ok(Target {
                schema: Arc::new(arrow),
                partition_columns: options.partition_by.clone(),
                new_schema: Some(kernel),
                stats: None,
            });
        };
        let state = table
            .snapshot()
            .map_err(|e| DeltaError::from_delta(shown, e))?;
        let snapshot = state.snapshot();
        let table_schema = snapshot.arrow_schema();
        let partitions = snapshot.metadata().partition_columns().to_vec();
        if !options.partition_by.is_empty() && options.partition_by != partitions {
            return Err(DeltaError::PartitionMismatch {
                location: shown.to_string(),
                table: partitions.join(", "),
                requested: options.partition_by.join(", "),
            });
        }
        check_rows(shown, &table_schema, rows)?;
        Ok(Target {
            schema: table_schema,
            partition_columns: partitions,
            new_schema: None,
            stats: Some(WriterStatsConfig::from_config(
                snapshot.table_configuration(),
            )),
        })
    }
}

/// What the writers write: the table, the target file size, and the table's statistics
/// settings (the session's Parquet settings are added where they run).
fn writer_spec(
    location: &DeltaLocation,
    target: &Target,
    options: &DeltaWriteOptions,
) -> WriterSpec {
    let (indexed, stats_columns) = match &target.stats {
        Some(stats) => (stats.num_indexed_cols, stats.stats_columns.clone()),
        None => (Default::default(), None),
    };
    WriterSpec {
        location: location.clone(),
        table_schema: Arc::clone(&target.schema),
        partition_columns: target.partition_columns.clone(),
        target_file_size: Some(options.target_file_size),
        indexed_columns: indexed_columns(&indexed),
        stats_columns,
    }
}

/// The schema of a new table, from the rows: strings, binaries and timestamps in the
/// types Delta stores (`string`, `binary`, microsecond `timestamp`), partition columns
/// checked to be columns.
pub fn new_table_schema(
    location: &str,
    rows: &Schema,
    partition_by: &[String],
) -> Result<StructType> {
    for column in partition_by {
        if rows.field_with_name(column).is_err() {
            return Err(DeltaError::UnknownPartitionColumn {
                location: location.to_string(),
                column: column.clone(),
                columns: describe_columns(rows),
            });
        }
    }
    let fields: Vec<Field> = rows
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(storable(f.data_type())))
        .collect();
    let schema = Schema::new(fields);
    let mut problems = Vec::new();
    for field in schema.fields() {
        let single = Schema::new(vec![field.as_ref().clone()]);
        let converted: std::result::Result<StructType, _> = (&single).try_into_kernel();
        if converted.is_err() {
            problems.push(format!(
                "column `{}` of type {} cannot be stored in a Delta table",
                field.name(),
                field.data_type()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(DeltaError::SchemaMismatch {
            location: location.to_string(),
            detail: problems.join("; "),
        });
    }
    (&schema)
        .try_into_kernel()
        .map_err(|e| DeltaError::SchemaMismatch {
            location: location.to_string(),
            detail: e.to_string(),
        })
}

/// The type Delta stores a column of type `data_type` as.
fn storable(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Dictionary(_, value) => storable(value),
        other => other.clone(),
    }
}

/// Checks that rows of schema `rows` can be written to a table of schema `table`: the
/// same column names, and types equal or widened without loss. The message names every
/// column at fault with both types.
pub fn check_rows(location: &str, table: &Schema, rows: &Schema) -> Result<()> {
    let mut problems = Vec::new();
    for field in rows.fields() {
        if table.field_with_name(field.name()).is_err() {
            problems.push(format!(
                "column `{}` ({}) is not in the table",
                field.name(),
                field.data_type()
            ));
        }
    }
    for field in table.fields() {
        match rows.field_with_name(field.name()) {
            Err(_) => problems.push(format!(
                "column `{}` ({}) is missing from the rows written",
                field.name(),
                field.data_type()
            )),
            Ok(given) if !writable(given.data_type(), field.data_type()) => {
                problems.push(format!(
                    "column `{}` is {} in the table but {} in the rows written",
                    field.name(),
                    field.data_type(),
                    given.data_type()
                ));
            }
            Ok(_) => {}
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(DeltaError::SchemaMismatch {
        location: location.to_string(),
        detail: format!(
            "{} (table columns: {})",
            problems.join("; "),
            describe_columns(table)
        ),
    })
}

/// Whether a column of type `from` may be written into one of type `to`.
fn writable(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to || storable(from) == storable(to) || *from == Null {
        return true;
    }
    match (from, to) {
        (Int8, Int16 | Int32 | Int64) | (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (Float32, Float64) => true,
        (Timestamp(_, a), Timestamp(_, b)) => a.is_some() == b.is_some(),
        (Decimal128(p1, s1), Decimal128(p2, s2)) => s1 == s2 && p1 <= p2,
        _ => false,
    }
}

/// `a Int32, day Date32`, for messages.
fn describe_columns(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `replaceWhere` and compiles it against the partition columns.
fn compile_replace_where(
    state: &SessionState,
    location: &str,
    text: &str,
    partitions: &SchemaRef,
) -> Result<Arc<dyn PhysicalExpr>> {
    let invalid = |reason: String| DeltaError::InvalidOption {
        option: "replaceWhere".into(),
        value: text.to_string(),
        reason,
    };
    if partitions.fields().is_empty() {
        return Err(invalid(format!(
            "{location} is not partitioned; replaceWhere selects partitions"
        )));
    }
    let names: Vec<&str> = partitions
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let schema = DFSchema::try_from(partitions.as_ref().clone()).map_err(DeltaError::from)?;
    let expr = state.create_logical_expr(text, &schema).map_err(|e| {
        invalid(format!(
            "{} (it may name only the partition columns: {})",
            crate::error::one_line(&e.strip_backtrace()),
            names.join(", ")
        ))
    })?;
    state
        .create_physical_expr(expr, &schema)
        .map_err(|e| invalid(crate::error::one_line(&e.strip_backtrace())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn mismatches_name_columns_and_types() {
        let table = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
        let rows = schema(&[("id", DataType::Utf8), ("nam", DataType::Utf8)]);
        let err = check_rows("/t", &table, &rows).unwrap_err().to_string();
        assert!(
            err.contains("column `id` is Int64 in the table but Utf8"),
            "{err}"
        );
        assert!(
            err.contains("column `nam` (Utf8) is not in the table"),
            "{err}"
        );
        assert!(err.contains("column `name` (Utf8) is missing"), "{err}");
    }

    #[test]
    fn lossless_widening_and_string_views_are_writable() {
        let table = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
        let rows = schema(&[("id", DataType::Int32), ("name", DataType::Utf8View)]);
        assert!(check_rows("/t", &table, &rows).is_ok());
    }

    #[test]
    fn partition_columns_must_be_columns() {
        let rows = schema(&[("id", DataType::Int64)]);
        let err = new_table_schema("/t", &rows, &["day".into()]).unwrap_err();
        assert!(
            matches!(err, DeltaError::UnknownPartitionColumn { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`day`"), "{err}");
    }
}
