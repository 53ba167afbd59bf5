//! Turning a table location into a DataFusion `ListingTable`.
//!
//! # Algorithm
//! 1. Parse the location: a local path (made absolute; a directory gets a trailing `/`) or
//!    a URL. A local path that does not exist is an error naming it.
//! 2. List the files below it with DataFusion's listing (the same one scans use), dropping
//!    hidden files (`.x`, `_SUCCESS`) and empty ones.
//! 3. Take the format given, or tell it from the extensions; a mix of formats is an error.
//! 4. Type the Hive partition columns ([`super::partitions`]).
//! 5. Infer the schema of all files in one call. Only when that fails, read the files one by
//!    one to find the first that cannot be read or does not merge with the files before it,
//!    and name it: the common case costs one pass, the error case names the culprit.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;
use futures::TryStreamExt;
use object_store::{ObjectMeta, ObjectStore};

use super::format::FileFormatKind;
use super::partitions::infer_partition_columns;
use crate::error::{Result, SpateError};

/// Where a table's data is and how to read it.
#[derive(Debug, Clone)]
pub(crate) struct TableSource {
    /// The table's name, for messages.
    pub name: String,
    /// A local path or a URL: a file, a directory, or a partitioned tree.
    pub location: String,
    /// The format; `None` tells it from the file names.
    pub format: Option<FileFormatKind>,
    /// Reader options (`header`, `delimiter`, `format.*` keys).
    pub options: HashMap<String, String>,
}

impl TableSource {
    /// A table at `location` whose format is told from its files.
    pub fn new(name: impl Into<String>, location: impl Into<String>) -> Self {
        TableSource {
            name: name.into(),
            location: location.into(),
            format: None,
            options: HashMap::new(),
        }
    }
}

