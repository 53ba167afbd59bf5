//! [`StorageClient`]: the RPCs of the Storage Read and Write APIs spate calls, over one
//! tonic channel with the messages in [`crate::proto`].
//!
//! Each RPC is `tonic::client::Grpc` with prost's codec and the method's path; every call
//! carries the token (unless `skip_signature`) and the `x-goog-request-params` header
//! BigQuery routes by. Unary calls are retried on retryable errors; the streaming ones
//! (`ReadRows`, `AppendRows`) are opened with retries, and their readers decide what a
//! broken stream means.

use futures::Stream;
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Streaming};
use tonic_prost::ProstCodec;

use crate::auth::Credentials;
use crate::config::BigQueryConfig;
use crate::error::{BigQueryError, Result};
use crate::location::TableRef;
use crate::proto::storage::{
    AppendRowsRequest, AppendRowsResponse, BatchCommitWriteStreamsRequest,
    BatchCommitWriteStreamsResponse, CreateReadSessionRequest, CreateWriteStreamRequest,
    FinalizeWriteStreamRequest, FinalizeWriteStreamResponse, ReadRowsRequest, ReadRowsResponse,
    ReadSession, WriteStream,
};
use crate::retry::{Failure, with_retries};

const READ: &str = "/google.cloud.bigquery.storage.v1.BigQueryRead/";
const WRITE: &str = "/google.cloud.bigquery.storage.v1.BigQueryWrite/";

/// A client of the Storage Read and Write APIs.
#[derive(Debug, Clone)]
pub(crate) struct StorageClient {
    channel: Channel,
    credentials: Credentials,
    endpoint: String,
    retries: usize,
}

