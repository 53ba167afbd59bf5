//! A map task's spill file: IPC stream segments appended to one file, with an index.

use std::io::{Read, Seek, SeekFrom, Write};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::SpillFile as TempFile;

/// One map task's spilled output. See the module doc of [`super`].
pub struct SpillFile {
    /// Keeps the temp file alive; it is deleted when the last holder drops it.
    _file: Arc<dyn TempFile>,
    path: PathBuf,
    /// Per reduce partition, the byte ranges of its segments.
    index: Vec<Vec<(u64, u64)>>,
    len: u64,
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
    pub fn new(file: Arc<dyn TempFile>, partitions: usize) -> Result<Self> {
        let path = file
            .path()
            .ok_or_else(|| DataFusionError::Internal("shuffle spill needs a local disk".into()))?
            .to_path_buf();
        Ok(SpillFile {
            _file: file,
            path,
            index: vec![Vec::new(); partitions],
            len: 0,
        })
    }

    /// Appends `batches` as one segment of `partition`; returns the bytes written.
    pub fn append(
        &mut self,
        partition: usize,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<u64> {
        let mut bytes = Vec::new();
        {
            let options = IpcWriteOptions::default();
            let mut writer = StreamWriter::try_new_with_options(&mut bytes, schema, options)?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(DataFusionError::IoError)?;
        file.write_all(&bytes).map_err(DataFusionError::IoError)?;
        let len = bytes.len() as u64;
        self.index[partition].push((self.len, len));
        self.len += len;
        Ok(len)
    }

    /// The batches spilled for `partition`, in the order they were written.
    pub fn read(&self, partition: usize) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        let Some(segments) = self.index.get(partition) else {
            return Ok(out);
        };
        let mut file = std::fs::File::open(&self.path).map_err(DataFusionError::IoError)?;
        for &(offset, len) in segments {
            let mut bytes = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(offset))
                .map_err(DataFusionError::IoError)?;
            file.read_exact(&mut bytes)
                .map_err(DataFusionError::IoError)?;
            let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
            for batch in reader {
                out.push(batch?);
            }
        }
        Ok(out)
    }
}