/// Builds the table `source` describes. See the module doc for the steps.
pub(crate) async fn resolve_table(
    state: &SessionState,
    source: &TableSource,
) -> Result<Arc<dyn TableProvider>> {
    let url = table_url(&source.location)?;
    let store = state.runtime_env().object_store(&url)?;
    let files = list_files(state, &url, store.as_ref(), &source.location).await?;

    let kind = match source.format {
        Some(kind) => kind,
        None => detect_format(&source.location, &files)?,
    };
    let files: Vec<ObjectMeta> = files
        .into_iter()
        .filter(|f| {
            source.format.is_some() || FileFormatKind::from_path(f.location.as_ref()) == Some(kind)
        })
        .collect();
    let format = kind.file_format(state, &source.options)?;

    let relative: Vec<String> = files.iter().map(|f| relative_path(&url, f)).collect();
    let partition_cols =
        infer_partition_columns(&source.location, relative.iter().map(String::as_str))?;

    let schema = infer_schema(state, &store, &format, &files, source, &url).await?;
    check_partition_names(&schema, &partition_cols, source)?;

    // Scans filter by extension; with an explicit format any name is accepted.
    let extension = match source.format {
        Some(_) => String::new(),
        None => common_extension(&files),
    };
    let options = ListingOptions::new(format)
        .with_file_extension(extension)
        .with_table_partition_cols(partition_cols);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The listing URL of a location. A local directory must end in `/` to be listed as one.
pub(crate) fn table_url(location: &str) -> Result<ListingTableUrl> {
    if location.contains("://") {
        return Ok(ListingTableUrl::parse(location)?);
    }
    let path = Path::new(location);
    let metadata = std::fs::metadata(path).map_err(|_| SpateError::PathNotFound {
        path: location.to_string(),
    })?;
    let absolute = std::path::absolute(path).map_err(|source| SpateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut text = absolute.to_string_lossy().into_owned();
    if metadata.is_dir() && !text.ends_with('/') {
        text.push('/');
    }
    Ok(ListingTableUrl::parse(text)?)
}

async fn list_files(
    state: &SessionState,
    url: &ListingTableUrl,
    store: &dyn ObjectStore,
    location: &str,
) -> Result<Vec<ObjectMeta>> {
    let failed = |e: datafusion::error::DataFusionError| SpateError::Storage {
        location: shown_location(location),
        reason: SpateError::from(e).to_string(),
    };
    let mut files: Vec<ObjectMeta> = url
        .list_all_files(state, store, "")
        .await
        .map_err(failed)?
        .try_filter(|meta| futures::future::ready(meta.size > 0 && !is_hidden(meta)))
        .try_collect()
        .await
        .map_err(failed)?;
    files.sort_by(|a, b| a.location.cmp(&b.location));
    if files.is_empty() {
        return Err(SpateError::NoDataFiles {
            path: shown_location(location),
            hint: String::new(),
        });
    }
    Ok(files)
}

/// A location as it may be shown: URLs without user info or query string.
pub(crate) fn shown_location(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(url) if location.contains("://") => spate_connectors::object_stores::display_url(&url),
        _ => location.to_string(),
    }
}

/// `_SUCCESS`, `.part-0.crc` and the like are not data. Directories are judged by their
/// own names only below the table's root, which the listing already stripped.
fn is_hidden(meta: &ObjectMeta) -> bool {
    meta.location
        .filename()
        .is_some_and(|name| name.starts_with('.') || name.starts_with('_'))
}

fn detect_format(location: &str, files: &[ObjectMeta]) -> Result<FileFormatKind> {
    let kinds: BTreeSet<&'static str> = files
        .iter()
        .filter_map(|f| FileFormatKind::from_path(f.location.as_ref()))
        .map(FileFormatKind::datafusion_name)
        .collect();
    let found: Vec<FileFormatKind> = files
        .iter()
        .filter_map(|f| FileFormatKind::from_path(f.location.as_ref()))
        .collect();
    match (kinds.len(), found.first()) {
        (1, Some(kind)) => Ok(*kind),
        (0, _) => Err(SpateError::UnknownFormat {
            path: location.to_string(),
            reason: "no file has a known extension (.parquet, .csv, .tsv, .json, .arrow); give the format explicitly".into(),
        }),
        _ => Err(SpateError::UnknownFormat {
            path: location.to_string(),
            reason: format!(
                "it mixes formats ({}); give the format explicitly",
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// The extension shared by all files (`.parquet`), or none when they differ (`.json` and
/// `.jsonl`), so that scans list exactly the files the schema came from.
fn common_extension(files: &[ObjectMeta]) -> String {
    let ext = |f: &ObjectMeta| {
        f.location
            .filename()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| format!(".{e}"))
            .unwrap_or_default()
    };
    let first = files.first().map(ext).unwrap_or_default();
    if files.iter().all(|f| ext(f) == first) {
        first
    } else {
        String::new()
    }
}

fn relative_path(url: &ListingTableUrl, file: &ObjectMeta) -> String {
    url.strip_prefix(&file.location)
        .map(|parts| parts.collect::<Vec<_>>().join("/"))
        .unwrap_or_else(|| file.location.to_string())
}

async fn infer_schema(
    state: &SessionState,
    store: &Arc<dyn ObjectStore>,
    format: &Arc<dyn FileFormat>,
    files: &[ObjectMeta],
    source: &TableSource,
    url: &ListingTableUrl,
) -> Result<SchemaRef> {
    match format.infer_schema(state, store, files).await {
        // A column may be missing from some files, so every column may be null (as in
        // Spark's file-based tables).
        Ok(schema) => Ok(all_nullable(&schema)),
        Err(err) => Err(find_culprit(state, store, format, files, source, url)
            .await
            .unwrap_or_else(|| SpateError::BadFile {
                path: source.location.clone(),
                reason: SpateError::from(err).to_string(),
            })),
    }
}

fn all_nullable(schema: &Schema) -> SchemaRef {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Reads the schema of each file alone and merges them in order; returns the error for the
/// first file that cannot be read or does not fit, or `None` when each is fine alone.
async fn find_culprit(
    state: &SessionState,
    store: &Arc<dyn ObjectStore>,
    format: &Arc<dyn FileFormat>,
    files: &[ObjectMeta],
    source: &TableSource,
    url: &ListingTableUrl,
) -> Option<SpateError> {
    let mut merged: Option<Schema> = None;
    for file in files {
        let path = display_path(url, file);
        let schema = match format
            .infer_schema(state, store, std::slice::from_ref(file))
            .await
        {
            Ok(schema) => schema,
            Err(err) => {
                return Some(SpateError::BadFile {
                    path,
                    reason: SpateError::from(err).to_string(),
                });
            }
        };
        merged = match merged {
            None => Some(schema.as_ref().clone()),
            Some(acc) => match Schema::try_merge([acc, schema.as_ref().clone()]) {
                Ok(next) => Some(next),
                Err(err) => {
                    return Some(SpateError::SchemaConflict {
                        table: source.name.clone(),
                        path,
                        reason: err.to_string(),
                    });
                }
            },
        };
    }
    None
}

/// A file's path as the user knows it: local files as paths, others as URLs (without any
/// credentials the location may carry).
fn display_path(url: &ListingTableUrl, file: &ObjectMeta) -> String {
    match url.scheme() {
        "file" => format!("/{}", file.location),
        _ => {
            let mut base = url.get_url().clone();
            base.set_path(&format!("/{}", file.location));
            spate_connectors::object_stores::display_url(&base)
        }
    }
}

fn check_partition_names(
    schema: &Schema,
    partition_cols: &[(String, DataType)],
    source: &TableSource,
) -> Result<()> {
    for (name, _) in partition_cols {
        if schema.field_with_name(name).is_ok() {
            return Err(SpateError::BadPartitioning {
                path: source.location.clone(),
                reason: format!(
                    "partition key `{name}` is also a column inside the files; rename the directories or the column"
                ),
            });
        }
    }
    Ok(())
}
