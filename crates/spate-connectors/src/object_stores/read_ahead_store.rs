//! [`ReadAheadStore`]: fewer, larger GETs, fetched ahead, for a scan that reads an object
//! front to back.
//!
//! The Parquet reader asks for one row group at a time: a full scan of a 48 MB file in
//! 100,000-row groups makes ten GETs of ~5 MB, each waited for before the group is
//! decoded. Every GET pays the store's fixed cost (a round trip on S3; on moto, reading
//! the whole object again), and nothing is fetched while a group decodes.
//!
//! The algorithm, per object (an adaptive input policy, as Hadoop's S3A has):
//!
//! 1. **Detect a sequential scan.** A ranged read is *dense* when its ranges coalesce
//!    (gaps of at most 1 MiB, object_store's rule) into a single range: a row group read
//!    whole, every column. A dense read that starts exactly where an earlier dense read of
//!    the same object ended continues a scan. Anything else (a few columns, pruned row
//!    groups, a footer) is read as asked, so selective queries fetch no byte more.
//! 2. **Read a window.** A continuing read fetches a *window* from its start: twice its
//!    own length, at least [`MIN_WINDOW`], at most the store's `read_ahead` size, never
//!    past the object's end. Later reads inside the window are served from it.
//! 3. **Fetch the next window ahead.** As soon as a read is served from a window, the
//!    window after it (twice as long, up to the maximum) is requested in the background,
//!    so the next row groups arrive while this one decodes. A window is dropped once a
//!    read has used its last byte.
//! 4. **Stay bounded.** Windows are fetched in spawned tasks and held by this store,
//!    outside the query's memory pool; at most [`BUFFERED_WINDOWS`] maximum-size windows'
//!    worth of bytes at once. A window no read has touched for [`IDLE`] (a scan that
//!    stopped early, at a LIMIT or an error) is dropped and its fetch aborted at the next
//!    read or listing through the store. When the budget is full, reads go on one GET
//!    each, as without read-ahead.
//!
//! A window whose fetch failed is dropped, and the read that wanted it asks the store for
//! its own range, so a failure is reported (and retried) exactly as without read-ahead.
//!
//! **Never a stale byte.** Windows belong to one version of an object: its e-tag (or size
//! and modification time) as the last GET, HEAD or listing through this store gave it. A
//! new version seen drops every window of the old one, a write, copy or delete through
//! this store drops the object's windows, and a window's GET asks for the version it
//! belongs to (`If-Match`), so an object replaced meanwhile fails the window, and its
//! reads go to the store.
//! The GETs of windows go through the store below (counted, under the concurrency cap):
//! `bytes_read` counts every byte fetched ahead, used or not.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use super::counting_store::Counters;

/// The smallest window read ahead.
pub(crate) const MIN_WINDOW: u64 = 16 * 1024 * 1024;

/// How many maximum-size windows' worth of bytes one store may hold at once.
const BUFFERED_WINDOWS: u64 = 4;

/// How long a window nobody reads from is kept.
const IDLE: Duration = Duration::from_secs(10);

/// How many recent read ends are remembered per object: one per scan of it in progress.
const RECENT_ENDS: usize = 8;

/// The gap up to which the ranges of one read count as one (object_store's coalescing).
const COALESCE_GAP: u64 = object_store::OBJECT_STORE_COALESCE_DEFAULT;

/// An object store that reads ahead of sequential scans (see the module's doc).
pub(crate) struct ReadAheadStore {
    inner: Arc<dyn ObjectStore>,
    /// The largest window; also what the budget of buffered bytes is counted in.
    max_window: u64,
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
}

impl ReadAheadStore {
    /// Reads ahead of `inner`'s sequential scans in windows of up to `max_window` bytes,
    /// counting what it read ahead, and what of that went unused, in `counters`.
    pub(crate) fn new(
        inner: Arc<dyn ObjectStore>,
        max_window: u64,
        counters: Arc<Counters>,
    ) -> Self {
        ReadAheadStore {
            inner,
            max_window: max_window.max(MIN_WINDOW),
            state: Arc::new(Mutex::new(State {
                counters: Arc::clone(&counters),
                idle: IDLE,
                ..State::default()
            })),
            counters,
        }
    }

