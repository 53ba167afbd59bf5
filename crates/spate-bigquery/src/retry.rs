//! Retries with exponential backoff, and the sorting of BigQuery's answers into what may
//! be retried, what is a quota, what is missing and what is final.
//!
//! Retryable, as BigQuery documents: gRPC `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `ABORTED`,
//! `INTERNAL` and `RESOURCE_EXHAUSTED` (write throughput), HTTP 429, 500, 502, 503 and 504
//! and the reasons `backendError`, `internalError` and `rateLimitExceeded`. A quota error
//! still failing after the retries is reported as a quota error.

use std::future::Future;
use std::time::Duration;

use crate::auth::one_line;
use crate::error::BigQueryError;

/// What kind of failure a request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Worth another try.
    Retryable,
    /// Out of quota (retried, then reported as such).
    Quota,
    /// The endpoint did not answer (retried, then reported as unreachable).
    Unreachable,
    /// The thing asked for does not exist.
    NotFound,
    /// The caller is not allowed (bad or missing credentials).
    Unauthenticated,
    /// Any other refusal: final.
    Fatal,
}

/// A failed request: its kind and the service's message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// Whether `status` says the endpoint could not be reached: tonic keeps the cause of a
/// failed connection as the status's source, a transport or I/O error somewhere in it.
fn is_transport(status: &tonic::Status) -> bool {
    let mut next = std::error::Error::source(status);
    while let Some(cause) = next {
        if cause.is::<tonic::transport::Error>() || cause.is::<std::io::Error>() {
            return true;
        }
        next = cause.source();
    }
    false
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl AsRef<str>) -> Failure {
        Failure {
            kind,
            message: one_line(message.as_ref()),
        }
    }

    /// A gRPC status, sorted.
    pub fn from_status(status: &tonic::Status) -> Failure {
        use tonic::Code;
        let transport = is_transport(status);
        let kind = match status.code() {
            Code::Unavailable if transport => FailureKind::Unreachable,
            Code::Unknown if transport => FailureKind::Unreachable,
            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Internal => {
                FailureKind::Retryable
            }
            Code::ResourceExhausted => FailureKind::Quota,
            Code::NotFound => FailureKind::NotFound,
            Code::Unauthenticated | Code::PermissionDenied => FailureKind::Unauthenticated,
            _ => FailureKind::Fatal,
        };
        let message = match status.message() {
            "" => format!("{:?}", status.code()),
            text => text.to_string(),
        };
        Failure::new(kind, message)
    }

    /// Whether another attempt may succeed.
    fn retryable(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Retryable | FailureKind::Quota | FailureKind::Unreachable
        )
    }

    /// The user's error: `operation` on `table` (or at `endpoint` when unreachable).
    pub fn into_error(self, operation: &str, table: &str, endpoint: &str) -> BigQueryError {
        match self.kind {
            FailureKind::Quota => BigQueryError::Quota {
                operation: operation.into(),
                table: table.into(),
                message: self.message,
            },
            FailureKind::Unreachable => BigQueryError::Unreachable {
                endpoint: endpoint.into(),
                reason: self.message,
            },
            FailureKind::NotFound if operation == "tables.get" => BigQueryError::TableNotFound {
                table: table.into(),
            },
            _ => BigQueryError::Service {
                operation: operation.into(),
                table: table.into(),
                message: self.message,
            },
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has been retried `retries` times,
/// sleeping 100 ms, 200 ms, 400 ms, ... (at most 10 s, with jitter) between attempts.
pub(crate) async fn with_retries<T, F, Fut>(retries: usize, mut attempt: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tried = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) if failure.retryable() && tried < retries => {
                tokio::time::sleep(backoff(tried)).await;
                tried += 1;
            }
            Err(failure) => return Err(failure),
        }
    }
}

/// The pause before retry number `n` (from 0): doubling from 100 ms, capped at 10 s, plus
/// up to a quarter more so that writers that failed together do not retry together.
fn backoff(n: usize) -> Duration {
    let base = 100u64.saturating_mul(1 << n.min(7)).min(10_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base + nanos % (base / 4 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_retryable_failures_only_up_to_the_limit() {
        let mut calls = 0;
        let result: Result<(), Failure> = with_retries(2, || {
            calls += 1;
            async { Err(Failure::new(FailureKind::Retryable, "busy")) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let _: Result<(), Failure> = with_retries(5, || {
            calls += 1;
            async { Err(Failure::new(FailureKind::NotFound, "gone")) }
        })
        .await;
        assert_eq!(calls, 1);
    }

    #[test]
    fn sorts_grpc_codes() {
        let kind = |code| Failure::from_status(&tonic::Status::new(code, "x")).kind;
        assert_eq!(kind(tonic::Code::Unavailable), FailureKind::Retryable);
        assert_eq!(kind(tonic::Code::ResourceExhausted), FailureKind::Quota);
        assert_eq!(kind(tonic::Code::InvalidArgument), FailureKind::Fatal);
        assert!(backoff(20) <= Duration::from_millis(12_500));
    }
}
