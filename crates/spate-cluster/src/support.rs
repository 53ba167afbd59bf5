//! What runs on a cluster in this version, checked on the client before a statement is
//! submitted, so that a statement that cannot run fails before any task starts, with one
//! line naming the part at fault.
//!
//! A statement travels to the scheduler as a DataFusion logical plan (protobuf). What
//! travels: tables of Parquet, CSV, JSON and Arrow files (DataFusion's `ListingTable`, with
//! their files' format options, schema and Hive partition columns), views, `VALUES`, and
//! writes into such tables (`INSERT`) or to files (`COPY ... TO`), on a file system or in
//! an object store (`s3://`, `gs://`, `az://`, `http(s)://`; the client's store settings
//! travel with the statement, [`crate::shipped_stores`]). Local paths must be readable by
//! the scheduler and every executor at the same place (one machine, or a shared file
//! system). Delta tables are read (at their newest version or by time travel,
//! [`crate::cluster_delta_table`]) and written by `COPY ... STORED AS DELTA` and `INSERT`
//! ([`crate::cluster_delta_write`], which checks the rows' query here). What does not
//! travel yet: other changes to Delta tables (`DELETE`, `UPDATE`; `MERGE` is refused by
//! the session), `EXPLAIN` of a Delta write, in-memory tables and table functions
//! (`range()`).
//!
//! Two things of `COPY ... TO` are settled here, before the plan travels: relative paths
//! are made absolute (the scheduler and the executors run in directories of their own),
//! and its `format.*` options go into the file format itself (DataFusion 55's protobuf
//! form of `COPY` keeps the format but drops the statement's options, so a `delimiter`
//! would be lost). Options that are not the format's fail the check.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::ConfigFileType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::datasource::file_format::json::JsonFormatFactory;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::file_format::{
    FileFormatFactory, file_type_to_format, format_as_file_type,
};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::source_as_provider;
use datafusion::datasource::{MemTable, ViewTable};
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::dml::CopyTo;

use spate_delta::DeltaTableProvider;

use crate::error::{ClusterError, Result};

/// Fails, naming the part, when `plan` reads or writes something a cluster cannot.
pub(crate) fn check_plan(plan: &LogicalPlan) -> Result<()> {
    let mut problem = None;
    plan.apply_with_subqueries(|node| {
        let found = match node {
            LogicalPlan::TableScan(scan) => check_table(
                &scan.table_name.to_string(),
                &source_as_provider(&scan.source)?,
                false,
            ),
            LogicalPlan::Dml(dml) => check_table(
                &dml.table_name.to_string(),
                &source_as_provider(&dml.target)?,
                true,
            ),
            LogicalPlan::Copy(copy) => check_copy(copy),
            _ => Ok(()),
        };
        Ok(match found {
            Ok(()) => TreeNodeRecursion::Continue,
            Err(err) => {
                problem = Some(err);
                TreeNodeRecursion::Stop
            }
        })
    })?;
    problem.map_or(Ok(()), Err)
}

/// Fails when the table `name` cannot be read (or, when `writing`, written) on a cluster.
fn check_table(name: &str, provider: &Arc<dyn TableProvider>, writing: bool) -> Result<()> {
    let unsupported = |what: String, reason: &str| {
        Err(ClusterError::Unsupported {
            part: format!("table '{name}' ({what})"),
            reason: reason.to_string(),
        })
    };
    if provider.downcast_ref::<ListingTable>().is_some()
        || provider.downcast_ref::<ViewTable>().is_some()
    {
        return Ok(());
    }
    if provider.downcast_ref::<DeltaTableProvider>().is_some() {
        // INSERTs into Delta tables do not come here (`cluster_delta_write` plans them).
        return match writing {
            false => Ok(()),
            true => unsupported(
                "changing a Delta table".into(),
                "on a cluster, Delta tables take INSERT and COPY, not DELETE or UPDATE",
            ),
        };
    }
    let kind = if provider.downcast_ref::<MemTable>().is_some() {
        "an in-memory table"
    } else {
        "not a table of files"
    };
    unsupported(
        kind.into(),
        "only tables of Parquet, CSV, JSON and Arrow files run on a cluster",
    )
}

