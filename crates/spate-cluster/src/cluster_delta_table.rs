//! [`ClusterDeltaTable`]: a Delta table read on a cluster, and how the client sends it.
//!
//! The client's plan names the table ([`encode`]: its location and the version it reads,
//! latest, a number or a time); the scheduler decodes it into a `ClusterDeltaTable`
//! ([`decode`]), whose scan looks up the version's files when the scheduler plans the
//! job ([`spate_delta::table_files`]) and reads them with DataFusion's own Parquet scan,
//! their partition values as partition columns. That scan is a plan DataFusion's protobuf
//! describes, so it travels to the executors with no codec of spate's: delta-rs's scan,
//! which the client would plan, does not (delta-rs #4171).
//!
//! # Algorithm of the scan
//! 1. Open the table at the version in the scheduler's stores and list its files; refuse
//!    column mapping and deletion vectors, naming them (see `spate_delta::files`).
//! 2. Check the version has the columns the client planned with; read them as the
//!    client's types (delta-rs's scan, which the client planned with, may read text as
//!    views).
//! 3. Table schema for the scan: the data columns in the table's order, then the
//!    partition columns; the requested projection is mapped onto that order, so the
//!    output has the table's column order whatever the partition columns' place.
//! 4. Files into `target_partitions` groups, largest first into the lightest group.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use object_store::path::Path;
use prost::Message;
use spate_delta::{DeltaError, DeltaLocation, DeltaTableProvider, TableFiles, TableVersion};

/// What starts an encoded Delta table, to tell it from other providers.
const MAGIC: &[u8] = b"spate-delta-table\0";

/// A Delta table as it travels.
#[derive(Clone, PartialEq, prost::Message)]
struct DeltaTableNode {
    /// Its URL.
    #[prost(string, tag = "1")]
    location: String,
    /// The version it reads, when pinned by number.
    #[prost(uint64, optional, tag = "2")]
    version: Option<u64>,
    /// The time it reads as of (microseconds since the epoch), when pinned by time.
    #[prost(int64, optional, tag = "3")]
    as_of_micros: Option<i64>,
}

/// Writes `table` (the client's) into `buf`.
pub(crate) fn encode(table: &DeltaTableProvider, buf: &mut Vec<u8>) -> Result<()> {
    let (version, as_of_micros) = match table.version() {
        TableVersion::Latest => (None, None),
        TableVersion::Version(v) => (Some(v), None),
        TableVersion::AsOf(t) => (None, Some(t.timestamp_micros())),
    };
    let node = DeltaTableNode {
        location: table.location().url().to_string(),
        version,
        as_of_micros,
    };
    buf.extend_from_slice(MAGIC);
    node.encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("cannot encode a Delta table: {e}")))
}

/// The table [`encode`] wrote into `buf`, read with `schema`; `None` when `buf` holds
/// another provider.
pub(crate) fn decode(
    buf: &[u8],
    table_ref: &TableReference,
    schema: SchemaRef,
) -> Result<Option<Arc<dyn TableProvider>>> {
    let Some(body) = buf.strip_prefix(MAGIC) else {
        return Ok(None);
    };
    let bad = |reason: String| {
        DataFusionError::Internal(format!(
            "bad Delta table '{table_ref}' from spate: {reason}"
        ))
    };
    let node = DeltaTableNode::decode(body).map_err(|e| bad(e.to_string()))?;
    let location = DeltaLocation::parse(&node.location).map_err(|e| bad(e.to_string()))?;
    let version = match (node.version, node.as_of_micros) {
        (Some(v), _) => TableVersion::Version(v),
        (None, Some(micros)) => TableVersion::AsOf(
            chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| bad(format!("time {micros} out of range")))?,
        ),
        (None, None) => TableVersion::Latest,
    };
    Ok(Some(Arc::new(ClusterDeltaTable {
        location,
        version,
        schema,
    })))
}

/// A Delta table on the scheduler; see the module doc.
#[derive(Debug)]
pub(crate) struct ClusterDeltaTable {
    location: DeltaLocation,
    version: TableVersion,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for ClusterDeltaTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files =
            spate_delta::table_files(state.runtime_env(), &self.location, self.version).await?;
        let names = |schema: &SchemaRef| -> Vec<String> {
            schema.fields().iter().map(|f| f.name().clone()).collect()
        };
        if names(&files.schema) != names(&self.schema) {
            return Err(DeltaError::SchemaMismatch {
                location: self.location.to_string(),
                detail: "the table's schema changed since it was registered; register it again"
                    .into(),
            }
            .into());
        }
        let partitions = state.config().target_partitions().max(1);
        parquet_scan(
            &self.location,
            &self.schema,
            files,
            projection,
            limit,
            partitions,
        )
    }
}

