//! The BigQuery sink: `COPY (query) TO 'bigquery://P/D/T' [PARTITIONED BY (...)]
//! [OPTIONS (...)]` and `df.write().bigquery(table)`, through the Storage Write API
//! ([`spate_bigquery::BigQueryRegistry::plan_write`]).
//!
//! Options (keys in any case): `mode` (`append`, the default of COPY; `overwrite`;
//! `error`; `ignore`), `partitionOverwriteMode` (`dynamic` with `overwrite` replaces the
//! partitions written, as for Delta tables), and the table's client options
//! ([`spate_bigquery::TABLE_OPTION_KEYS`], credentials). Any other key is an error naming it.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::context::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use spate_bigquery::{BigQueryRegistry, SinkOptions, WriteMode};
use spate_delta::PartitionOverwriteMode;

use super::{SinkWrite, TableSink, unknown_option};
use crate::error::Result;
use crate::writer::SaveMode;

/// The name of the BigQuery sink in `STORED AS`.
pub(super) const NAME: &str = "bigquery";

/// BigQuery tables of the session's registry (its credentials, endpoints and counters).
#[derive(Debug)]
pub(crate) struct BigQuerySink {
    registry: Arc<BigQueryRegistry>,
}

impl BigQuerySink {
    pub(crate) fn new(registry: Arc<BigQueryRegistry>) -> Self {
        BigQuerySink { registry }
    }
}

#[async_trait]
impl TableSink for BigQuerySink {
    fn name(&self) -> &'static str {
        NAME
    }

    fn noun(&self) -> &'static str {
        "BigQuery table"
    }

    fn runs_on_cluster(&self) -> bool {
        true
    }

    async fn plan_write(
        &self,
        _state: &SessionState,
        write: &SinkWrite,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let options = write.options.iter().cloned().collect();
        let (sink, table_options) = write_options(write.mode, &write.partition_by, &options, 1)?;
        let plan = self
            .registry
            .plan_write(&write.target, &table_options, input, sink)
            .await?;
        Ok(Some(plan))
    }
}

/// The options of a BigQuery write from its save mode, partition columns and options:
/// `partitionOverwriteMode` `dynamic` with `Overwrite` replaces the partitions written.
/// Table options (`endpoint`, `grpc_endpoint`, `skip_signature`, ...) are returned apart.
fn write_options(
    mode: SaveMode,
    partition_by: &[String],
    options: &BTreeMap<String, String>,
    writers: usize,
) -> Result<(SinkOptions, BTreeMap<String, String>)> {
    let mut dynamic = false;
    let mut table_options = BTreeMap::new();
    for (key, value) in options {
        let lower = key.trim_start_matches("format.").to_ascii_lowercase();
        if lower == "partitionoverwritemode" {
            dynamic = value.parse::<PartitionOverwriteMode>()? == PartitionOverwriteMode::Dynamic;
        } else if spate_bigquery::is_table_option(&lower) {
            table_options.insert(lower, value.clone());
        } else {
            let known = ["mode", "partitionOverwriteMode"]
                .into_iter()
                .chain(spate_bigquery::TABLE_OPTION_KEYS)
                .chain(["google_*", "gcp_*"])
                .collect::<Vec<_>>();
            return Err(unknown_option("BigQuery table", key, &known));
        }
    }
    let mode = WriteMode::from(mode);
    let replace_by = if dynamic && mode == WriteMode::Overwrite {
        partition_by.to_vec()
    } else {
        Vec::new()
    };
    let sink = SinkOptions {
        mode,
        replace_by,
        writers,
    };
    Ok((sink, table_options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_overwrite_replaces_the_partitions_written() {
        let options = BTreeMap::from([
            ("partitionOverwriteMode".to_string(), "dynamic".to_string()),
            ("skip_signature".to_string(), "true".to_string()),
        ]);
        let by = vec!["day".to_string()];
        let (sink, table) = write_options(SaveMode::Overwrite, &by, &options, 1).unwrap();
        assert_eq!(sink.replace_by, by);
        assert_eq!(table.len(), 1);
        let (append, _) = write_options(SaveMode::Append, &by, &options, 1).unwrap();
        assert!(append.replace_by.is_empty());
        let bad = BTreeMap::from([("partitionOverwriteMode".to_string(), "x".to_string())]);
        assert!(write_options(SaveMode::Overwrite, &by, &bad, 1).is_err());
    }

    #[test]
    fn keys_match_in_any_case_and_unknown_keys_are_named() {
        let options = BTreeMap::from([
            ("PARTITIONOVERWRITEMODE".to_string(), "dynamic".to_string()),
            ("Skip_Signature".to_string(), "true".to_string()),
            (
                "store.ENDPOINT".to_string(),
                "http://127.0.0.1:1".to_string(),
            ),
        ]);
        let by = vec!["day".to_string()];
        let (sink, table) = write_options(SaveMode::Overwrite, &by, &options, 1).unwrap();
        assert_eq!(sink.replace_by, by);
        assert_eq!(
            table.keys().collect::<Vec<_>>(),
            ["skip_signature", "store.endpoint"]
        );
        let bad = BTreeMap::from([("endpont".to_string(), "x".to_string())]);
        let err = write_options(SaveMode::Append, &by, &bad, 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid option 'endpont': unknown option of a write to a BigQuery table; it takes mode, partitionOverwriteMode, endpoint, grpc_endpoint,"),
            "{err}"
        );
    }
}
