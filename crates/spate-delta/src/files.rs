//! [`table_files`]: the data files of one version of a Delta table and their partition
//! values, for reading them with DataFusion's own Parquet scan rather than delta-rs's.
//!
//! A cluster's executors run the plans DataFusion's protobuf describes, and delta-rs's
//! scan is not one of them (its codecs do not cover it, delta-rs #4171). A Parquet scan of
//! the files a version holds, with their partition values as partition columns, reads
//! the same rows as delta-rs's scan for tables whose files hold the table's columns by
//! name: tables with column mapping (`delta.columnMapping.mode`) or deletion vectors are
//! refused, naming the feature.

use std::collections::HashMap;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::runtime_env::RuntimeEnv;

use crate::error::{DeltaError, Result};
use crate::location::DeltaLocation;
use crate::table::{TableVersion, open_table};

/// One data file of a table version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its path under the table's directory, URL-decoded (`day=2026-11-20/part-0.parquet`).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its partition values as the log writes them (`None`: null).
    pub partition_values: HashMap<String, Option<String>>,
}

/// The files of one version of a table; see the module doc.
#[derive(Debug, Clone)]
pub struct TableFiles {
    /// The version they make up.
    pub version: u64,
    /// The table's schema at that version (partition columns included).
    pub schema: SchemaRef,
    /// Its partition columns, in the table's order.
    pub partition_columns: Vec<String>,
    /// Its data files.
    pub files: Vec<DataFile>,
}

/// The files of the table at `location` at `version`, in `runtime`'s stores.
pub async fn table_files(
    runtime: &RuntimeEnv,
    location: &DeltaLocation,
    version: TableVersion,
) -> Result<TableFiles> {
    let shown = location.to_string();
    let opened = open_table(runtime, location, version).await?;
    let table = opened.table.ok_or_else(|| DeltaError::TableNotFound {
        location: shown.clone(),
    })?;
    let state = table
        .snapshot()
        .map_err(|e| DeltaError::from_delta(&shown, e))?;
    let snapshot = state.snapshot();
    let unsupported = |feature: &str| DeltaError::UnsupportedFeature {
        location: shown.clone(),
        feature: feature.to_string(),
    };
    let schema = snapshot.arrow_schema();
    let mapped = schema.fields().iter().any(|f| {
        f.metadata()
            .contains_key("delta.columnMapping.physicalName")
    });
    if mapped {
        return Err(unsupported("column mapping"));
    }
    let mut files = Vec::new();
    for view in state.log_data() {
        if view.deletion_vector_descriptor().is_some() {
            return Err(unsupported("deletion vectors"));
        }
        files.push(DataFile {
            path: view.path().into_owned(),
            size: u64::try_from(view.size()).unwrap_or(0),
            partition_values: view.partition_values_map(),
        });
    }
    Ok(TableFiles {
        version: snapshot.version(),
        schema,
        partition_columns: snapshot.metadata().partition_columns().to_vec(),
        files,
    })
}
