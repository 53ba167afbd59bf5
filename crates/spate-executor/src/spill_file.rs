//! [`SpillFile`]: one file of LZ4-compressed Arrow IPC stream segments, with an index.
//!
//! A spill file holds rows for a fixed number of partitions (a shuffle's reduce
//! partitions, or a grace join's buckets). Each [`SpillFile::append`] writes one
//! self-contained IPC stream segment for one partition at the end of the file and records
//! its byte range; [`SpillFile::read`] streams a partition's segments back batch by
//! batch, so reading never holds more than one batch per reader in memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Take, Write};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SpillFile as TempFile;
use datafusion::execution::TaskContext;

use crate::batch_memory::compact;

/// Rows spilled for a fixed set of partitions. See the module doc.
pub struct SpillFile {
    /// Keeps the temp file alive; it is deleted when the last holder drops it.
    _file: Arc<dyn TempFile>,
    path: PathBuf,
    /// Per partition, the byte ranges of its segments.
    index: Vec<Vec<(u64, u64)>>,
    len: u64,
    /// Rows per batch written: the session's batch size.
    batch_rows: usize,
}

impl std::fmt::Debug for SpillFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl SpillFile {
    /// A new, empty spill file for `partitions` partitions from the session's disk
    /// manager (its spill directory); `purpose` names it in the disk manager.
    pub fn create(ctx: &TaskContext, purpose: &str, partitions: usize) -> Result<Self> {
        let file = ctx.runtime_env().disk_manager.create_tmp_file(purpose)?;
        let path = file
            .path()
            .ok_or_else(|| DataFusionError::Internal("spilling needs a local disk".into()))?
            .to_path_buf();
        Ok(SpillFile {
            _file: file,
            path,
            index: vec![Vec::new(); partitions],
            len: 0,
            batch_rows: ctx.session_config().batch_size().max(1),
        })
    }

    /// Appends `batches`, compacted into owned batches of about the session's batch size,
    /// as one segment of `partition`; returns the bytes written.
    pub fn append(
        &mut self,
        partition: usize,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<u64> {
        if batches.is_empty() {
            return Ok(0);
        }
        let mut bytes = Vec::new();
        {
            let options = IpcWriteOptions::default()
                .try_with_compression(Some(CompressionType::LZ4_FRAME))?;
            let mut writer = StreamWriter::try_new_with_options(&mut bytes, schema, options)?;
            for batch in compact(batches.to_vec(), self.batch_rows)? {
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io_error("write", e))?;
        file.write_all(&bytes)
            .map_err(|e| self.io_error("write", e))?;
        let len = bytes.len() as u64;
        self.index[partition].push((self.len, len));
        self.len += len;
        Ok(len)
    }

    /// Bytes on disk.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The batches spilled for `partition`, in the order they were written, read lazily.
    pub fn read(&self, partition: usize) -> SpillReader {
        SpillReader {
            path: self.path.clone(),
            segments: self
                .index
                .get(partition)
                .cloned()
                .unwrap_or_default()
                .into(),
            current: None,
        }
    }

    fn io_error(&self, action: &str, source: std::io::Error) -> DataFusionError {
        // An I/O error keeps its kind (a full disk stays recognisable), with the file named.
        DataFusionError::IoError(std::io::Error::new(
            source.kind(),
            format!(
                "cannot {action} spill file {}: {source}",
                self.path.display()
            ),
        ))
    }
}

/// The batches of one partition of a [`SpillFile`], read segment by segment.
pub struct SpillReader {
    path: PathBuf,
    segments: VecDeque<(u64, u64)>,
    current: Option<StreamReader<BufReader<Take<File>>>>,
}

impl SpillReader {
    fn open(&self, offset: u64, len: u64) -> Result<StreamReader<BufReader<Take<File>>>> {
        let error = |e: std::io::Error| {
            DataFusionError::Execution(format!(
                "cannot read spill file {}: {e}",
                self.path.display()
            ))
        };
        let mut file = File::open(&self.path).map_err(error)?;
        file.seek(SeekFrom::Start(offset)).map_err(error)?;
        Ok(StreamReader::try_new(BufReader::new(file.take(len)), None)?)
    }
}

impl Iterator for SpillReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(reader) = self.current.as_mut() {
                match reader.next() {
                    Some(batch) => return Some(batch.map_err(DataFusionError::from)),
                    None => self.current = None,
                }
            }
            let (offset, len) = self.segments.pop_front()?;
            match self.open(offset, len) {
                Ok(reader) => self.current = Some(reader),
                Err(err) => {
                    self.segments.clear();
                    return Some(Err(err));
                }
            }
        }
    }
}
