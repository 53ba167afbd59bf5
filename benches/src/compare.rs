//! Results as comparable text: one line per row, cells formatted by Arrow.

use spate::arrow::record_batch::RecordBatch;

/// The rows of `batches`, in order, as `|`-joined cells.
pub fn canonical_rows(batches: &[RecordBatch]) -> Result<Vec<String>, String> {
    Ok(spate::io::string_rows(batches)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|cells| cells.join("|"))
        .collect())
}

/// The first difference between two results, or `None` when they are equal.
pub fn first_difference(a: &[String], b: &[String]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} rows vs {} rows", a.len(), b.len()));
    }
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| format!("row {i}: {} vs {}", a[i], b[i]))
}