    /// `listing`, taking note of each object's version as it passes.
    fn observed(
        &self,
        listing: BoxStream<'static, Result<ObjectMeta>>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        // A listing starts a query's scan: windows earlier queries left idle go now.
        self.state.lock().evict_idle(Instant::now());
        let state = Arc::clone(&self.state);
        listing
            .inspect(move |meta| {
                if let Ok(meta) = meta {
                    state.lock().observe(meta);
                }
            })
            .boxed()
    }
}

impl fmt::Debug for ReadAheadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadAheadStore")
            .field("inner", &self.inner)
            .field("max_window", &self.max_window)
            .finish()
    }
}

impl fmt::Display for ReadAheadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

/// The windows of every object being read, and what they hold in all.
#[derive(Default)]
struct State {
    objects: HashMap<Path, ObjectState>,
    /// Bytes of all windows, fetched or on their way.
    buffered: u64,
    /// The store's counters: bytes read ahead, and those never used.
    counters: Arc<Counters>,
    /// How long a window nobody reads from is kept ([`IDLE`]).
    idle: Duration,
}

/// What one object's reads have shown so far.
#[derive(Default)]
struct ObjectState {
    /// The object's size, once a GET has said it.
    size: Option<u64>,
    /// The version the windows belong to (see [`version_of`]), and its e-tag if it has one.
    version: Option<String>,
    e_tag: Option<String>,
    /// Where recent dense reads ended: a dense read starting at one continues a scan.
    recent_ends: VecDeque<u64>,
    windows: Vec<Window>,
    last_used: Option<Instant>,
}

/// Bytes of an object fetched, or being fetched, ahead of the reads that will want them.
struct Window {
    range: Range<u64>,
    /// The bytes, or `None` when the fetch failed.
    bytes: Shared<BoxFuture<'static, Option<Bytes>>>,
    fetch: AbortHandle,
    /// The bytes its fetch brought, once it has (0 before, or if it failed).
    fetched: Arc<AtomicU64>,
    last_used: Instant,
    /// How far reads have used the window (from its start).
    used_to: u64,
}

