//! [`CountingStore`]: an object store that counts the requests and bytes going through it.
//!
//! The registry wraps every remote store in one, so a session can say per bucket how many
//! GETs a query made and how many bytes they fetched ([`StoreIo`]). Ranged reads are left
//! to object_store's default `get_ranges`, which coalesces nearby ranges and then calls
//! [`ObjectStore::get_opts`] here, so one counted GET is one HTTP request, and each goes
//! through the concurrency cap below on its own (see the registry).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result, UploadPart,
};
use parking_lot::Mutex;

use super::messages::store_error_message;

/// Requests and bytes of one store, since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreIo {
    /// The store, as `scheme://bucket` (no credentials).
    pub store: String,
    /// GET requests (whole objects or byte ranges).
    pub gets: u64,
    /// Bytes the GET requests fetched.
    pub bytes_read: u64,
    /// HEAD requests.
    pub heads: u64,
    /// List requests (one per call; a call may page).
    pub lists: u64,
    /// PUT requests: single puts and multipart parts.
    pub puts: u64,
    /// Of `puts`, the parts of multipart uploads (object_store's writers switch to a
    /// multipart upload above 10 MiB).
    pub parts: u64,
    /// Multipart uploads completed (each made one object of its parts).
    pub multipart_uploads: u64,
    /// Bytes uploaded.
    pub bytes_written: u64,
    /// The most requests the store had in flight at once since it was built, never more
    /// than its `max_concurrent_requests`: a high-water mark, which [`StoreIo::since`]
    /// keeps as it is (a peak cannot be split in time).
    pub max_in_flight: u64,
    /// Writes the store refused: single PUTs, multipart parts and completions that failed
    /// (after object_store's retries).
    pub write_failures: u64,
    /// Of `bytes_read`, the bytes fetched ahead of sequential scans (`read_ahead_mib`).
    pub read_ahead_bytes: u64,
    /// Of `read_ahead_bytes`, those no read used before their window was dropped (a scan
    /// that stopped early, a file replaced meanwhile).
    pub read_ahead_unused: u64,
}

impl StoreIo {
    /// What happened between `before` and `self` (both of the same store).
    pub fn since(&self, before: &StoreIo) -> StoreIo {
        StoreIo {
            store: self.store.clone(),
            gets: self.gets.saturating_sub(before.gets),
            bytes_read: self.bytes_read.saturating_sub(before.bytes_read),
            heads: self.heads.saturating_sub(before.heads),
            lists: self.lists.saturating_sub(before.lists),
            puts: self.puts.saturating_sub(before.puts),
            parts: self.parts.saturating_sub(before.parts),
            multipart_uploads: self
                .multipart_uploads
                .saturating_sub(before.multipart_uploads),
            bytes_written: self.bytes_written.saturating_sub(before.bytes_written),
            max_in_flight: self.max_in_flight,
            write_failures: self.write_failures.saturating_sub(before.write_failures),
            read_ahead_bytes: self
                .read_ahead_bytes
                .saturating_sub(before.read_ahead_bytes),
            read_ahead_unused: self
                .read_ahead_unused
                .saturating_sub(before.read_ahead_unused),
        }
    }

    /// True when nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.gets + self.heads + self.lists + self.puts == 0
    }
}

impl fmt::Display for StoreIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} GETs, {} bytes read ({} read ahead, {} of them unused), {} HEADs, {} lists, \
             {} PUTs ({} parts of {} multipart uploads), {} bytes written, at most {} in flight",
            self.store,
            self.gets,
            self.bytes_read,
            self.read_ahead_bytes,
            self.read_ahead_unused,
            self.heads,
            self.lists,
            self.puts,
            self.parts,
            self.multipart_uploads,
            self.bytes_written,
            self.max_in_flight
        )
    }
}

