//! [`TestStore`]: a store in memory that holds GETs until enough run at once, or refuses
//! some, as a server might; for the tests of the store layers above it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// A store in memory whose GETs may wait at a gate, and fail with a 503-like error when
/// their range is longer than `longest_get`.
#[derive(Debug)]
pub(crate) struct TestStore {
    inner: InMemory,
    /// When set, each GET waits until the gate's number of GETs wait together.
    gate: Option<Arc<tokio::sync::Barrier>>,
    longest_get: u64,
}

impl TestStore {
    /// GETs are answered in groups of `at_once`: each waits until `at_once` GETs are
    /// running, so exactly that many are in flight together, whatever the machine's speed.
    /// (A caller that never starts `at_once` GETs at once waits for ever.)
    pub(crate) fn gated(at_once: usize) -> Self {
        TestStore {
            inner: InMemory::new(),
            gate: Some(Arc::new(tokio::sync::Barrier::new(at_once))),
            longest_get: u64::MAX,
        }
    }

    /// GETs of a range longer than `bytes` fail.
    pub(crate) fn refusing_gets_over(bytes: u64) -> Self {
        TestStore {
            inner: InMemory::new(),
            gate: None,
            longest_get: bytes,
        }
    }
}

impl fmt::Display for TestStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestStore")
    }
}

#[async_trait]
impl ObjectStore for TestStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if let Some(gate) = &self.gate {
            gate.wait().await;
        }
        if let Some(GetRange::Bounded(range)) = &options.range
            && range.end - range.start > self.longest_get
        {
            return Err(object_store::Error::Generic {
                store: "TestStore",
                source: format!("503 Service Unavailable: {location} {range:?}").into(),
            });
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
