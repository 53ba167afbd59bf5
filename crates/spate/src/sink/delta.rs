//! The Delta sink: `COPY (query) TO 'location' STORED AS DELTA [PARTITIONED BY (...)]
//! [OPTIONS (...)]` and `df.write().delta(location)`, writing a query's rows as a Delta
//! table, created from the query's schema when the location holds none.
//!
//! Options (keys in any case): `mode` (`append`, the default of COPY; `overwrite`;
//! `error`; `ignore`), the write options of Delta ([`spate_delta::DeltaWriteOptions::set`]):
//! `replaceWhere`, `partitionOverwriteMode`, `targetFileSize`, and the object store's
//! (`aws.*`, `google_*`, `azure.*`, `store.*`), which configure the store of the table's
//! bucket as a `CREATE EXTERNAL TABLE`'s do. Any other key is an error naming it. The plan
//! is [`spate_delta::plan_write`]'s, the one `INSERT INTO` a Delta table also gets.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::context::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use spate_connectors::object_stores::{StoreRegistry, is_store_option};
use spate_delta::{DeltaLocation, DeltaWriteOptions, WRITE_OPTION_KEYS};

use super::{SinkWrite, TableSink, unknown_option};
use crate::error::{Result, SpateError};

/// Delta tables at a path or URL, in the session's object stores.
#[derive(Debug)]
pub(crate) struct DeltaSink {
    stores: Arc<StoreRegistry>,
}

impl DeltaSink {
    pub(crate) fn new(stores: Arc<StoreRegistry>) -> Self {
        DeltaSink { stores }
    }
}

#[async_trait]
impl TableSink for DeltaSink {
    fn name(&self) -> &'static str {
        "delta"
    }

    fn noun(&self) -> &'static str {
        "Delta table"
    }

    fn runs_on_cluster(&self) -> bool {
        true
    }

    async fn plan_write(
        &self,
        state: &SessionState,
        write: &SinkWrite,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let at = DeltaLocation::parse(&write.target)?;
        let mut options = DeltaWriteOptions {
            mode: write.mode.into(),
            partition_by: write.partition_by.clone(),
            ..Default::default()
        };
        let mut storage = BTreeMap::new();
        for (key, value) in &write.options {
            let lower = key.to_ascii_lowercase();
            if is_store_option(&lower) {
                storage.insert(lower, value.clone());
            } else if DeltaWriteOptions::takes(key) {
                options.set(key, value)?;
            } else {
                let known = ["mode"]
                    .into_iter()
                    .chain(WRITE_OPTION_KEYS)
                    .chain(["aws.*", "google_*", "azure.*", "store.*"])
                    .collect::<Vec<_>>();
                return Err(unknown_option(self.noun(), key, &known));
            }
        }
        if !storage.is_empty() {
            self.stores
                .configure(at.url(), &storage)
                .map_err(|e| SpateError::InvalidOption {
                    option: "OPTIONS".into(),
                    value: at.to_string(),
                    reason: e.to_string(),
                })?;
        }
        Ok(spate_delta::plan_write(state, &at, input, &options).await?)
    }
}
