//! [`TestStore`]: a store in memory that answers GETs slowly, or refuses some, as a server
//! might; for the tests of the store layers above it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// A store in memory whose GETs take `delay`, and fail with a 503-like error when their
/// range is longer than `longest_get`.
#[derive(Debug)]
pub(crate) struct TestStore {
    inner: InMemory,
    delay: Duration,
    longest_get: u64,
}

impl TestStore {
    /// GETs take `delay`, as a server's would.
    pub(crate) fn slow(delay: Duration) -> Self {
        TestStore {
            inner: InMemory::new(),
            delay,
            longest_get: u64::MAX,
        }
    }

    /// GETs of a range longer than `bytes` fail.
    pub(crate) fn refusing_gets_over(bytes: u64) -> Self {
        TestStore {
            inner: InMemory::new(),
            delay: Duration::ZERO,
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
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
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
