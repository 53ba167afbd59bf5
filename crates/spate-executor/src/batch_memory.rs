//! How much memory a batch really holds, and owned copies of sliced batches.
//!
//! DataFusion's hash partitioner reorders a batch once and hands out each output
//! partition as a *slice* of it. `get_array_memory_size` counts a slice's whole
//! underlying buffers, so summing it over the slices of one batch counts that batch once
//! per partition; and a slice kept alone keeps the whole batch alive. The grace join
//! counts batches by [`sliced_size`] (the shuffle writer, which knows its pieces share one
//! batch, counts each by its share of that batch's `sliced_size`, cheaper per piece), and
//! both copy what they keep or write with [`owned`] or [`compact`]. String and binary
//! views count only the bytes they use, not the buffers they point into.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;

/// The bytes of `batch`'s rows: for a slice, its share of the buffers, not all of them.
pub(crate) fn sliced_size(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| {
            view_bytes(column.as_ref()).unwrap_or_else(|| {
                column
                    .to_data()
                    .get_slice_memory_size()
                    .unwrap_or_else(|_| column.get_array_memory_size())
            })
        })
        .sum()
}

/// The bytes a string or binary *view* column really uses: 16 per view, the values too
/// long to sit inline, and its nulls. Its data buffers may be shared with many other
/// arrays (a join's output points into its build side's buffers), so counting them
/// whole, as `get_array_memory_size` does, counts the same bytes once per batch, and a
/// shuffle or a join would spill gigabytes it never held. `None` for other types.
fn view_bytes(column: &dyn Array) -> Option<usize> {
    let views: &[u128] = match column.data_type() {
        DataType::Utf8View => column.as_string_view().views(),
        DataType::BinaryView => column.as_binary_view().views(),
        _ => return None,
    };
    // The low 32 bits of a view are its value's length; up to 12 bytes sit inline.
    let out_of_line: usize = views
        .iter()
        .map(|view| *view as u32 as usize)
        .filter(|len| *len > 12)
        .sum();
    let nulls = column.nulls().map_or(0, |n| n.buffer().len());
    Some(views.len() * 16 + out_of_line + nulls)
}

/// `batches` as one batch that owns exactly its rows' memory: concatenated when there are
/// several, copied when there is one slice of a larger batch, as it is otherwise.
///
/// String and binary *view* columns keep pointing into the data buffers of every batch
/// their values came from, even after a concatenation or a `take`; they are garbage
/// collected so that the result holds only its own strings.
pub(crate) fn owned(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let batch = match batches {
        [single] if single.get_array_memory_size() > sliced_size(single) * 3 / 2 => {
            let rows = u32::try_from(single.num_rows()).unwrap_or(u32::MAX);
            take_record_batch(single, &UInt32Array::from_iter_values(0..rows))?
        }
        [single] => single.clone(),
        many => concat_batches(schema, many.iter())?,
    };
    let has_views = batch
        .columns()
        .iter()
        .any(|c| c.as_string_view_opt().is_some() || c.as_binary_view_opt().is_some());
    if !has_views {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Utf8View => Arc::new(column.as_string_view().gc()) as ArrayRef,
            DataType::BinaryView => Arc::new(column.as_binary_view().gc()) as ArrayRef,
            _ => Arc::clone(column),
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// Runs of small batches concatenated into owned batches of about `target` rows.
pub(crate) fn compact(batches: Vec<RecordBatch>, target: usize) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut run: Vec<RecordBatch> = Vec::new();
    let mut run_rows = 0;
    for batch in batches {
        run_rows += batch.num_rows();
        run.push(batch);
        if run_rows >= target {
            out.push(owned(&run[0].schema(), &run)?);
            run.clear();
            run_rows = 0;
        }
    }
    if !run.is_empty() {
        out.push(owned(&run[0].schema(), &run)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn a_slice_counts_its_share_and_its_owned_copy_holds_only_that() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..10_000)),
                Arc::new(StringArray::from_iter_values(
                    (0..10_000).map(|i| format!("row {i}")),
                )),
            ],
        )
        .unwrap();
        let slice = batch.slice(100, 100);
        assert!(sliced_size(&slice) * 50 < slice.get_array_memory_size());
        let copy = owned(&schema, std::slice::from_ref(&slice)).unwrap();
        assert_eq!(copy, slice);
        assert!(copy.get_array_memory_size() < sliced_size(&batch) / 20);
    }

    #[test]
    fn string_views_gathered_from_many_batches_keep_only_their_own_strings() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let batches: Vec<RecordBatch> = (0..10)
            .map(|b| {
                let strings = (0..5_000).map(|i| format!("a long enough string {b} {i}"));
                let column = StringViewArray::from_iter_values(strings);
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(column)]).unwrap()
            })
            .collect();
        let pieces: Vec<RecordBatch> = batches.iter().map(|b| b.slice(0, 10)).collect();
        let copy = owned(&schema, &pieces).unwrap();
        assert_eq!(copy.num_rows(), 100);
        let whole: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        assert!(
            copy.get_array_memory_size() * 100 < whole,
            "{}",
            copy.get_array_memory_size()
        );
    }

    #[test]
    fn views_into_shared_buffers_count_only_the_strings_they_use() {
        let strings = (0..10_000).map(|i| format!("a value longer than twelve bytes {i}"));
        let big = StringViewArray::from_iter_values(strings);
        // A few rows gathered from it share all of its data buffers.
        let taken = datafusion::arrow::compute::take(&big, &UInt32Array::from(vec![1, 5, 9]), None)
            .unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "s",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![taken]).unwrap();
        let used = sliced_size(&batch);
        let expected = 3 * 16
            + (0..3)
                .map(|i| format!("a value longer than twelve bytes {}", [1, 5, 9][i]).len())
                .sum::<usize>();
        assert_eq!(used, expected);
        assert!(batch.get_array_memory_size() > 100 * used);
    }
}
