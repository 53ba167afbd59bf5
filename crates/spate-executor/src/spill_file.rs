//! [`SpillFile`]: one file of LZ4-compressed Arrow IPC stream segments, with an index.
//!
//! A spill file holds rows for a fixed number of partitions (a shuffle's reduce
//! partitions, or a grace join's buckets). Each [`SpillFile::append`] writes one
//! self-contained IPC stream segment for one partition at the end of the file and records
//! its byte range and CRC-32 checksum; [`SpillFile::read`] streams a partition's segments
//! back, one segment at a time: a segment is read whole, its checksum verified, and only
//! then decoded batch by batch, so no row of a corrupt segment is ever handed on (a
//! mismatch is an [`ExecutorError::ChecksumMismatch`]). A reader holds at most one
//! compressed segment and one batch in memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
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
use crate::error::ExecutorError;

/// One segment of a spill file: where it lies and the CRC-32 of its bytes.
#[derive(Debug, Clone, Copy)]
struct Segment {
    offset: u64,
    len: u64,
    crc: u32,
}

/// Rows spilled for a fixed set of partitions. See the module doc.
pub struct SpillFile {
    /// Keeps the temp file alive; it is deleted when the last holder drops it.
    _file: Arc<dyn TempFile>,
    path: PathBuf,
    /// Per partition, its segments: byte ranges and checksums.
    index: Vec<Vec<Segment>>,
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
        let segment = Segment {
            offset: self.len,
            len,
            crc: crc32fast::hash(&bytes),
        };
        self.index
            .get_mut(partition)
            .ok_or_else(|| DataFusionError::Internal(format!("no spill partition {partition}")))?
            .push(segment);
        self.len += len;
        Ok(len)
    }

    /// Bytes on disk.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The number of segments spilled for `partition`.
    pub fn segments(&self, partition: usize) -> usize {
        self.index.get(partition).map_or(0, Vec::len)
    }

    /// Overwrites a few bytes in the middle of segment `segment` of `partition` with
    /// their complement, leaving its recorded checksum as it was (fault injection).
    pub fn corrupt(&self, partition: usize, segment: usize) -> Result<()> {
        let Some(seg) = self.index.get(partition).and_then(|s| s.get(segment)) else {
            return Ok(());
        };
        let at = seg.offset + seg.len / 2;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| self.io_error("corrupt", e))?;
        let mut bytes = [0u8; 4];
        let n = (seg.len - seg.len / 2).min(4) as usize;
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut bytes[..n]))
            .map_err(|e| self.io_error("corrupt", e))?;
        let flipped: Vec<u8> = bytes[..n].iter().map(|b| !b).collect();
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.write_all(&flipped))
            .map_err(|e| self.io_error("corrupt", e))
    }

    /// Checks the checksums of `partition`'s segments without decoding them.
    pub fn verify(&self, partition: usize) -> Result<()> {
        let reader = self.read(partition);
        for segment in &reader.segments {
            reader.open(*segment)?;
        }
        Ok(())
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
    segments: VecDeque<Segment>,
    current: Option<StreamReader<Cursor<Vec<u8>>>>,
}

impl SpillReader {
    /// Reads `segment` whole and checks its checksum before decoding anything.
    fn open(&self, segment: Segment) -> Result<StreamReader<Cursor<Vec<u8>>>> {
        let error = |e: std::io::Error| {
            DataFusionError::IoError(std::io::Error::new(
                e.kind(),
                format!("cannot read spill file {}: {e}", self.path.display()),
            ))
        };
        let mut file = File::open(&self.path).map_err(error)?;
        file.seek(SeekFrom::Start(segment.offset)).map_err(error)?;
        let mut bytes = Vec::with_capacity(usize::try_from(segment.len).unwrap_or(0));
        file.take(segment.len)
            .read_to_end(&mut bytes)
            .map_err(error)?;
        let actual = crc32fast::hash(&bytes);
        if bytes.len() as u64 != segment.len || actual != segment.crc {
            return Err(DataFusionError::External(Box::new(
                ExecutorError::ChecksumMismatch {
                    path: self.path.display().to_string(),
                    offset: segment.offset,
                    expected: segment.crc,
                    actual,
                },
            )));
        }
        Ok(StreamReader::try_new(Cursor::new(bytes), None)?)
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
            let segment = self.segments.pop_front()?;
            match self.open(segment) {
                Ok(reader) => self.current = Some(reader),
                Err(err) => {
                    self.segments.clear();
                    return Some(Err(err));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn a_corrupt_segment_is_reported_and_no_row_of_it_is_read() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from_iter_values(0..1000))],
        )?;
        let ctx = TaskContext::default();
        let mut file = SpillFile::create(&ctx, "test", 2)?;
        file.append(0, &schema, std::slice::from_ref(&batch))?;
        file.append(1, &schema, std::slice::from_ref(&batch))?;
        let rows = |p| -> Result<usize> {
            file.read(p)
                .map(|b| b.map(|b| b.num_rows()))
                .sum::<Result<usize>>()
        };
        assert_eq!(rows(0)?, 1000);
        assert_eq!(file.segments(1), 1);
        file.corrupt(1, 0)?;
        assert_eq!(rows(0)?, 1000);
        let mut read = file.read(1);
        let err = read.next().and_then(Result::err).map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("checksum")),
            "{err:?}"
        );
        assert!(read.next().is_none());
        Ok(())
    }
}
