//! Writing one map task's output into the shuffle.
//!
//! # Algorithm
//! For each batch the task's plan produces: split it by the stage's partitioning with
//! DataFusion's `BatchPartitioner` (pass-through stages keep it whole, in partition
//! `task`), ask for the pieces' size (from the memory pool and within the query's shuffle
//! cap, see [`super::store`]), and keep them per partition. When the answer is no, keep
//! them anyway up to a small staging allowance, then spill everything held so far to the
//! task's spill file (one LZ4-compressed segment per partition), release the memory and
//! go on. At the end, small pieces are compacted into
//! batches of about the session's batch size, so reducers see full batches. The
//! in-memory size of every partition's rows is recorded, so that a reducer knows how big
//! its input is before it reads it.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::metrics::Time;
use datafusion::physical_plan::repartition::BatchPartitioner;
use futures::StreamExt;
use parking_lot::Mutex;

use super::store::{HeldMemory, MapOutput, ShuffleReservation, Slot};
use crate::batch_memory::{compact, sliced_size};
use crate::spill_file::SpillFile;
use crate::stage::StageId;

/// Bytes a map task may hold beyond what the pool grants it, when the pool or the
/// query's shuffle cap is exhausted, before it spills: so that spilled rows go out in
/// segments of many rows per partition, not one piece per input batch and partition
/// (a few dozen rows each with hundreds of partitions, each its own compressed IPC
/// stream). At most this much per running map task is outside the pool, and never in a
/// finished output.
const SPILL_STAGING: usize = 16 << 20;

/// Where a map task's rows go.
pub(crate) enum Split {
    /// By this partitioning, into its partitions.
    Partitioned(Partitioning),
    /// All into the partition the task executes, of as many as the stage's plan has.
    PassThrough,
}

/// Runs `stream` (map task `task` of `stage`, executing partition `partition` of the
/// stage's `partitions`) into a [`MapOutput`].
pub(crate) async fn write_map_output(
    stage: StageId,
    (task, partition): (usize, usize),
    partitions_planned: usize,
    split: Split,
    mut stream: SendableRecordBatchStream,
    ctx: &Arc<TaskContext>,
    cap: &Arc<HeldMemory>,
) -> Result<MapOutput> {
    let schema = stream.schema();
    let (partitions, mut partitioner) = match split {
        Split::Partitioned(partitioning) => (
            partitioning.partition_count(),
            Some(BatchPartitioner::try_new(
                partitioning,
                Time::new(),
                partition,
                partitions_planned,
            )?),
        ),
        Split::PassThrough => (partitions_planned, None),
    };
    // Not a spillable consumer to the pool: a fair pool divides spillable memory among
    // every registered spillable consumer, and a finished map output stays registered
    // until its readers take it, so hundreds of small outputs would shrink every sort's
    // and aggregation's share. The writer spills on its own, when the pool or the
    // query's shuffle cap says no.
    let pool = MemoryConsumer::new(format!("ShuffleWriter[stage {stage}, task {task}]"))
        .register(ctx.memory_pool());
    let mut reservation = ShuffleReservation::new(pool, Arc::clone(cap));
    let mut held: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    let mut partition_bytes = vec![0u64; partitions];
    let mut spill: Option<SpillFile> = None;
    let mut rows = 0u64;
    let mut spilled_bytes = 0u64;
    let spill_all = |held: &mut Vec<Vec<RecordBatch>>,
                     spill: &mut Option<SpillFile>,
                     reservation: &mut ShuffleReservation| {
        spill_held(held, spill, reservation, &schema, (stage, partitions), ctx)
    };
    // Bytes held without a reservation (see [`SPILL_STAGING`]).
    let mut staged = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let batch_rows = batch.num_rows().max(1);
        let batch_bytes = sliced_size(&batch);
        rows += batch.num_rows() as u64;
        let mut pieces: Vec<(usize, RecordBatch)> = Vec::new();
        match partitioner.as_mut() {
            Some(p) => p.partition(batch, |i, piece| {
                pieces.push((i, piece));
                Ok(())
            })?,
            None => pieces.push((partition, batch)),
        }
        for (partition, piece) in pieces {
            if piece.num_rows() == 0 {
                continue;
            }
            // The pieces are slices of one reordered batch, each reporting that batch's
            // whole buffers: its share of them is proportional to its rows.
            let size = batch_bytes * piece.num_rows() / batch_rows;
            partition_bytes[partition] += size as u64;
            if !reservation.try_grow(size) {
                // No memory for it: stage it while the allowance lasts, then spill
                // everything held at once and try again.
                let spill_now = staged + size > SPILL_STAGING;
                if spill_now {
                    spilled_bytes += spill_all(&mut held, &mut spill, &mut reservation)?;
                    staged = 0;
                }
                if !(spill_now && reservation.try_grow(size)) {
                    staged += size;
                }
            }
            held[partition].push(piece);
        }
    }
    // A finished output holds only what the pool granted: staged pieces get memory now
    // or go to disk.
    if staged > 0 && !reservation.try_grow(staged) {
        spilled_bytes += spill_all(&mut held, &mut spill, &mut reservation)?;
    }
    let batch_size = ctx.session_config().batch_size();
    let held = held
        .into_iter()
        .map(|batches| compact(batches, batch_size))
        .collect::<Result<Vec<_>>>()?;
    let memory: usize = held
        .iter()
        .flatten()
        .map(RecordBatch::get_array_memory_size)
        .sum();
    if memory < reservation.size() {
        reservation.shrink(reservation.size() - memory);
    } else {
        // Compaction may copy a little more than the pieces took; that much is kept
        // even past the cap, since the pieces it replaces are gone.
        let _ = reservation.try_grow(memory - reservation.size());
    }
    Ok(MapOutput {
        task,
        attempt: 1,
        schema,
        held: Mutex::new(held.into_iter().map(Slot::Held).collect()),
        spill,
        partition_bytes,
        reservation: Mutex::new(reservation),
        rows,
        spilled_bytes,
    })
}

fn spill_file<'a>(
    spill: &'a mut Option<SpillFile>,
    stage: StageId,
    partitions: usize,
    ctx: &Arc<TaskContext>,
) -> Result<&'a mut SpillFile> {
    if spill.is_none() {
        let purpose = format!("spate shuffle of stage {stage}");
        *spill = Some(SpillFile::create(ctx, &purpose, partitions)?);
    }
    spill
        .as_mut()
        .ok_or_else(|| DataFusionError::Internal("spill file missing".into()))
}

/// Moves every held batch into the spill file and frees its memory.
fn spill_held(
    held: &mut [Vec<RecordBatch>],
    spill: &mut Option<SpillFile>,
    reservation: &mut ShuffleReservation,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    (stage, partitions): (StageId, usize),
    ctx: &Arc<TaskContext>,
) -> Result<u64> {
    let file = spill_file(spill, stage, partitions, ctx)?;
    let mut bytes = 0;
    for (partition, batches) in held.iter_mut().enumerate() {
        if !batches.is_empty() {
            bytes += file.append(partition, schema, batches)?;
            batches.clear();
        }
    }
    reservation.free();
    Ok(bytes)
}
