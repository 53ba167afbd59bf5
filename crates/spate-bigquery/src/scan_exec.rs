//! [`BigQueryScanExec`]: reads the streams of one Storage Read session, one output
//! partition per stream.
//!
//! # Algorithm
//!
//! The session was created when the scan was planned (see [`crate::BigQueryTable`]), with
//! the projection and the exact filters applied by BigQuery. Partition `i` calls
//! `ReadRows` on stream `i` and decodes each response's Arrow record batch with an IPC
//! stream decoder primed with the session's schema message, then conforms its columns to
//! the table's Arrow types (see [`crate::types::conform`]). A stream that breaks with a
//! retryable error is reopened at the row offset it reached, so no row is read twice.
//! The executor runs the partitions in parallel.

use std::fmt;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::buffer::Buffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamDecoder;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use tonic::Streaming;

use crate::client::BigQueryClient;
use crate::error::BigQueryError;
use crate::io_counters::IoCounters;
use crate::location::TableRef;
use crate::proto::storage::ReadRowsResponse;
use crate::retry::{Failure, FailureKind};
use crate::types::conform;

/// Reads one read session's streams as partitions.
#[derive(Debug)]
pub struct BigQueryScanExec {
    pub(crate) table: TableRef,
    pub(crate) client: Arc<BigQueryClient>,
    pub(crate) streams: Vec<String>,
    /// The session's Arrow schema, as an IPC schema message.
    pub(crate) schema_message: bytes::Bytes,
    /// What the scan returns: the projected columns, in the table's types.
    pub(crate) schema: SchemaRef,
    pub(crate) row_restriction: String,
    pub(crate) counters: Arc<IoCounters>,
    pub(crate) retries: usize,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl BigQueryScanExec {
    /// A scan of `streams`, returning `schema`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        table: TableRef,
        client: Arc<BigQueryClient>,
        streams: Vec<String>,
        schema_message: bytes::Bytes,
        schema: SchemaRef,
        row_restriction: String,
        counters: Arc<IoCounters>,
        retries: usize,
    ) -> BigQueryScanExec {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(streams.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        BigQueryScanExec {
            table,
            client,
            streams,
            schema_message,
            schema,
            row_restriction,
            counters,
            retries,
            metrics: ExecutionPlanMetricsSet::new(),
            properties,
        }
    }
}

impl DisplayAs for BigQueryScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(
            f,
            "BigQueryScanExec: table={}, streams={}, columns=[{}]",
            self.table,
            self.streams.len(),
            columns.join(", ")
        )?;
        if !self.row_restriction.is_empty() {
            write!(f, ", row_restriction={}", self.row_restriction)?;
        }
        Ok(())
    }
}

impl ExecutionPlan for BigQueryScanExec {
    fn name(&self) -> &str {
        "BigQueryScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "BigQueryScanExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let schema = Arc::clone(&self.schema);
        let Some(stream) = self.streams.get(partition).cloned() else {
            let empty = futures::stream::empty();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, empty)));
        };
        let reader = StreamReader {
            table: self.table.clone(),
            client: Arc::clone(&self.client),
            stream,
            schema_message: self.schema_message.clone(),
            schema: Arc::clone(&schema),
            counters: Arc::clone(&self.counters),
            retries_left: self.retries,
            offset: 0,
            responses: None,
            decoder: None,
            rows: MetricBuilder::new(&self.metrics).counter("rows_received", partition),
            bytes: MetricBuilder::new(&self.metrics).counter("bytes_received", partition),
        };
        let batches = futures::stream::try_unfold(reader, |mut reader| async move {
            Ok(reader.next_batch().await?.map(|batch| (batch, reader)))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition: the responses of one read stream, decoded.
struct StreamReader {
    table: TableRef,
    client: Arc<BigQueryClient>,
    stream: String,
    schema_message: bytes::Bytes,
    schema: SchemaRef,
    counters: Arc<IoCounters>,
    retries_left: usize,
    /// Rows received so far: where a reopened stream resumes.
    offset: i64,
    responses: Option<Streaming<ReadRowsResponse>>,
    decoder: Option<StreamDecoder>,
    rows: Count,
    bytes: Count,
}

impl StreamReader {
    async fn next_batch(&mut self) -> DFResult<Option<RecordBatch>> {
        loop {
            let responses = match &mut self.responses {
                Some(responses) => responses,
                None => {
                    let opened = self
                        .client
                        .storage
                        .read_rows(&self.table, &self.stream, self.offset)
                        .await?;
                    self.responses.insert(opened)
                }
            };
            match responses.message().await {
                Ok(Some(response)) => {
                    if let Some(batch) = self.decode(response)? {
                        return Ok(Some(batch));
                    }
                }
                Ok(None) => return Ok(None),
                Err(status) => {
                    let failure = Failure::from_status(&status);
                    if failure.kind == FailureKind::Fatal || self.retries_left == 0 {
                        let endpoint = self.client.storage.endpoint().to_string();
                        let table = self.table.to_string();
                        return Err(failure.into_error("ReadRows", &table, &endpoint).into());
                    }
                    self.retries_left -= 1;
                    self.responses = None;
                }
            }
        }
    }

    /// The batch of one response, in the scan's schema (`None` for a response without rows).
    fn decode(&mut self, response: ReadRowsResponse) -> DFResult<Option<RecordBatch>> {
        use crate::proto::storage::read_rows_response::Rows;
        let bad = |detail: String| BigQueryError::BadData {
            table: self.table.to_string(),
            detail,
        };
        let Some(Rows::ArrowRecordBatch(arrow_batch)) = response.rows else {
            return Ok(None);
        };
        let size = arrow_batch.serialized_record_batch.len();
        let decoder = match &mut self.decoder {
            Some(decoder) => decoder,
            None => {
                let mut decoder = StreamDecoder::new();
                let mut schema = Buffer::from(schema_only(&self.schema_message).to_vec());
                decoder
                    .decode(&mut schema)
                    .map_err(|e| bad(format!("unreadable Arrow schema: {e}")))?;
                self.decoder.insert(decoder)
            }
        };
        let mut buffer = Buffer::from(arrow_batch.serialized_record_batch);
        let Some(batch) = decoder
            .decode(&mut buffer)
            .map_err(|e| bad(format!("unreadable Arrow record batch: {e}")))?
        else {
            return Ok(None);
        };
        self.offset += batch.num_rows() as i64;
        self.counters.received(batch.num_rows(), size);
        self.rows.add(batch.num_rows());
        self.bytes.add(size);
        Ok(Some(self.conform(&batch)?))
    }

    /// `batch`'s columns, by name, in the scan's schema.
    fn conform(&self, batch: &RecordBatch) -> DFResult<RecordBatch> {
        let columns =
            self.schema
                .fields()
                .iter()
                .map(|field| {
                    let column = batch.column_by_name(field.name()).ok_or_else(|| {
                        BigQueryError::BadData {
                            table: self.table.to_string(),
                            detail: format!("the server sent no column `{}`", field.name()),
                        }
                    })?;
                    conform(&self.table, column, field)
                })
                .collect::<Result<Vec<_>, BigQueryError>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }
}

/// The first IPC message of `bytes` (a schema message, possibly followed by an
/// end-of-stream marker, which some servers send).
fn schema_only(bytes: &[u8]) -> &[u8] {
    let word = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let end = match word(0) {
        Some(0xFFFF_FFFF) => word(4).map(|len| 8 + len),
        Some(len) => Some(4 + len),
        None => None,
    };
    end.and_then(|end| bytes.get(..end)).unwrap_or(bytes)
}
