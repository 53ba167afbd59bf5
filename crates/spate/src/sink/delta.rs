//! The Delta sink: `COPY (query) TO 'location' STORED AS DELTA [PARTITIONED BY (...)]
//! [OPTIONS (...)]` and `df.write().delta(location)`, writing a query's rows as a Delta
//! table, created from the query's schema when the location holds none.
//!
//! Options: `mode` (`append`, the default of COPY; `overwrite`; `error`; `ignore`), and
//! the write options of Delta ([`spate_delta::DeltaWriteOptions::set`]): `replaceWhere`,
//! `partitionOverwriteMode`, `targetFileSize`. The plan is
//! [`spate_delta::plan_write`]'s, the one `INSERT INTO` a Delta table also gets.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::context::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use spate_delta::{DeltaLocation, DeltaWriteOptions};

use super::{SinkWrite, TableSink};
use crate::error::Result;

/// Delta tables at a path or URL.
#[derive(Debug)]
pub(crate) struct DeltaSink;

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
        for (key, value) in &write.options {
            options.set(key, value)?;
        }
        Ok(spate_delta::plan_write(state, &at, input, &options).await?)
    }
}