impl StorageClient {
    /// A client of `config.grpc_endpoint`; it connects on first use.
    pub fn new(config: &BigQueryConfig, credentials: Credentials) -> Result<StorageClient> {
        let unreachable = |reason: String| BigQueryError::Unreachable {
            endpoint: config.grpc_endpoint.clone(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(config.grpc_endpoint.clone())
            .map_err(|e| unreachable(e.to_string()))?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true);
        if config.grpc_endpoint.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| unreachable(e.to_string()))?;
        }
        Ok(StorageClient {
            channel: endpoint.connect_lazy(),
            credentials,
            endpoint: config.grpc_endpoint.clone(),
            retries: config.retries,
        })
    }

    /// The gRPC endpoint, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `CreateReadSession`.
    pub async fn create_read_session(
        &self,
        table: &TableRef,
        request: CreateReadSessionRequest,
    ) -> Result<ReadSession> {
        let params = format!("read_session.table={}", table.resource());
        self.unary(table, "CreateReadSession", READ, &params, request)
            .await
    }

    /// `ReadRows` of one stream from row `offset`: the stream of responses.
    pub async fn read_rows(
        &self,
        table: &TableRef,
        stream: &str,
        offset: i64,
    ) -> Result<Streaming<ReadRowsResponse>> {
        let message = ReadRowsRequest {
            read_stream: stream.to_string(),
            offset,
            ..Default::default()
        };
        let params = format!("read_stream={stream}");
        let authorization = self.credentials.authorization().await?;
        let path = path(READ, "ReadRows");
        let outcome = with_retries(self.retries, || {
            let request = request(message.clone(), &params, authorization.as_deref());
            let mut grpc = self.grpc();
            let path = path.clone();
            async move {
                grpc.ready().await.map_err(|e| transport_failure(&e))?;
                grpc.server_streaming(request, path, ProstCodec::default())
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|s| Failure::from_status(&s))
            }
        })
        .await;
        outcome.map_err(|f| f.into_error("ReadRows", &table.to_string(), &self.endpoint))
    }

    /// `CreateWriteStream` of a `PENDING` stream.
    pub async fn create_pending_stream(&self, table: &TableRef) -> Result<WriteStream> {
        use crate::proto::storage::write_stream::Type;
        let request = CreateWriteStreamRequest {
            parent: table.resource(),
            write_stream: Some(WriteStream {
                r#type: Type::Pending as i32,
                ..Default::default()
            }),
        };
        let params = format!("parent={}", table.resource());
        self.unary(table, "CreateWriteStream", WRITE, &params, request)
            .await
    }

    /// `AppendRows` on `stream`: sends `requests`, returns the responses, one per request.
    pub async fn append_rows<S>(
        &self,
        table: &TableRef,
        stream: &str,
        requests: S,
    ) -> Result<Streaming<AppendRowsResponse>>
    where
        S: Stream<Item = AppendRowsRequest> + Send + 'static,
    {
        let params = format!("write_stream={stream}");
        let authorization = self.credentials.authorization().await?;
        let mut grpc = self.grpc();
        let failed = |f: Failure| f.into_error("AppendRows", &table.to_string(), &self.endpoint);
        grpc.ready()
            .await
            .map_err(|e| failed(transport_failure(&e)))?;
        grpc.streaming(
            request(requests, &params, authorization.as_deref()),
            path(WRITE, "AppendRows"),
            ProstCodec::default(),
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| failed(Failure::from_status(&s)))
    }

    /// `FinalizeWriteStream`: no more appends; returns the rows the stream holds.
    pub async fn finalize(&self, table: &TableRef, stream: &str) -> Result<i64> {
        let request = FinalizeWriteStreamRequest {
            name: stream.to_string(),
        };
        let params = format!("name={stream}");
        let response: FinalizeWriteStreamResponse = self
            .unary(table, "FinalizeWriteStream", WRITE, &params, request)
            .await?;
        Ok(response.row_count)
    }

    /// `BatchCommitWriteStreams`: makes the rows of every stream visible, all at once.
    pub async fn batch_commit(&self, table: &TableRef, streams: Vec<String>) -> Result<()> {
        let request = BatchCommitWriteStreamsRequest {
            parent: table.resource(),
            write_streams: streams,
        };
        let params = format!("parent={}", table.resource());
        let response: BatchCommitWriteStreamsResponse = self
            .unary(table, "BatchCommitWriteStreams", WRITE, &params, request)
            .await?;
        if response.commit_time.is_none() || !response.stream_errors.is_empty() {
            let errors: Vec<String> = response
                .stream_errors
                .iter()
                .map(|e| e.error_message.clone())
                .collect();
            return Err(BigQueryError::Service {
                operation: "BatchCommitWriteStreams".into(),
                table: table.to_string(),
                message: format!("nothing was committed: {}", errors.join("; ")),
            });
        }
        Ok(())
    }

    /// One unary RPC with retries.
    async fn unary<M1, M2>(
        &self,
        table: &TableRef,
        method: &str,
        service: &str,
        params: &str,
        message: M1,
    ) -> Result<M2>
    where
        M1: prost::Message + Clone + Send + Sync + 'static,
        M2: prost::Message + Default + Send + Sync + 'static,
    {
        let authorization = self.credentials.authorization().await?;
        let path = path(service, method);
        let outcome = with_retries(self.retries, || {
            let request = request(message.clone(), params, authorization.as_deref());
            let mut grpc = self.grpc();
            let path = path.clone();
            async move {
                grpc.ready().await.map_err(|e| transport_failure(&e))?;
                grpc.unary(request, path, ProstCodec::default())
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|s| Failure::from_status(&s))
            }
        })
        .await;
        outcome.map_err(|f| f.into_error(method, &table.to_string(), &self.endpoint))
    }

    fn grpc(&self) -> Grpc<Channel> {
        Grpc::new(self.channel.clone())
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }
}

/// `message` with the routing header and the token.
fn request<M>(message: M, params: &str, authorization: Option<&str>) -> Request<M> {
    let mut request = Request::new(message);
    let metadata = request.metadata_mut();
    if let Ok(value) = MetadataValue::try_from(params) {
        metadata.insert("x-goog-request-params", value);
    }
    if let Some(value) = authorization.and_then(|a| MetadataValue::try_from(a).ok()) {
        metadata.insert("authorization", value);
    }
    request
}

fn path(service: &str, method: &str) -> PathAndQuery {
    PathAndQuery::from_maybe_shared(format!("{service}{method}"))
        .unwrap_or_else(|_| PathAndQuery::from_static("/"))
}

/// A channel that could not get ready: the endpoint is unreachable.
fn transport_failure(err: &tonic::transport::Error) -> Failure {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure::new(crate::retry::FailureKind::Unreachable, text)
}
