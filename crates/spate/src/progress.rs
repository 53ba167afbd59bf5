//! Live counters of the statement running now, for progress displays.
//!
//! The executor updates them a few times a second from the scans' metrics; a display (the
//! CLI's spinner) reads [`Progress::snapshot`] on its own clock. Nothing here blocks.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the running statement has read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Time since the statement started.
    pub elapsed: Duration,
    /// Rows produced by scans so far.
    pub rows_read: u64,
    /// Bytes read from files so far.
    pub bytes_read: u64,
}

/// Counters shared between the executor and a display. See the module doc.
#[derive(Debug, Default)]
pub struct Progress {
    started: Mutex<Option<Instant>>,
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    /// The running statement's figures, or `None` when no statement runs.
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// let progress = session.progress();
    /// assert_eq!(progress.snapshot(), None); // no statement running
    /// ```
    pub fn snapshot(&self) -> Option<ProgressSnapshot> {
        let started = (*self.started.lock().ok()?)?;
        Some(ProgressSnapshot {
            elapsed: started.elapsed(),
            rows_read: self.rows.load(Ordering::Relaxed),
            bytes_read: self.bytes.load(Ordering::Relaxed),
        })
    }

    pub(crate) fn start(&self) {
        self.rows.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        if let Ok(mut started) = self.started.lock() {
            *started = Some(Instant::now());
        }
    }

    pub(crate) fn update(&self, rows: u64, bytes: u64) {
        self.rows.store(rows, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn finish(&self) {
        if let Ok(mut started) = self.started.lock() {
            *started = None;
        }
    }
}