/// A `COPY` the cluster cannot run: into a Delta table inside another statement (a
/// `COPY` of its own is planned by `cluster_delta_write`), or with options that are not
/// the file format's.
fn check_copy(copy: &CopyTo) -> Result<()> {
    let format = file_type_to_format(&copy.file_type)?;
    if format.get_ext() == "delta" {
        return Err(ClusterError::Unsupported {
            part: format!(
                "COPY TO {} STORED AS DELTA inside another statement",
                copy.output_url
            ),
            reason: "a Delta write runs on a cluster as a statement of its own (no EXPLAIN)".into(),
        });
    }
    check_copy_options(&copy.output_url, &copy.options)
}

/// `COPY` options that are not the file format's.
fn check_copy_options(target: &str, options: &HashMap<String, String>) -> Result<()> {
    match options.keys().find(|key| !key.starts_with("format.")) {
        Some(key) => Err(ClusterError::Unsupported {
            part: format!("COPY TO {target} option '{key}'"),
            reason: "only the file format's options (format.*) reach the cluster".into(),
        }),
        None => Ok(()),
    }
}

/// `plan` with its `COPY ... TO` targets made absolute and their options moved into their
/// file formats; see the module doc.
pub(crate) fn prepare_copies(plan: LogicalPlan, session: &dyn Session) -> Result<LogicalPlan> {
    let rewritten = plan.transform_up(|node| {
        let LogicalPlan::Copy(mut copy) = node else {
            return Ok(Transformed::no(node));
        };
        if let Some(absolute) = absolute_location(&copy.output_url) {
            copy.output_url = absolute;
        }
        if !copy.options.is_empty() {
            let factory = file_type_to_format(&copy.file_type)?;
            let configured = with_options(factory.as_ref(), session, &copy.options)?;
            copy.file_type = format_as_file_type(configured);
            copy.options = HashMap::new();
        }
        Ok(Transformed::yes(LogicalPlan::Copy(copy)))
    })?;
    Ok(rewritten.data)
}

/// A file format like `factory` with the session's defaults and `options` set in it.
fn with_options(
    factory: &dyn FileFormatFactory,
    session: &dyn Session,
    options: &HashMap<String, String>,
) -> datafusion::error::Result<Arc<dyn FileFormatFactory>> {
    let mut table = session.default_table_options();
    let kind = if factory.downcast_ref::<CsvFormatFactory>().is_some() {
        ConfigFileType::CSV
    } else if factory.downcast_ref::<JsonFormatFactory>().is_some() {
        ConfigFileType::JSON
    } else if factory.downcast_ref::<ParquetFormatFactory>().is_some() {
        ConfigFileType::PARQUET
    } else {
        return Err(ClusterError::Unsupported {
            part: format!("COPY TO ... STORED AS {}", factory.get_ext()),
            reason: "with options, only Parquet, CSV and JSON".into(),
        }
        .into());
    };
    table.set_config_format(kind.clone());
    table.alter_with_string_hash_map(options)?;
    Ok(match kind {
        ConfigFileType::CSV => Arc::new(CsvFormatFactory::new_with_options(table.csv)),
        ConfigFileType::JSON => Arc::new(JsonFormatFactory::new_with_options(table.json)),
        ConfigFileType::PARQUET => Arc::new(ParquetFormatFactory::new_with_options(table.parquet)),
    })
}

/// The absolute form of a relative local path (a trailing `/`, which makes it a
/// directory, kept); `None` when it is a URL or already absolute.
fn absolute_location(location: &str) -> Option<String> {
    let path = Path::new(location);
    if location.contains("://") || path.is_absolute() {
        return None;
    }
    let mut text = std::path::absolute(path)
        .ok()?
        .to_string_lossy()
        .into_owned();
    if location.ends_with('/') && !text.ends_with('/') {
        text.push('/');
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_become_absolute() {
        let cwd = std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string());
        let cwd = cwd.unwrap_or_default();
        assert_eq!(
            absolute_location("out/x.parquet"),
            Some(format!("{cwd}/out/x.parquet"))
        );
        assert_eq!(absolute_location("out/"), Some(format!("{cwd}/out/")));
        assert_eq!(absolute_location("/data/x.csv"), None);
        assert_eq!(absolute_location("file:///data/x.csv"), None);
    }
}