/// The counters of one store, shared by the store, its uploads and the
/// [`InFlightStore`](super::in_flight_store::InFlightStore) under its concurrency cap.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    gets: AtomicU64,
    bytes_read: AtomicU64,
    heads: AtomicU64,
    lists: AtomicU64,
    puts: AtomicU64,
    parts: AtomicU64,
    multipart_uploads: AtomicU64,
    bytes_written: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    write_failures: AtomicU64,
    read_ahead_bytes: AtomicU64,
    read_ahead_unused: AtomicU64,
    /// The last refused write: where, and the store's answer in one line.
    last_write_failure: Mutex<Option<String>>,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a write the store refused at `location` and keeps its reason.
    fn write_failed(&self, location: &Path, err: &object_store::Error) {
        Counters::add(&self.write_failures, 1);
        *self.last_write_failure.lock() = Some(format!("{location}: {}", store_error_message(err)));
    }

    /// The last write the store refused, if any: where, and why.
    pub(crate) fn last_write_failure(&self) -> Option<String> {
        self.last_write_failure.lock().clone()
    }

    /// Counts `n` bytes read ahead (fetched, and already counted in `bytes_read`).
    pub(crate) fn read_ahead(&self, n: u64) {
        Counters::add(&self.read_ahead_bytes, n);
    }

    /// Counts `n` bytes read ahead that no read used.
    pub(crate) fn read_ahead_unused(&self, n: u64) {
        Counters::add(&self.read_ahead_unused, n);
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(crate) fn start_request(self: &Arc<Self>) -> InFlight {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight {
            counters: Arc::clone(self),
        }
    }

    pub(crate) fn snapshot(&self, store: &str) -> StoreIo {
        StoreIo {
            store: store.to_string(),
            gets: self.gets.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            heads: self.heads.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            puts: self.puts.load(Ordering::Relaxed),
            parts: self.parts.load(Ordering::Relaxed),
            multipart_uploads: self.multipart_uploads.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
            write_failures: self.write_failures.load(Ordering::Relaxed),
            read_ahead_bytes: self.read_ahead_bytes.load(Ordering::Relaxed),
            read_ahead_unused: self.read_ahead_unused.load(Ordering::Relaxed),
        }
    }
}

/// One request in flight, from [`Counters::start_request`] until dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    counters: Arc<Counters>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An object store that counts what goes through it to `inner`.
#[derive(Debug)]
pub struct CountingStore {
    name: String,
    inner: Arc<dyn ObjectStore>,
    counters: Arc<Counters>,
}

impl CountingStore {
    /// Counts the requests to `inner`, reported under `name` (`s3://bucket`).
    pub fn new(name: impl Into<String>, inner: Arc<dyn ObjectStore>) -> Self {
        Self::with_counters(name, inner, Arc::new(Counters::default()))
    }

    /// Counts into `counters`, which a rebuilt store of the same bucket keeps using.
    pub(crate) fn with_counters(
        name: impl Into<String>,
        inner: Arc<dyn ObjectStore>,
        counters: Arc<Counters>,
    ) -> Self {
        CountingStore {
            name: name.into(),
            inner,
            counters,
        }
    }

