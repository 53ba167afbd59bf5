//! Helpers: sessions, real files, and reading results back.

use std::path::Path;
use std::sync::Arc;

use spate::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use spate::arrow::datatypes::{DataType, Field, Schema};
use spate::{ByteSize, Session};
use spate_connectors::object_stores::StoreConfig;

/// A session with 2 threads and a modest memory limit.
pub fn session() -> Session {
    Session::builder()
        .threads(2)
        .memory_limit(ByteSize::mib(256))
        .build()
        .unwrap()
}

/// A session whose object stores take `config`.
pub fn session_with(config: StoreConfig) -> Session {
    Session::builder()
        .threads(2)
        .storage(config)
        .build()
        .unwrap()
}

/// A batch with an Int64 column `id` and a Utf8 column `name`.
pub fn people(ids: &[i64], names: &[&str]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(StringArray::from(names.to_vec())),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Writes `batch` as a Parquet file at `path`, creating directories.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes text to `path`, creating directories.
pub fn write_text(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Rows as lines of `|`-separated cells, in result order.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    spate::io::string_rows(batches)
        .unwrap()
        .into_iter()
        .map(|cells| cells.join("|"))
        .collect()
}

/// Runs `sql` and returns its rows as lines.
pub async fn query(session: &Session, sql: &str) -> Vec<String> {
    let batches = session.sql(sql).await.unwrap().collect().await.unwrap();
    rows(&batches)
}

/// Runs `sql` and returns the error message it fails with.
pub async fn query_error(session: &Session, sql: &str) -> String {
    let result = match session.sql(sql).await {
        Ok(df) => df.collect().await.map(|_| ()),
        Err(err) => Err(err),
    };
    result.expect_err("the query should fail").to_string()
}
