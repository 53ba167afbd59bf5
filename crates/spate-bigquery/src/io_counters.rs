//! [`BigQueryIo`]: what a session moved to and from each BigQuery table — streams, rows and
//! bytes — for `--metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one table, shared by its scans and writes.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    read_sessions: AtomicU64,
    read_streams: AtomicU64,
    rows_received: AtomicU64,
    bytes_received: AtomicU64,
    write_streams: AtomicU64,
    rows_sent: AtomicU64,
    bytes_sent: AtomicU64,
}

impl IoCounters {
    pub fn read_session(&self, streams: usize) {
        self.read_sessions.fetch_add(1, Ordering::Relaxed);
        self.read_streams
            .fetch_add(streams as u64, Ordering::Relaxed);
    }

    pub fn received(&self, rows: usize, bytes: usize) {
        self.rows_received.fetch_add(rows as u64, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn write_stream(&self) {
        self.write_streams.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sent(&self, rows: usize, bytes: usize) {
        self.rows_sent.fetch_add(rows as u64, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self, table: &str) -> BigQueryIo {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BigQueryIo {
            table: table.to_string(),
            read_sessions: get(&self.read_sessions),
            read_streams: get(&self.read_streams),
            rows_received: get(&self.rows_received),
            bytes_received: get(&self.bytes_received),
            write_streams: get(&self.write_streams),
            rows_sent: get(&self.rows_sent),
            bytes_sent: get(&self.bytes_sent),
        }
    }
}

/// What was read from and written to one BigQuery table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BigQueryIo {
    /// The table, `project.dataset.table`.
    pub table: String,
    /// Read sessions created (one per scan).
    pub read_sessions: u64,
    /// Read streams of those sessions.
    pub read_streams: u64,
    /// Rows received.
    pub rows_received: u64,
    /// Bytes of Arrow record batches received.
    pub bytes_received: u64,
    /// Write streams created (one per writing task).
    pub write_streams: u64,
    /// Rows appended.
    pub rows_sent: u64,
    /// Bytes of Arrow record batches appended.
    pub bytes_sent: u64,
}

impl BigQueryIo {
    /// The counts since `before` (an earlier snapshot of the same table).
    pub fn since(&self, before: &BigQueryIo) -> BigQueryIo {
        BigQueryIo {
            table: self.table.clone(),
            read_sessions: self.read_sessions - before.read_sessions.min(self.read_sessions),
            read_streams: self.read_streams - before.read_streams.min(self.read_streams),
            rows_received: self.rows_received - before.rows_received.min(self.rows_received),
            bytes_received: self.bytes_received - before.bytes_received.min(self.bytes_received),
            write_streams: self.write_streams - before.write_streams.min(self.write_streams),
            rows_sent: self.rows_sent - before.rows_sent.min(self.rows_sent),
            bytes_sent: self.bytes_sent - before.bytes_sent.min(self.bytes_sent),
        }
    }

    /// Whether nothing moved.
    pub fn is_empty(&self) -> bool {
        self.read_sessions == 0 && self.write_streams == 0
    }
}
