//! Formats of query results.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use parquet::arrow::ArrowWriter;

use crate::error::{Result, SpateError};

/// How query results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// A boxed table for people.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet (files only).
    Parquet,
}

impl ResultFormat {
    /// Parses `table`, `csv`, `json`, `ndjson` or `parquet`.
    ///
    /// ```
    /// assert_eq!(spate::io::ResultFormat::parse("NDJSON").unwrap(), spate::io::ResultFormat::Ndjson);
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "ndjson" | "jsonl" => Ok(Self::Ndjson),
            "parquet" => Ok(Self::Parquet),
            _ => Err(SpateError::InvalidOption {
                option: "format".into(),
                value: name.to_string(),
                reason: "expected table, csv, json, ndjson or parquet".into(),
            }),
        }
    }

    /// The format a file name's extension stands for.
    ///
    /// ```
    /// use std::path::Path;
    /// assert_eq!(spate::io::ResultFormat::from_path(Path::new("out/r.parquet")), Some(spate::io::ResultFormat::Parquet));
    /// ```
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            "parquet" | "parq" => Some(Self::Parquet),
            "txt" => Some(Self::Table),
            _ => None,
        }
    }
}

/// Writes `batches` to `out` in `format`. Empty results still write their header (CSV,
/// table) or an empty array (JSON).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// # let session = spate::Session::new()?;
/// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
/// let batches = df.clone().collect().await?;
/// let mut out = Vec::new();
/// spate::io::write_result(spate::io::ResultFormat::Csv, &df.schema(), &batches, &mut out)?;
/// assert_eq!(String::from_utf8(out).unwrap(), "id,name,price\n1,a,2.0\n2,b,3.0\n");
/// # Ok(()) }
/// ```
pub fn write_result(
    format: ResultFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<()> {
    let stdout_error = |e: std::io::Error| SpateError::Io {
        path: "<output>".into(),
        source: e,
    };
    match format {
        ResultFormat::Table => {
            let text = format_table(schema, batches)?;
            writeln!(out, "{text}").map_err(stdout_error)?;
        }
        ResultFormat::Csv => {
            let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut *out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for batch in batches {
                writer.write(batch)?;
            }
        }
        ResultFormat::Json => {
            // The writer itself writes `[]` for no rows.
            let mut writer = ArrayWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(out).map_err(stdout_error)?;
        }
        ResultFormat::Ndjson => {
            let mut writer = LineDelimitedWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        ResultFormat::Parquet => {
            return Err(SpateError::InvalidOption {
                option: "format".into(),
                value: "parquet".into(),
                reason: "Parquet results go to a file named NAME.parquet, not to a stream".into(),
            });
        }
    }
    out.flush().map_err(stdout_error)
}

fn write_parquet(
    file: std::fs::File,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<std::fs::File> {
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None).map_err(parquet_error)?;
    for batch in batches {
        writer.write(batch).map_err(parquet_error)?;
    }
    writer.into_inner().map_err(parquet_error)
}

/// Writes results to the file at `path` in one piece: into a hidden file beside it, then
/// renamed over it, so a failure leaves no partial file. The directory must exist.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// # let session = spate::Session::new()?;
/// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
/// let dir = tempfile::tempdir().unwrap();
/// let batches = df.clone().collect().await?;
/// let path = dir.path().join("r.json");
/// spate::io::write_result_file(&path, spate::io::ResultFormat::Json, &df.schema(), &batches)?;
/// assert!(std::fs::read_to_string(&path).unwrap().starts_with("[{\"id\":1"));
/// # Ok(()) }
/// ```
pub fn write_result_file(
    path: &Path,
    format: ResultFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(SpateError::PathNotFound {
            path: parent.display().to_string(),
        });
    }
    let io_err = |source| SpateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let temp = parent.join(format!(".{name}.spate-{}.tmp", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(io_err)?;
        let file = if format == ResultFormat::Parquet {
            write_parquet(file, schema, batches)?
        } else {
            let mut buffered = std::io::BufWriter::new(file);
            write_result(format, schema, batches, &mut buffered)?;
            buffered.into_inner().map_err(|e| io_err(e.into_error()))?
        };
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&temp, path).map_err(io_err)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Results as rows of cells formatted by Arrow, nulls as `NULL`: for comparing results
/// (tests, benchmarks) and for simple printing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// let session = spate::Session::new()?;
/// let batches = session.sql("select 1 as a, null as b").await?.collect().await?;
/// assert_eq!(spate::io::string_rows(&batches)?, vec![vec!["1".to_string(), "NULL".to_string()]]);
/// # Ok(()) }
/// ```
pub fn string_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// Results as a boxed table.
pub(crate) fn format_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    Ok(pretty_format_batches_with_schema(schema.clone(), batches)?.to_string())
}

fn parquet_error(err: parquet::errors::ParquetError) -> SpateError {
    SpateError::DataFusion(datafusion::error::DataFusionError::ParquetError(Box::new(
        err,
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int32Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn sample() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap();
        (schema, vec![batch])
    }

    fn render(format: ResultFormat, batches: &[RecordBatch]) -> String {
        let (schema, _) = sample();
        let mut out = Vec::new();
        write_result(format, &schema, batches, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_formats() {
        let (_, batches) = sample();
        assert_eq!(render(ResultFormat::Csv, &batches), "id,name\n1,a\n2,\n");
        assert_eq!(
            render(ResultFormat::Json, &batches),
            "[{\"id\":1,\"name\":\"a\"},{\"id\":2}]\n"
        );
        assert_eq!(
            render(ResultFormat::Ndjson, &batches),
            "{\"id\":1,\"name\":\"a\"}\n{\"id\":2}\n"
        );
        assert!(render(ResultFormat::Table, &batches).contains("| 1  | a    |"));
    }

    #[test]
    fn empty_results_keep_their_shape() {
        assert_eq!(render(ResultFormat::Csv, &[]), "id,name\n");
        assert_eq!(render(ResultFormat::Json, &[]), "[]\n");
        assert!(render(ResultFormat::Table, &[]).contains("| id | name |"));
    }

    #[test]
    fn formats_from_names() {
        assert_eq!(
            ResultFormat::from_path(Path::new("x/out.PARQUET")),
            Some(ResultFormat::Parquet)
        );
        assert_eq!(ResultFormat::from_path(Path::new("x/out")), None);
        assert!(ResultFormat::parse("xml").is_err());
    }
}