/// A window's range and its bytes to come.
type Part = (Range<u64>, Shared<BoxFuture<'static, Option<Bytes>>>);

/// How one read is served.
enum Plan {
    /// From these windows, one after the other.
    Windows(Vec<Part>),
    /// With a GET of its own.
    Direct,
}

impl State {
    /// Lets `window` go: its fetch is aborted if still running, and what it fetched that no
    /// read used is counted as unused.
    fn release(&mut self, window: Window) {
        window.fetch.abort();
        self.buffered -= window.range.end - window.range.start;
        let used = window.used_to.max(window.range.start) - window.range.start;
        let fetched = window.fetched.load(Ordering::SeqCst);
        if fetched > used {
            self.counters.read_ahead_unused(fetched - used);
        }
    }

    /// Drops idle windows and objects nothing remembers.
    fn evict_idle(&mut self, now: Instant) {
        let mut idle = Vec::new();
        let keep_for = self.idle;
        self.objects.retain(|_, object| {
            let (old, kept) = object
                .windows
                .drain(..)
                .partition(|window| now.duration_since(window.last_used) >= keep_for);
            idle.extend::<Vec<Window>>(old);
            object.windows = kept;
            !object.windows.is_empty()
                || object
                    .last_used
                    .is_some_and(|used| now.duration_since(used) < keep_for)
        });
        for window in idle {
            self.release(window);
        }
    }

    /// Takes note of `meta`, the metadata the store just gave for an object: a version other
    /// than the one its windows belong to drops them. Objects not read are not tracked.
    fn observe(&mut self, meta: &ObjectMeta) {
        let Some(object) = self.objects.get_mut(&meta.location) else {
            return;
        };
        let version = version_of(meta);
        if object.version.as_ref() == Some(&version) {
            return;
        }
        let stale: Vec<Window> = object.windows.drain(..).collect();
        object.recent_ends.clear();
        object.version = Some(version);
        object.e_tag = meta.e_tag.clone();
        object.size = Some(meta.size);
        for window in stale {
            self.release(window);
        }
    }

    /// Forgets all about `location`, which is being written or deleted.
    fn forget(&mut self, location: &Path) {
        if let Some(object) = self.objects.remove(location) {
            for window in object.windows {
                self.release(window);
            }
        }
    }

    /// Remembers that a dense read of `location` ended at `end`, so that a read starting
    /// there continues the scan even when no window is left to serve it.
    fn ended(&mut self, location: &Path, end: u64) {
        if let Some(object) = self.objects.get_mut(location) {
            if object.recent_ends.len() == RECENT_ENDS {
                object.recent_ends.pop_front();
            }
            object.recent_ends.push_back(end);
        }
    }

    /// Marks the window of `location` starting at `start` used up to `to`, and drops it
    /// when that is its end or when `done` (its fetch failed).
    fn used(&mut self, location: &Path, start: u64, to: u64, done: bool) {
        let Some(object) = self.objects.get_mut(location) else {
            return;
        };
        let Some(at) = object.windows.iter().position(|w| w.range.start == start) else {
            return;
        };
        let window = &mut object.windows[at];
        window.used_to = window.used_to.max(to.min(window.range.end));
        if done || window.used_to == window.range.end {
            let window = object.windows.swap_remove(at);
            self.release(window);
        }
    }
}

impl ReadAheadStore {
    /// Reads `range` of `location`; `dense` says whether it is a whole run of the object
    /// (see the module's doc).
    async fn read(&self, location: &Path, range: Range<u64>, dense: bool) -> Result<Bytes> {
        let Plan::Windows(parts) = self.plan(location, &range, dense) else {
            return self.get_direct(location, range, dense).await;
        };
        let mut fetched = Vec::with_capacity(parts.len());
        for (window, bytes) in &parts {
            match bytes.clone().await {
                Some(bytes) if bytes.len() as u64 == window.end - window.start => {
                    fetched.push(bytes)
                }
                _ => break,
            }
        }
        {
            // Windows this read went to the end of are used up; failed ones are dropped.
            let failed = fetched.len() < parts.len();
            let mut state = self.state.lock();
            for (window, _) in &parts {
                state.used(location, window.start, range.end, failed);
            }
            if dense && !failed {
                state.ended(location, range.end);
            }
        }
        if fetched.len() < parts.len() {
            // A fetch failed: read as if there were no window, so the store's error (after
            // its retries) is what the query sees.
            return self.get_direct(location, range, false).await;
        }
        let slice = |(window, bytes): (&Range<u64>, &Bytes)| {
            let from = range.start.max(window.start) - window.start;
            let to = range.end.min(window.end) - window.start;
            bytes.slice(from as usize..to as usize)
        };
        let mut pieces = parts
            .iter()
            .map(|(window, _)| window)
            .zip(&fetched)
            .map(slice);
        if parts.len() == 1 {
            return Ok(pieces.next().unwrap_or_default());
        }
        // A read across the edge of two windows: copied into one buffer.
        let mut joined = BytesMut::with_capacity((range.end - range.start) as usize);
        for piece in pieces {
            joined.extend_from_slice(&piece);
        }
        Ok(joined.freeze())
    }

    /// Decides how a read is served, starting the windows it calls for.
    fn plan(&self, location: &Path, range: &Range<u64>, dense: bool) -> Plan {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.evict_idle(now);
        let budget = BUFFERED_WINDOWS * self.max_window;
        let buffered = state.buffered;
        let object = state.objects.entry(location.clone()).or_default();
        object.last_used = Some(now);
        let size = object.size;

        // The windows holding the range, one after the other.
        let mut parts: Vec<Part> = Vec::new();
        let mut at = range.start;
        while at < range.end {
            let Some(window) = object
                .windows
                .iter_mut()
                .find(|w| w.range.start <= at && at < w.range.end)
            else {
                break;
            };
            window.last_used = now;
            parts.push((window.range.clone(), window.bytes.clone()));
            at = window.range.end;
        }
        let mut added = 0;
        if at < range.end {
            // The rest of a read that continues a scan comes in a new window.
            let continues = !parts.is_empty() || object.recent_ends.contains(&range.start);
            if !dense || !continues {
                return Plan::Direct;
            }
            let len = (2 * (range.end - range.start)).clamp(MIN_WINDOW, self.max_window);
            let end = clamp_end(at + len, size).max(range.end);
            if buffered + (end - at) > budget {
                return Plan::Direct;
            }
            let Some(window) = self.fetch(location, at..end, object.e_tag.clone(), now) else {
                return Plan::Direct;
            };
            parts.push((window.range.clone(), window.bytes.clone()));
            object.windows.push(window);
            added += end - at;
        }

        // The window after the last one, fetched while this read is used; not a tail of
        // under a MiB (the footer, read already).
        if let Some((last, _)) = parts.last().filter(|_| dense) {
            let next_len = (2 * (last.end - last.start)).min(self.max_window);
            let next = last.end..clamp_end(last.end + next_len, size);
            let known = object.windows.iter().any(|w| w.range.start == next.start);
            let fits = buffered + added + (next.end - next.start) <= budget;
            if next.end >= next.start + COALESCE_GAP
                && !known
                && fits
                && let Some(window) = self.fetch(location, next.clone(), object.e_tag.clone(), now)
            {
                object.windows.push(window);
                added += next.end - next.start;
            }
        }
        state.buffered += added;
        Plan::Windows(parts)
    }

    /// A window of `range`, its GET running in a task of its own and asking for the version
    /// `e_tag` when there is one; `None` outside a tokio runtime, where nothing can run in
    /// the background.
    fn fetch(
        &self,
        location: &Path,
        range: Range<u64>,
        e_tag: Option<String>,
        now: Instant,
    ) -> Option<Window> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let inner = Arc::clone(&self.inner);
        let path = location.clone();
        let options = GetOptions {
            range: Some(range.clone().into()),
            if_match: e_tag,
            ..GetOptions::default()
        };
        let counters = Arc::clone(&self.counters);
        let fetched = Arc::new(AtomicU64::new(0));
        let done = Arc::clone(&fetched);
        let task = runtime.spawn(async move {
            let bytes = inner.get_opts(&path, options).await?.bytes().await?;
            counters.read_ahead(bytes.len() as u64);
            done.store(bytes.len() as u64, Ordering::SeqCst);
            Ok::<_, object_store::Error>(bytes)
        });
        let fetch = task.abort_handle();
        let bytes = task
            .map(|joined| joined.ok().and_then(|fetched| fetched.ok()))
            .boxed()
            .shared();
        Some(Window {
            used_to: range.start,
            fetched,
            range,
            bytes,
            fetch,
            last_used: now,
        })
    }

    /// One GET of `range`, remembering the object's size and, for a dense read, its end.
    async fn get_direct(&self, location: &Path, range: Range<u64>, dense: bool) -> Result<Bytes> {
        let options = GetOptions {
            range: Some(range.clone().into()),
            ..GetOptions::default()
        };
        let result = self.inner.get_opts(location, options).await?;
        let meta = result.meta.clone();
        let bytes = result.bytes().await?;
        let mut state = self.state.lock();
        state.objects.entry(location.clone()).or_default().last_used = Some(Instant::now());
        state.observe(&meta);
        if dense {
            state.ended(location, range.end);
        }
        Ok(bytes)
    }
}