/// Steps 3 and 4 of the module doc.
fn parquet_scan(
    location: &DeltaLocation,
    schema: &SchemaRef,
    files: TableFiles,
    projection: Option<&Vec<usize>>,
    limit: Option<usize>,
    partitions: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let is_partition = |f: &FieldRef| files.partition_columns.contains(f.name());
    let data: Vec<FieldRef> = schema
        .fields()
        .iter()
        .filter(|f| !is_partition(f))
        .cloned()
        .collect();
    let partition_fields: Vec<FieldRef> = files
        .partition_columns
        .iter()
        .map(|name| Ok(Arc::new(schema.field_with_name(name)?.clone())))
        .collect::<Result<_>>()?;
    let scan_order: Vec<&String> = data
        .iter()
        .chain(&partition_fields)
        .map(|f| f.name())
        .collect();
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..schema.fields().len()).collect(),
    };
    let indices = wanted
        .iter()
        .map(|&i| {
            let name = schema.field(i).name();
            scan_order.iter().position(|n| *n == name).ok_or_else(|| {
                DataFusionError::Internal(format!("column {name} missing from the Delta scan"))
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    let root = Path::from_url_path(location.url().path())
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let mut scanned = Vec::with_capacity(files.files.len());
    for file in &files.files {
        let values = partition_fields
            .iter()
            .map(|f| partition_value(f, file.partition_values.get(f.name()).cloned().flatten()))
            .collect::<Result<Vec<_>>>()?;
        let path = format!("{root}/{}", file.path);
        scanned.push(PartitionedFile::new(path, file.size).with_partition_values(values));
    }
    let store = format!(
        "{}://{}",
        location.url().scheme(),
        location.url().authority()
    );
    let source = ParquetSource::new(
        TableSchema::builder(Arc::new(Schema::new(data)))
            .with_table_partition_cols(partition_fields)
            .build(),
    );
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::parse(store)?, Arc::new(source))
        .with_file_groups(file_groups(scanned, partitions))
        .with_limit(limit)
        .with_projection_indices(Some(indices))?
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// A partition value as the log writes it, typed as its column (`None`, or an empty
/// string for a column that is not text: null).
fn partition_value(field: &Field, value: Option<String>) -> Result<ScalarValue> {
    match value {
        Some(text) if !(text.is_empty() && field.data_type() != &DataType::Utf8) => {
            ScalarValue::try_from_string(text, field.data_type())
        }
        _ => ScalarValue::try_from(field.data_type()),
    }
}

/// `files` in at most `partitions` groups of about equal bytes: largest first, each into
/// the group with the fewest bytes so far.
fn file_groups(mut files: Vec<PartitionedFile>, partitions: usize) -> Vec<FileGroup> {
    files.sort_by_key(|f| std::cmp::Reverse(f.object_meta.size));
    let count = partitions.min(files.len()).max(1);
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> =
        (0..count).map(|_| (0, Vec::new())).collect();
    for file in files {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            lightest.0 += file.object_meta.size;
            lightest.1.push(file);
        }
    }
    groups
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(_, files)| FileGroup::new(files))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_take_their_column_type() -> Result<()> {
        let day = Field::new("day", DataType::Date32, true);
        let name = Field::new("name", DataType::Utf8, true);
        assert_eq!(
            partition_value(&day, Some("2026-11-20".into()))?,
            ScalarValue::Date32(Some(20777))
        );
        assert_eq!(
            partition_value(&day, Some(String::new()))?,
            ScalarValue::Date32(None)
        );
        assert_eq!(partition_value(&day, None)?, ScalarValue::Date32(None));
        assert_eq!(
            partition_value(&name, Some(String::new()))?,
            ScalarValue::Utf8(Some(String::new()))
        );
        Ok(())
    }

    #[test]
    fn files_spread_over_groups_by_size() {
        let files = [50, 10, 40, 30]
            .iter()
            .enumerate()
            .map(|(i, size)| PartitionedFile::new(format!("f{i}"), *size))
            .collect();
        let groups = file_groups(files, 2);
        let sizes: Vec<u64> = groups
            .iter()
            .map(|g| g.iter().map(|f| f.object_meta.size).sum())
            .collect();
        assert_eq!(sizes, vec![60, 70]);
        assert_eq!(file_groups(Vec::new(), 4).len(), 0);
    }
}
