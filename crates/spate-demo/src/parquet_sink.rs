//! [`ParquetSink`]: writes one Parquet file under a temporary name and renames it into place.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterPropertiesBuilder;

use crate::error::{DemoError, Result};

/// One Parquet file being written.
///
/// Data goes to `.<name>.tmp` next to the target, so a reader never sees a half-written file
/// and an interrupted run leaves the previous file (if any) intact; [`ParquetSink::finish`]
/// renames it over the target. A sink dropped before `finish` (on an error) removes its
/// temporary file.
pub(crate) struct ParquetSink {
    path: PathBuf,
    tmp_path: PathBuf,
    schema: SchemaRef,
    /// `None` once finished.
    writer: Option<ArrowWriter<File>>,
    /// Whether the temporary file was renamed into place.
    renamed: bool,
}

/// The writer settings every file shares: SNAPPY and one row group of up to 1,048,576 rows.
pub(crate) fn base_properties() -> WriterPropertiesBuilder {
    parquet::file::properties::WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
}

impl ParquetSink {
    /// Creates the temporary file and the writer.
    pub(crate) fn create(
        path: &Path,
        schema: SchemaRef,
        properties: WriterPropertiesBuilder,
    ) -> Result<Self> {
        let file_name = path
            .file_name()
            .map_or_else(|| "part".into(), |name| name.to_string_lossy().into_owned());
        let tmp_path = path.with_file_name(format!(".{file_name}.tmp"));
        let file = File::create(&tmp_path).map_err(|source| DemoError::io(&tmp_path, source))?;
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(properties.build())).map_err(
            |source| DemoError::Parquet {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp_path,
            schema,
            writer: Some(writer),
            renamed: false,
        })
    }

    /// Appends one batch made of `columns`, in schema order.
    pub(crate) fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| {
            DemoError::Arrow {
                path: self.path.clone(),
                source,
            }
        })?;
        let Some(writer) = self.writer.as_mut() else {
            return Err(self.closed_error());
        };
        writer.write(&batch).map_err(|source| DemoError::Parquet {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the footer, renames the file into place and returns its size in bytes.
    pub(crate) fn finish(mut self) -> Result<u64> {
        let Some(mut writer) = self.writer.take() else {
            return Err(self.closed_error());
        };
        writer.finish().map_err(|source| DemoError::Parquet {
            path: self.path.clone(),
            source,
        })?;
        let bytes = writer.bytes_written() as u64;
        drop(writer);
        std::fs::rename(&self.tmp_path, &self.path)
            .map_err(|source| DemoError::io(&self.path, source))?;
        self.renamed = true;
        Ok(bytes)
    }

    fn closed_error(&self) -> DemoError {
        DemoError::Parquet {
            path: self.path.clone(),
            source: parquet::errors::ParquetError::General("writer already finished".into()),
        }
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        if !self.renamed {
            drop(self.writer.take());
            // Best effort: the error being returned matters more than a stray temporary file.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}