/// The version of an object: its e-tag, or else its size and modification time.
fn version_of(meta: &ObjectMeta) -> String {
    match &meta.e_tag {
        Some(e_tag) => e_tag.clone(),
        None => format!("{} bytes at {}", meta.size, meta.last_modified),
    }
}

/// `end`, but not past the object's end when its size is known.
fn clamp_end(end: u64, size: Option<u64>) -> u64 {
    size.map_or(end, |size| end.min(size))
}

/// `ranges` sorted and merged where they overlap or lie at most `gap` apart.
fn coalesce(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.iter().filter(|r| r.end > r.start).cloned().collect();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(gap) => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[async_trait]
impl ObjectStore for ReadAheadStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.state.lock().forget(location);
        let result = self.inner.put_opts(location, payload, opts).await;
        self.state.lock().forget(location);
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        // The new version, once complete, is told apart by its e-tag.
        self.state.lock().forget(location);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let result = self.inner.get_opts(location, options).await?;
        self.state.lock().observe(&result.meta);
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let runs = coalesce(ranges, COALESCE_GAP);
        let dense = runs.len() == 1;
        let fetched = futures::future::try_join_all(
            runs.iter()
                .map(|run| self.read(location, run.clone(), dense)),
        )
        .await?;
        Ok(ranges
            .iter()
            .map(|range| {
                // Every non-empty range lies inside the run it was merged into.
                runs.iter()
                    .zip(&fetched)
                    .find(|(run, _)| run.start <= range.start && range.end <= run.end)
                    .map_or_else(Bytes::new, |(run, bytes)| {
                        bytes.slice(
                            (range.start - run.start) as usize..(range.end - run.start) as usize,
                        )
                    })
            })
            .collect())
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let state = Arc::clone(&self.state);
        let locations = locations
            .inspect(move |location| {
                if let Ok(location) = location {
                    state.lock().forget(location);
                }
            })
            .boxed();
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.observed(self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.observed(self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let listed = self.inner.list_with_delimiter(prefix).await?;
        let mut state = self.state.lock();
        state.evict_idle(Instant::now());
        for meta in &listed.objects {
            state.observe(meta);
        }
        Ok(listed)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.state.lock().forget(to);
        let result = self.inner.copy_opts(from, to, options).await;
        self.state.lock().forget(to);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::counting_store::CountingStore;
    use super::super::test_store::TestStore;
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    const MIB: u64 = 1024 * 1024;

    /// An object of `size` bytes that differ from their neighbours, under a counting
    /// store, and a read-ahead store over that with windows of up to `max_window`.
    async fn setup(
        size: u64,
        max_window: u64,
    ) -> (Arc<CountingStore>, ReadAheadStore, Path, Bytes) {
        let counters = Arc::new(Counters::default());
        let counted = Arc::new(CountingStore::with_counters(
            "memory://",
            Arc::new(InMemory::new()),
            Arc::clone(&counters),
        ));
        let (path, data) = put_object(counted.as_ref(), size).await;
        let inner = Arc::clone(&counted) as Arc<dyn ObjectStore>;
        let store = ReadAheadStore::new(inner, max_window, counters);
        (counted, store, path, data)
    }

    /// Puts an object of `size` bytes that differ from their neighbours in `store`.
    async fn put_object(store: &dyn ObjectStore, size: u64) -> (Path, Bytes) {
        let path = Path::from("t/part-0.parquet");
        let data: Bytes = (0..size)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>()
            .into();
        store.put(&path, data.clone().into()).await.unwrap();
        (path, data)
    }

    /// The ranges of `columns` (of 16 equal ones) in the row group at `start` of `len`.
    fn columns(start: u64, len: u64, columns: &[u64]) -> Vec<Range<u64>> {
        let width = len / 16;
        columns
            .iter()
            .map(|c| start + c * width..start + (c + 1) * width)
            .collect()
    }

    /// Reads `ranges` and checks every slice against the object's bytes.
    async fn read_and_check(
        store: &ReadAheadStore,
        path: &Path,
        data: &Bytes,
        ranges: &[Range<u64>],
    ) {
        let got = store.get_ranges(path, ranges).await.unwrap();
        for (range, bytes) in ranges.iter().zip(got) {
            assert_eq!(bytes, data.slice(range.start as usize..range.end as usize));
        }
    }

    #[tokio::test]
    async fn a_front_to_back_scan_reads_ahead_in_growing_windows() {
        let size = 40 * MIB;
        let (counted, store, path, data) = setup(size, 32 * MIB).await;
        let group = 4 * MIB;
        for start in (0..size).step_by(group as usize) {
            let all: Vec<u64> = (0..16).collect();
            read_and_check(&store, &path, &data, &columns(start, group, &all)).await;
        }
        let io = counted.io();
        // 0..4 MiB as asked; then a window of 16 MiB from 4 and, ahead, the last 20 MiB.
        assert_eq!(io.gets, 3, "{io}");
        assert_eq!(io.bytes_read, size, "nothing past the end, nothing twice");
        assert_eq!((io.read_ahead_bytes, io.read_ahead_unused), (36 * MIB, 0));
        assert_eq!(store.state.lock().buffered, 0, "used windows are dropped");
    }

    #[tokio::test]
    async fn reads_across_window_edges_are_joined() {
        let size = 40 * MIB;
        let (counted, store, path, data) = setup(size, MIN_WINDOW).await;
        // Row groups of an odd size, so windows (16 MiB each) never end where one does.
        let group = 3 * MIB + 12_345;
        let mut reads = 0;
        for start in (0..size).step_by(group as usize) {
            let all: Vec<u64> = (0..16).collect();
            let mut ranges = columns(start, group.min(size - start), &all);
            if let Some(last) = ranges.last_mut() {
                last.end = (start + group).min(size);
            }
            read_and_check(&store, &path, &data, &ranges).await;
            reads += 1;
        }
        let io = counted.io();
        assert!(io.gets * 2 < reads, "{} reads: {io}", reads);
        assert_eq!(io.bytes_read, size, "nothing past the end, nothing twice");
        assert_eq!(store.state.lock().buffered, 0, "used windows are dropped");
    }

    #[tokio::test]
    async fn a_window_that_cannot_be_fetched_leaves_reads_to_their_own_gets() {
        let size = 40 * MIB;
        let group = 4 * MIB;
        let counters = Arc::new(Counters::default());
        // The store refuses every GET longer than a row group: all windows fail.
        let refusing = Arc::new(TestStore::refusing_gets_over(group));
        let (path, data) = put_object(refusing.as_ref(), size).await;
        let store = ReadAheadStore::new(refusing, 32 * MIB, counters);
        for start in (0..size).step_by(group as usize) {
            let all: Vec<u64> = (0..16).collect();
            read_and_check(&store, &path, &data, &columns(start, group, &all)).await;
        }
        assert_eq!(store.state.lock().buffered, 0, "failed windows are dropped");
        // A read the store refuses too is the store's error, not an empty answer.
        let whole = 0..size;
        let err = store
            .get_ranges(&path, std::slice::from_ref(&whole))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("503 Service Unavailable"), "{err}");
    }

    #[tokio::test]
    async fn reads_of_some_columns_fetch_only_what_they_ask() {
        let size = 40 * MIB;
        let group = 4 * MIB;
        // Columns 0 and 3 coalesce into one run per row group; 0 and 15 do not, and the
        // run of column 15 ends where the next group's column 0 starts.
        for wanted in [[0, 3], [0, 15]] {
            let (counted, store, path, data) = setup(size, 32 * MIB).await;
            let mut asked = 0;
            for start in (0..size).step_by(group as usize) {
                let ranges = columns(start, group, &wanted);
                asked += coalesce(&ranges, COALESCE_GAP)
                    .iter()
                    .map(|r| r.end - r.start)
                    .sum::<u64>();
                read_and_check(&store, &path, &data, &ranges).await;
            }
            let io = counted.io();
            assert_eq!(io.bytes_read, asked, "columns {wanted:?}: {io}");
        }
    }

    #[tokio::test]
    async fn a_replaced_object_is_never_read_from_an_old_window() {
        let size = 40 * MIB;
        let group = 4 * MIB;
        let all: Vec<u64> = (0..16).collect();
        let (counted, store, path, data) = setup(size, 32 * MIB).await;
        let newer = |n: u8| -> Bytes { data.iter().map(|b| b.wrapping_add(n)).collect() };
        // Three row groups read: windows up to 40 MiB are fetched ahead of the fourth.
        for start in (0..3 * group).step_by(group as usize) {
            read_and_check(&store, &path, &data, &columns(start, group, &all)).await;
        }
        assert!(store.state.lock().buffered > 0);

        // Replaced through this store: its windows go at once, unused.
        let second = newer(1);
        store.put(&path, second.clone().into()).await.unwrap();
        let io = counted.io();
        assert!(io.read_ahead_unused >= 16 * MIB, "{io}");
        read_and_check(&store, &path, &second, &columns(3 * group, group, &all)).await;
        read_and_check(&store, &path, &second, &columns(4 * group, group, &all)).await;

        // Replaced by another writer: the next listing shows a new e-tag, and the windows
        // of the old version go.
        let third = newer(2);
        counted.put(&path, third.clone().into()).await.unwrap();
        let listed: Vec<ObjectMeta> = store.list(None).map(|m| m.unwrap()).collect().await;
        assert_eq!(listed.len(), 1);
        for start in (5 * group..size).step_by(group as usize) {
            read_and_check(&store, &path, &third, &columns(start, group, &all)).await;
        }
    }

    #[tokio::test]
    async fn windows_a_stopped_scan_left_go_at_the_next_listing_counted_unused() {
        let group = 4 * MIB;
        let all: Vec<u64> = (0..16).collect();
        let (counted, store, path, data) = setup(40 * MIB, 32 * MIB).await;
        // A scan that stops after three row groups (at a LIMIT): windows up to 40 MiB wait.
        for start in (0..3 * group).step_by(group as usize) {
            read_and_check(&store, &path, &data, &columns(start, group, &all)).await;
        }
        assert!(store.state.lock().buffered > 0);
        assert_eq!(counted.io().read_ahead_unused, 0);
        // Once the background fetches have finished, every window counts as idle.
        let fetches: Vec<_> = (store.state.lock().objects.values())
            .flat_map(|object| object.windows.iter().map(|w| w.bytes.clone()))
            .collect();
        futures::future::join_all(fetches).await;
        store.state.lock().idle = Duration::ZERO;
        let listed: Vec<ObjectMeta> = store.list(None).map(|m| m.unwrap()).collect().await;
        assert_eq!(listed.len(), 1);
        assert_eq!(store.state.lock().buffered, 0, "idle windows are dropped");
        let io = counted.io();
        // Read ahead: 4..40 MiB; used: 4..12 MiB.
        assert_eq!(
            (io.read_ahead_bytes, io.read_ahead_unused),
            (36 * MIB, 28 * MIB)
        );
    }

    #[tokio::test]
    async fn scans_left_unfinished_hold_at_most_the_budget() {
        let (counted, store, _, data) = setup(40 * MIB, MIN_WINDOW).await;
        let budget = BUFFERED_WINDOWS * store.max_window;
        let group = 4 * MIB;
        for object in 0..10 {
            let path = Path::from(format!("t/part-{object}.parquet"));
            counted.put(&path, data.clone().into()).await.unwrap();
            // Three row groups of each: a window and the one after it, never finished.
            for start in (0..3 * group).step_by(group as usize) {
                let all: Vec<u64> = (0..16).collect();
                read_and_check(&store, &path, &data, &columns(start, group, &all)).await;
                assert!(store.state.lock().buffered <= budget);
            }
        }
        // Once the budget is full, later scans read as asked: what was fetched and not
        // used is at most the budget (no window here is idle long enough to be dropped).
        let asked = 10 * 3 * group;
        let io = counted.io();
        assert!(io.bytes_read <= asked + budget, "{io}");
    }

    #[test]
    fn coalescing_merges_nearby_ranges_in_order() {
        assert_eq!(
            coalesce(&[30..40, 0..10, 10..20, 5000..5100, 20..20], 100),
            vec![0..40, 5000..5100]
        );
        assert_eq!(coalesce(&[0..10, 111..120], 100), vec![0..10, 111..120]);
        assert!(coalesce(&[], 100).is_empty());
    }
}
