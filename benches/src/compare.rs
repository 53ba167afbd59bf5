//! Results as comparable text: one line per row, cells formatted by Arrow.

use spate::arrow::record_batch::RecordBatch;
use spate::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The rows of `batches`, in order, as `|`-joined cells.
pub fn canonical_rows(batches: &[RecordBatch]) -> Result<Vec<String>, String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            rows.push(cells.join("|"));
        }
    }
    Ok(rows)
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