    /// The requests and bytes so far.
    pub fn io(&self) -> StoreIo {
        self.counters.snapshot(&self.name)
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        Counters::add(&self.counters.puts, 1);
        Counters::add(
            &self.counters.bytes_written,
            payload.content_length() as u64,
        );
        let result = self.inner.put_opts(location, payload, opts).await;
        if let Err(err) = &result {
            self.counters.write_failed(location, err);
        }
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload {
            inner: Arc::new(tokio::sync::Mutex::new(upload)),
            location: location.clone(),
            counters: Arc::clone(&self.counters),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await;
        if head {
            Counters::add(&self.counters.heads, 1);
        } else {
            Counters::add(&self.counters.gets, 1);
            if let Ok(result) = &result {
                Counters::add(
                    &self.counters.bytes_read,
                    result.range.end - result.range.start,
                );
            }
        }
        result
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        // object_store's default: coalesce nearby ranges, then one get_opts (counted) each.
        object_store::coalesce_ranges(
            ranges,
            |range| async move {
                let options = GetOptions {
                    range: Some(range.into()),
                    ..GetOptions::default()
                };
                self.get_opts(location, options).await?.bytes().await
            },
            object_store::OBJECT_STORE_COALESCE_DEFAULT,
        )
        .await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        Counters::add(&self.counters.lists, 1);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        Counters::add(&self.counters.lists, 1);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        Counters::add(&self.counters.lists, 1);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A multipart upload whose parts and completion are counted. A part the store refuses
/// (after object_store's retries) aborts the upload before its error goes on:
/// object_store's writer aborts an upload only when its completion fails, and an upload
/// left open keeps its parts on the store, invisible and billed, until a lifecycle rule
/// removes them.
#[derive(Debug)]
struct CountingUpload {
    /// Shared with the parts in flight, so that a failed one can abort the upload.
    inner: Arc<tokio::sync::Mutex<Box<dyn MultipartUpload>>>,
    location: Path,
    counters: Arc<Counters>,
}

#[async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        Counters::add(&self.counters.puts, 1);
        Counters::add(&self.counters.parts, 1);
        Counters::add(&self.counters.bytes_written, data.content_length() as u64);
        // Only an abort holds the lock for longer than this call; a part asked for
        // meanwhile belongs to an upload that is being given up.
        let Ok(mut upload) = self.inner.try_lock() else {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "multipart upload",
                    source: "the upload was aborted after a part failed".into(),
                })
            });
        };
        let part = upload.put_part(data);
        drop(upload);
        let (inner, counters, location) = (
            Arc::clone(&self.inner),
            Arc::clone(&self.counters),
            self.location.clone(),
        );
        Box::pin(async move {
            let result = part.await;
            if let Err(err) = &result {
                counters.write_failed(&location, err);
                // The first failed part aborts; a second abort's error says nothing new.
                let _ = inner.lock().await.abort().await;
            }
            result
        })
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let result = self.inner.lock().await.complete().await;
        match &result {
            Ok(_) => Counters::add(&self.counters.multipart_uploads, 1),
            Err(err) => self.counters.write_failed(&self.location, err),
        }
        result
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.lock().await.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn counts_gets_and_bytes_of_coalesced_ranges() {
        let store = CountingStore::new("memory://", Arc::new(InMemory::new()));
        let path = Path::from("a/b.bin");
        let size = 3 << 20;
        store.put(&path, vec![7u8; size].into()).await.unwrap();
        // Two nearby ranges become one request (0..30); a far one is another.
        let far = 5 << 19;
        let got = store
            .get_ranges(&path, &[0..10, 20..30, far..far + 100])
            .await
            .unwrap();
        assert_eq!(got.iter().map(|b| b.len()).sum::<usize>(), 120);
        let io = store.io();
        assert_eq!((io.puts, io.bytes_written), (1, size as u64));
        assert_eq!(io.gets, 2);
        assert_eq!(io.bytes_read, 30 + 100);
        store.head(&path).await.unwrap();
        assert_eq!(store.io().heads, 1);
    }

    #[tokio::test]
    async fn counts_parts_and_completed_uploads() {
        let store = CountingStore::new("memory://", Arc::new(InMemory::new()));
        let mut upload = store.put_multipart(&Path::from("big.bin")).await.unwrap();
        upload.put_part(vec![1u8; 100].into()).await.unwrap();
        upload.put_part(vec![2u8; 50].into()).await.unwrap();
        assert_eq!(store.io().multipart_uploads, 0, "not complete yet");
        upload.complete().await.unwrap();
        let io = store.io();
        assert_eq!((io.puts, io.parts, io.multipart_uploads), (2, 2, 1));
        assert_eq!(io.bytes_written, 150);
    }
}
