//! Writing one map task's output into the shuffle.
//!
//! # Algorithm
//! For each batch the task's plan produces: split it by the stage's partitioning with
//! DataFusion's `BatchPartitioner` (pass-through stages keep it whole, in partition
//! `task`), ask the memory pool for the pieces' size, and keep them per partition. When
//! the pool says no, spill everything held so far to the task's spill file (one segment
//! per partition), release the memory and go on. At the end, small pieces are compacted
//! into batches of about the session's batch size, so reducers see full batches.

use std::sync::Arc;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::metrics::Time;
use datafusion::physical_plan::repartition::BatchPartitioner;
use futures::StreamExt;

use super::spill::SpillFile;
use super::store::MapOutput;
use crate::stage::StageId;

/// Where a map task's rows go.
pub(crate) enum Split {
    /// By this partitioning, into its partitions.
    Partitioned(Partitioning),
    /// All into partition `task` of `tasks`.
    PassThrough,
}

/// Runs `stream` (map task `task` of `tasks` in `stage`) into a [`MapOutput`].
pub(crate) async fn write_map_output(
    stage: StageId,
    task: usize,
    tasks: usize,
    split: Split,
    mut stream: SendableRecordBatchStream,
    ctx: &Arc<TaskContext>,
) -> Result<MapOutput> {
    let schema = stream.schema();
    let (partitions, mut partitioner) = match split {
        Split::Partitioned(partitioning) => (
            partitioning.partition_count(),
            Some(BatchPartitioner::try_new(
                partitioning,
                Time::new(),
                task,
                tasks,
            )?),
        ),
        Split::PassThrough => (tasks, None),
    };
    let mut reservation = MemoryConsumer::new(format!("ShuffleWriter[stage {stage}, task {task}]"))
        .with_can_spill(true)
        .register(ctx.memory_pool());
    let mut held: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
    let mut spill: Option<SpillFile> = None;
    let mut rows = 0u64;
    let mut spilled_bytes = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        let mut pieces: Vec<(usize, RecordBatch)> = Vec::new();
        match partitioner.as_mut() {
            Some(p) => p.partition(batch, |i, piece| {
                pieces.push((i, piece));
                Ok(())
            })?,
            None => pieces.push((task, batch)),
        }
        for (partition, piece) in pieces {
            if piece.num_rows() == 0 {
                continue;
            }
            let size = piece.get_array_memory_size();
            if reservation.try_grow(size).is_err() {
                spilled_bytes += spill_held(
                    &mut held,
                    &mut spill,
                    &mut reservation,
                    &schema,
                    partitions,
                    ctx,
                )?;
                if reservation.try_grow(size).is_err() {
                    let file = spill_file(&mut spill, partitions, ctx)?;
                    spilled_bytes +=
                        file.append(partition, &schema, std::slice::from_ref(&piece))?;
                    continue;
                }
            }
            held[partition].push(piece);
        }
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
    reservation.resize(memory);
    Ok(MapOutput {
        schema,
        partitions: held,
        spill,
        reservation,
        rows,
        spilled_bytes,
    })
}

fn spill_file<'a>(
    spill: &'a mut Option<SpillFile>,
    partitions: usize,
    ctx: &Arc<TaskContext>,
) -> Result<&'a mut SpillFile> {
    if spill.is_none() {
        let file = ctx
            .runtime_env()
            .disk_manager
            .create_tmp_file("spate shuffle")?;
        *spill = Some(SpillFile::new(file, partitions)?);
    }
    spill
        .as_mut()
        .ok_or_else(|| DataFusionError::Internal("spill file missing".into()))
}

/// Moves every held batch into the spill file and frees its memory.
fn spill_held(
    held: &mut [Vec<RecordBatch>],
    spill: &mut Option<SpillFile>,
    reservation: &mut MemoryReservation,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    partitions: usize,
    ctx: &Arc<TaskContext>,
) -> Result<u64> {
    let file = spill_file(spill, partitions, ctx)?;
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

/// Concatenates runs of small batches into batches of about `target` rows.
fn compact(batches: Vec<RecordBatch>, target: usize) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut run: Vec<RecordBatch> = Vec::new();
    let mut run_rows = 0;
    for batch in batches {
        run_rows += batch.num_rows();
        run.push(batch);
        if run_rows >= target {
            out.push(concat_run(&mut run)?);
            run_rows = 0;
        }
    }
    if !run.is_empty() {
        out.push(concat_run(&mut run)?);
    }
    Ok(out)
}

fn concat_run(run: &mut Vec<RecordBatch>) -> Result<RecordBatch> {
    let batch = match run.as_slice() {
        [single] => single.clone(),
        many => concat_batches(&many[0].schema(), many.iter())?,
    };
    run.clear();
    Ok(batch)
}
