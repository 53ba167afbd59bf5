//! [`InFlightStore`]: an object store that tracks how many requests are in flight.
//!
//! The registry puts it right under object_store's `LimitStore`, which caps a store's
//! concurrent requests (`max_concurrent_requests`), so what it sees is what reaches the
//! server: its high-water mark ([`StoreIo::max_in_flight`](super::StoreIo::max_in_flight))
//! shows whether the cap was reached. A request is in flight from the moment it is sent
//! until its answer has been read, for a GET until its body stream is done or dropped,
//! as long as `LimitStore` holds its permit.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};

use super::counting_store::{Counters, InFlight};

/// An object store that marks each request to `inner` in flight in `counters`.
#[derive(Debug)]
pub(crate) struct InFlightStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<Counters>,
}

impl InFlightStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, counters: Arc<Counters>) -> Self {
        InFlightStore { inner, counters }
    }
}

impl fmt::Display for InFlightStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

#[async_trait]
impl ObjectStore for InFlightStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let _request = self.counters.start_request();
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = {
            let _request = self.counters.start_request();
            self.inner.put_multipart_opts(location, opts).await?
        };
        Ok(Box::new(InFlightUpload {
            inner: upload,
            counters: Arc::clone(&self.counters),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let request = self.counters.start_request();
        let result = self.inner.get_opts(location, options).await?;
        let payload = match result.payload {
            GetResultPayload::Stream(body) => {
                GetResultPayload::Stream(Guarded::new(body, request).boxed())
            }
            local => local,
        };
        Ok(GetResult { payload, ..result })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let request = self.counters.start_request();
        Guarded::new(self.inner.delete_stream(locations), request).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let request = self.counters.start_request();
        Guarded::new(self.inner.list(prefix), request).boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let request = self.counters.start_request();
        Guarded::new(self.inner.list_with_offset(prefix, offset), request).boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let _request = self.counters.start_request();
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let _request = self.counters.start_request();
        self.inner.copy_opts(from, to, options).await
    }
}

/// A multipart upload whose part uploads, completion and abort are marked in flight.
#[derive(Debug)]
struct InFlightUpload {
    inner: Box<dyn MultipartUpload>,
    counters: Arc<Counters>,
}

#[async_trait]
impl MultipartUpload for InFlightUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let part = self.inner.put_part(data);
        let counters = Arc::clone(&self.counters);
        // In flight from the first poll: `LimitStore` polls this only once it holds a
        // permit.
        Box::pin(async move {
            let _request = counters.start_request();
            part.await
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let _request = self.counters.start_request();
        self.inner.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        let _request = self.counters.start_request();
        self.inner.abort().await
    }
}

/// A stream that keeps its request in flight until it is dropped.
struct Guarded<S> {
    inner: S,
    _request: InFlight,
}

impl<S> Guarded<S> {
    fn new(inner: S, request: InFlight) -> Self {
        Guarded {
            inner,
            _request: request,
        }
    }
}

impl<S: Stream + Unpin> Stream for Guarded<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::limit::LimitStore;

    use crate::object_stores::CountingStore;
    use crate::object_stores::test_store::TestStore;

    /// Ten ranged reads far apart are ten requests at once (object_store fetches up to 10
    /// coalesced ranges in parallel); under a cap of 2, never more than 2 are in flight.
    /// The store answers GETs only in groups of `min(cap, 10)`, so every request of a group
    /// is in flight before any is answered; a cap that let a third through would show 3.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cap_bounds_requests_in_flight() {
        for (cap, expect_capped) in [(2, true), (16, false)] {
            let counters = Arc::new(Counters::default());
            let gated: Arc<dyn ObjectStore> = Arc::new(TestStore::gated(cap.min(10)));
            let probed = InFlightStore::new(gated, Arc::clone(&counters));
            let limited = Arc::new(LimitStore::new(probed, cap));
            let store = CountingStore::with_counters("memory://", limited, counters);
            let path = Path::from("x.bin");
            let step: u64 = 2 << 20;
            store
                .put(&path, vec![0u8; 10 * step as usize].into())
                .await
                .unwrap();
            let ranges: Vec<_> = (0..10u64).map(|i| i * step..i * step + 8).collect();
            store.get_ranges(&path, &ranges).await.unwrap();
            let io = store.io();
            assert_eq!(io.gets, 10, "{io}");
            if expect_capped {
                assert_eq!(io.max_in_flight, 2, "{io}");
            } else {
                assert_eq!(io.max_in_flight, 10, "{io}");
            }
        }
    }
}
