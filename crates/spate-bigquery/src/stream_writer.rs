//! [`PendingStream`]: one `PENDING` write stream, fed Arrow batches over `AppendRows`.
//!
//! The first request carries the writer schema (an IPC schema message), every request one
//! IPC record batch message of at most [`MAX_REQUEST_BYTES`] (bigger batches are sliced).
//! Up to [`IN_FLIGHT`] requests are outstanding; each response is checked as it comes
//! (an `error` or `row_errors` fails the write). The rows stay invisible until the stream
//! is finalized and committed by [`crate::sink::BigQuerySink`].

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::ipc::writer::StreamWriter;
use futures::SinkExt;
use futures::channel::mpsc;
use tonic::Streaming;

use crate::client::BigQueryClient;
use crate::error::{BigQueryError, Result};
use crate::io_counters::IoCounters;
use crate::location::TableRef;
use crate::proto::storage::append_rows_request::{ArrowData, Rows};
use crate::proto::storage::append_rows_response::Response;
use crate::proto::storage::{AppendRowsRequest, AppendRowsResponse, ArrowRecordBatch, ArrowSchema};

/// The largest Arrow payload of one request: BigQuery takes requests up to 10 MB.
pub(crate) const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// Requests sent and not yet answered, at most.
const IN_FLIGHT: usize = 8;

/// An open `PENDING` stream and its `AppendRows` connection.
pub(crate) struct PendingStream {
    table: TableRef,
    client: Arc<BigQueryClient>,
    counters: Arc<IoCounters>,
    name: String,
    encoder: StreamWriter<Vec<u8>>,
    schema_sent: bool,
    requests: Option<mpsc::Sender<AppendRowsRequest>>,
    responses: Option<Streaming<AppendRowsResponse>>,
    in_flight: usize,
    rows: u64,
}

impl PendingStream {
    /// Creates a `PENDING` stream on `table` for batches of `schema`.
    pub async fn create(
        table: &TableRef,
        client: Arc<BigQueryClient>,
        counters: Arc<IoCounters>,
        schema: &arrow::datatypes::Schema,
    ) -> Result<PendingStream> {
        let stream = client.storage.create_pending_stream(table).await?;
        counters.write_stream();
        let encoder = StreamWriter::try_new(Vec::new(), schema).map_err(|e| {
            BigQueryError::SchemaMismatch {
                table: table.to_string(),
                detail: e.to_string(),
            }
        })?;
        Ok(PendingStream {
            table: table.clone(),
            client,
            counters,
            name: stream.name,
            encoder,
            schema_sent: false,
            requests: None,
            responses: None,
            in_flight: 0,
            rows: 0,
        })
    }

    /// The stream's resource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends `batch` (in the wire schema), slicing it to fit requests.
    pub async fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let size = batch.get_array_memory_size().max(1);
        let parts = size.div_ceil(MAX_REQUEST_BYTES).max(1);
        let step = batch.num_rows().div_ceil(parts).max(1);
        let mut offset = 0;
        while offset < batch.num_rows() {
            let length = step.min(batch.num_rows() - offset);
            self.send(&batch.slice(offset, length)).await?;
            offset += length;
        }
        Ok(())
    }

    async fn send(&mut self, batch: &RecordBatch) -> Result<()> {
        let bad = |e: arrow::error::ArrowError| BigQueryError::SchemaMismatch {
            table: self.table.to_string(),
            detail: e.to_string(),
        };
        let writer_schema = if self.schema_sent {
            None
        } else {
            self.schema_sent = true;
            Some(ArrowSchema {
                serialized_schema: std::mem::take(self.encoder.get_mut()),
            })
        };
        self.encoder.write(batch).map_err(bad)?;
        let message = std::mem::take(self.encoder.get_mut());
        self.counters.sent(batch.num_rows(), message.len());
        let request = AppendRowsRequest {
            write_stream: self.name.clone(),
            rows: Some(Rows::ArrowRows(ArrowData {
                writer_schema,
                rows: Some(ArrowRecordBatch {
                    serialized_record_batch: message,
                    row_count: 0,
                }),
            })),
            ..Default::default()
        };
        if self.in_flight >= IN_FLIGHT {
            self.receive().await?;
        }
        match &mut self.requests {
            Some(sender) => sender.send(request).await.map_err(|_| self.closed())?,
            None => {
                // The first request is queued before the call opens: servers answer the
                // call's headers only once a request arrived.
                let (mut sender, receiver) = mpsc::channel(IN_FLIGHT);
                sender.send(request).await.map_err(|_| self.closed())?;
                self.requests = Some(sender);
                let responses = self
                    .client
                    .storage
                    .append_rows(&self.table, &self.name, receiver)
                    .await?;
                self.responses = Some(responses);
            }
        }
        self.in_flight += 1;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Waits for the answer to the oldest request in flight.
    async fn receive(&mut self) -> Result<()> {
        let Some(responses) = &mut self.responses else {
            return Ok(());
        };
        let failed = |message: String| BigQueryError::Service {
            operation: "AppendRows".into(),
            table: self.table.to_string(),
            message,
        };
        let response = match responses.message().await {
            Ok(Some(response)) => response,
            Ok(None) => {
                return Err(failed(
                    "the stream closed before every append was answered".into(),
                ));
            }
            Err(status) => {
                let failure = crate::retry::Failure::from_status(&status);
                return Err(failure.into_error(
                    "AppendRows",
                    &self.table.to_string(),
                    self.client.storage.endpoint(),
                ));
            }
        };
        self.in_flight -= 1;
        if let Some(Response::Error(status)) = response.response {
            return Err(failed(crate::auth::one_line(&status.message)));
        }
        if let Some(row_error) = response.row_errors.first() {
            return Err(failed(format!(
                "row {}: {}",
                row_error.index, row_error.message
            )));
        }
        Ok(())
    }

    /// Waits for every answer, closes the connection and finalizes the stream; returns
    /// the rows it holds.
    pub async fn finish(mut self) -> Result<u64> {
        while self.in_flight > 0 {
            self.receive().await?;
        }
        drop(self.requests.take());
        if let Some(mut responses) = self.responses.take() {
            while let Ok(Some(_)) = responses.message().await {}
        }
        let rows = self
            .client
            .storage
            .finalize(&self.table, &self.name)
            .await?;
        let expected = self.rows;
        if u64::try_from(rows).ok() != Some(expected) {
            return Err(BigQueryError::Service {
                operation: "FinalizeWriteStream".into(),
                table: self.table.to_string(),
                message: format!("the stream holds {rows} rows, {expected} were appended"),
            });
        }
        Ok(expected)
    }

    fn closed(&self) -> BigQueryError {
        BigQueryError::Service {
            operation: "AppendRows".into(),
            table: self.table.to_string(),
            message: "the connection closed while rows were being sent".into(),
        }
    }
}
