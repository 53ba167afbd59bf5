//! [`BucketSplitter`]: splits one join input into `k` buckets on disk by a seeded hash of
//! its join keys.
//!
//! # Algorithm
//! For each batch: evaluate the join keys, hash them with DataFusion's `create_hashes`
//! under a seed that differs from the shuffle's and from every other grace level (rows
//! of one shuffle partition share their shuffle hash modulo the partition count, so
//! reusing it would put them all in a few buckets), and take each bucket's rows. Pieces
//! are buffered per bucket and, whenever the buffers together reach `flush_bytes`,
//! concatenated into one batch per bucket and appended to the spill file as that
//! bucket's segment. Equal keys always land in the same bucket, on both sides of the
//! join, so joining bucket `i` with bucket `i` for every `i` joins everything.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExprRef;

use crate::spill_file::SpillFile;

/// A join input split into buckets on disk.
#[derive(Debug)]
pub(crate) struct SplitInput {
    pub file: Arc<SpillFile>,
    /// Per bucket, the in-memory size of its rows.
    pub bucket_bytes: Vec<u64>,
}

/// Splits batches into buckets; see the module doc.
pub(crate) struct BucketSplitter {
    keys: Vec<PhysicalExprRef>,
    random_state: RandomState,
    schema: SchemaRef,
    file: SpillFile,
    buffered: Vec<Vec<RecordBatch>>,
    buffered_bytes: usize,
    flush_bytes: usize,
    bucket_bytes: Vec<u64>,
    hashes: Vec<u64>,
}

impl BucketSplitter {
    /// A splitter into `buckets` buckets by `keys` hashed with `seed`, flushing its
    /// buffers to a new spill file whenever they hold `flush_bytes`.
    pub fn try_new(
        ctx: &TaskContext,
        schema: SchemaRef,
        keys: Vec<PhysicalExprRef>,
        seed: u64,
        buckets: usize,
        flush_bytes: usize,
    ) -> Result<Self> {
        Ok(BucketSplitter {
            keys,
            random_state: RandomState::with_seed(seed),
            file: SpillFile::create(ctx, "spate grace hash join", buckets)?,
            schema,
            buffered: vec![Vec::new(); buckets],
            buffered_bytes: 0,
            flush_bytes,
            bucket_bytes: vec![0; buckets],
            hashes: Vec::new(),
        })
    }

    /// Adds one batch.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let keys = self
            .keys
            .iter()
            .map(|key| key.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        self.hashes.clear();
        self.hashes.resize(rows, 0);
        create_hashes(&keys, &self.random_state, &mut self.hashes)?;
        let buckets = self.buffered.len() as u64;
        let mut indices: Vec<Vec<u32>> = vec![Vec::new(); self.buffered.len()];
        for (row, hash) in self.hashes.iter().enumerate() {
            indices[(hash % buckets) as usize].push(row as u32);
        }
        for (bucket, rows) in indices.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let piece = take_record_batch(batch, &UInt32Array::from(rows))?;
            let size = piece.get_array_memory_size();
            self.bucket_bytes[bucket] += size as u64;
            self.buffered_bytes += size;
            self.buffered[bucket].push(piece);
        }
        if self.buffered_bytes >= self.flush_bytes {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every buffered piece out and returns the split input.
    pub fn finish(mut self) -> Result<SplitInput> {
        self.flush()?;
        Ok(SplitInput {
            file: Arc::new(self.file),
            bucket_bytes: self.bucket_bytes,
        })
    }

    fn flush(&mut self) -> Result<()> {
        for (bucket, pieces) in self.buffered.iter_mut().enumerate() {
            if pieces.is_empty() {
                continue;
            }
            self.file.append(bucket, &self.schema, pieces)?;
            pieces.clear();
        }
        self.buffered_bytes = 0;
        Ok(())
    }
}
