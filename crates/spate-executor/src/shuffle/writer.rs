//! [`ShuffleWriterExec`]: the sink at the root of a map stage's plan, writing one map
//! task's output into the shuffle.
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
//!
//! ```text
//!   input partition p ──► batch ──► BatchPartitioner ──► pieces by reduce partition
//!                                                           │ the pool grants it?
//!                               held[0] held[1] ... ◄───────┤ yes: held in memory
//!                                                           │ no: staged, up to 16 MiB,
//!   spill file: [seg 0][seg 1]...[seg 0]... ◄── all held ───┘     then all held spill
//!   end: staged pieces get memory or spill; held pieces compacted ──► MapOutput
//! ```

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{
    ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::repartition::BatchPartitioner;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::StreamExt;
use parking_lot::Mutex;

use super::store::{HeldMemory, MapOutput, ShuffleReservation, ShuffleStore, Slot};
use crate::batch_memory::{compact, sliced_size};
use crate::spill_file::SpillFile;
use crate::stage::{StageId, StageOutputKind};

/// Bytes a map task may hold beyond what the pool grants it, when the pool or the
/// query's shuffle cap is exhausted, before it spills: so that spilled rows go out in
/// segments of many rows per partition, not one piece per input batch and partition
/// (a few dozen rows each with hundreds of partitions, each its own compressed IPC
/// stream). At most this much per running map task is outside the pool, and never in a
/// finished output.
const SPILL_STAGING: usize = 16 << 20;

/// The sink of a map stage, at the root of its plan: task `t` of the stage runs
/// partition `p` of its input (the stage's body) and writes the rows into the
/// [`ShuffleStore`] as the stage's map output `t`, split among the reduce partitions
/// (see the module doc for the algorithm: partitioning, memory, spilling, compaction).
///
/// It returns no rows: its readers are the stage's [`super::ShuffleReaderExec`]s, once
/// the stage is done. It promises its input's properties (schema, partitioning,
/// orderings), so that what looks at a stage's root plan (an adaptive rewrite checking
/// that an order is kept) sees what the stage computes. The scheduler calls
/// [`ShuffleWriterExec::write`] and puts the output into the store itself, after its
/// fault injection; [`ExecutionPlan::execute`] does both, for anyone else running it.
///
/// Its metrics are the rows it wrote and the bytes it kept in memory and spilled, per
/// task; they are named apart from DataFusion's spill metrics (`shuffle_spilled_bytes`),
/// which count operators' spills.
#[derive(Debug)]
pub struct ShuffleWriterExec {
    input: Arc<dyn ExecutionPlan>,
    stage: StageId,
    /// Where rows go: a partitioning, or pass-through.
    output: StageOutputKind,
    store: Arc<ShuffleStore>,
    metrics: ExecutionPlanMetricsSet,
}

impl ShuffleWriterExec {
    /// The sink of map stage `stage`, writing `input`'s rows into `store` as `output`
    /// says; an error for a result stage's output, which no one shuffles.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        stage: StageId,
        output: StageOutputKind,
        store: Arc<ShuffleStore>,
    ) -> Result<Self> {
        if matches!(output, StageOutputKind::Result) {
            return Err(DataFusionError::Internal(format!(
                "stage {stage}: a result stage has no shuffle writer"
            )));
        }
        Ok(ShuffleWriterExec {
            input,
            stage,
            output,
            store,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The plan whose rows it writes: the stage's body.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    /// The stage whose output it writes.
    pub fn stage(&self) -> StageId {
        self.stage
    }

    /// Where its rows go.
    pub fn output(&self) -> &StageOutputKind {
        &self.output
    }

    /// The same writer over `input`.
    pub fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Self {
        ShuffleWriterExec {
            input,
            stage: self.stage,
            output: self.output.clone(),
            store: Arc::clone(&self.store),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// Runs partition `partition` of its input as map task `task` and returns the task's
    /// output, not yet in the store.
    pub(crate) async fn write(
        &self,
        task: usize,
        partition: usize,
        ctx: &Arc<TaskContext>,
    ) -> Result<MapOutput> {
        let split = match &self.output {
            StageOutputKind::Shuffle(partitioning) => Split::Partitioned(partitioning.clone()),
            StageOutputKind::PassThrough | StageOutputKind::Result => Split::PassThrough,
        };
        let planned = self.input.output_partitioning().partition_count();
        let stream = self.input.execute(partition, Arc::clone(ctx))?;
        let output = write_map_output(
            self.stage,
            (task, partition),
            planned,
            split,
            stream,
            ctx,
            self.store.memory(),
        )
        .await?;
        let metric = |name: &'static str| MetricBuilder::new(&self.metrics).counter(name, task);
        metric("rows_written").add(output.rows as usize);
        metric("bytes_in_memory").add(output.memory_bytes());
        metric("shuffle_spilled_bytes").add(output.spilled_bytes as usize);
        Ok(output)
    }
}

impl DisplayAs for ShuffleWriterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShuffleWriterExec: stage={}, ", self.stage)?;
        match &self.output {
            StageOutputKind::Shuffle(partitioning) => write!(f, "partitioning={partitioning}"),
            StageOutputKind::PassThrough | StageOutputKind::Result => write!(
                f,
                "pass-through={}",
                self.input.output_partitioning().partition_count()
            ),
        }
    }
}

impl ExecutionPlan for ShuffleWriterExec {
    fn name(&self) -> &str {
        "ShuffleWriterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        match &self.output {
            StageOutputKind::Shuffle(Partitioning::Hash(exprs, _)) => {
                let mut recursion = TreeNodeRecursion::Continue;
                for expr in exprs {
                    recursion = f(expr)?;
                    if recursion == TreeNodeRecursion::Stop {
                        break;
                    }
                }
                Ok(recursion)
            }
            _ => Ok(TreeNodeRecursion::Continue),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(self.with_input(input))),
            _ => Err(DataFusionError::Internal(
                "ShuffleWriterExec has one child".into(),
            )),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// Writes partition `partition` as map task `partition` into the store; the stream
    /// ends without rows once the output is there.
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let writer = self.with_input(Arc::clone(&self.input));
        let writer = ShuffleWriterExec {
            metrics: self.metrics.clone(),
            ..writer
        };
        let done = async move {
            let output = writer.write(partition, partition, &context).await?;
            writer.store.put(writer.stage, partition, output);
            Ok(())
        };
        let nothing = futures::stream::once(done).filter_map(|written: Result<()>| {
            futures::future::ready(written.err().map(Err::<RecordBatch, _>))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            nothing,
        )))
    }
}
/// Where a map task's rows go.
pub(crate) enum Split {
    /// By this partitioning, into its partitions.
    Partitioned(Partitioning),
    /// All into the partition the task executes, of as many as the stage's plan has: the
    /// output keeps one slot, for that partition.
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
    // The reduce partitions of the stage, the first one this output has rows of, and
    // how many from there on.
    let (reduce_partitions, first, slots, mut partitioner) = match split {
        Split::Partitioned(partitioning) => (
            partitioning.partition_count(),
            0,
            partitioning.partition_count(),
            Some(BatchPartitioner::try_new(
                partitioning,
                Time::new(),
                partition,
                partitions_planned,
            )?),
        ),
        Split::PassThrough => (partitions_planned, partition, 1, None),
    };
    // Not a spillable consumer to the pool: a fair pool divides spillable memory among
    // every registered spillable consumer, and a finished map output stays registered
    // until its readers take it, so hundreds of small outputs would shrink every sort's
    // and aggregation's share. The writer spills on its own, when the pool or the
    // query's shuffle cap says no.
    let pool = MemoryConsumer::new(format!("ShuffleWriter[stage {stage}, task {task}]"))
        .register(ctx.memory_pool());
    let mut pending = PendingOutput {
        stage,
        schema: stream.schema(),
        ctx,
        reservation: ShuffleReservation::new(pool, Arc::clone(cap)),
        reduce_partitions,
        first,
        held: vec![Vec::new(); slots],
        partition_bytes: vec![0; slots],
        spill: None,
        rows: 0,
        spilled_bytes: 0,
        staged: 0,
    };
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let batch_rows = batch.num_rows().max(1);
        let batch_bytes = sliced_size(&batch);
        pending.rows += batch.num_rows() as u64;
        let mut pieces: Vec<(usize, RecordBatch)> = Vec::new();
        match partitioner.as_mut() {
            Some(p) => p.partition(batch, |i, piece| {
                pieces.push((i, piece));
                Ok(())
            })?,
            None => pieces.push((0, batch)),
        }
        for (slot, piece) in pieces {
            // The pieces are slices of one reordered batch, each reporting that batch's
            // whole buffers: its share of them is proportional to its rows.
            let size = batch_bytes * piece.num_rows() / batch_rows;
            pending.add(slot, piece, size)?;
        }
    }
    pending.finish(task)
}

/// A map output being written: the pieces held per slot (see [`MapOutput`]) and what
/// spilled.
struct PendingOutput<'a> {
    stage: StageId,
    schema: SchemaRef,
    ctx: &'a Arc<TaskContext>,
    reservation: ShuffleReservation,
    reduce_partitions: usize,
    first: usize,
    held: Vec<Vec<RecordBatch>>,
    partition_bytes: Vec<u64>,
    spill: Option<SpillFile>,
    rows: u64,
    spilled_bytes: u64,
    /// Bytes held without a reservation (see [`SPILL_STAGING`]).
    staged: usize,
}

impl PendingOutput<'_> {
    /// Keeps `piece` of slot `slot`, `size` bytes of memory: reserved if the pool grants
    /// it, else staged while the allowance lasts, else after spilling everything held so
    /// far.
    fn add(&mut self, slot: usize, piece: RecordBatch, size: usize) -> Result<()> {
        if piece.num_rows() == 0 {
            return Ok(());
        }
        self.partition_bytes[slot] += size as u64;
        if !self.reservation.try_grow(size) {
            // No memory for it: stage it while the allowance lasts, then spill
            // everything held at once and try again.
            let spill_now = self.staged + size > SPILL_STAGING;
            if spill_now {
                self.spill_all()?;
                self.staged = 0;
            }
            if !(spill_now && self.reservation.try_grow(size)) {
                self.staged += size;
            }
        }
        self.held[slot].push(piece);
        Ok(())
    }

    /// Moves everything held into the spill file.
    fn spill_all(&mut self) -> Result<()> {
        let partitions = self.held.len();
        self.spilled_bytes += spill_held(
            &mut self.held,
            &mut self.spill,
            &mut self.reservation,
            &self.schema,
            (self.stage, partitions),
            self.ctx,
        )?;
        Ok(())
    }

    /// The finished output of map task `task`: it holds only what the pool granted
    /// (staged pieces get memory now or go to disk), in compacted batches.
    fn finish(mut self, task: usize) -> Result<MapOutput> {
        if self.staged > 0 && !self.reservation.try_grow(self.staged) {
            self.spill_all()?;
        }
        let batch_size = self.ctx.session_config().batch_size();
        let held = std::mem::take(&mut self.held)
            .into_iter()
            .map(|batches| compact(batches, batch_size))
            .collect::<Result<Vec<_>>>()?;
        let memory: usize = held
            .iter()
            .flatten()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        let reservation = &mut self.reservation;
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
            schema: self.schema,
            reduce_partitions: self.reduce_partitions,
            first: self.first,
            held: Mutex::new(held.into_iter().map(Slot::Held).collect()),
            spill: self.spill,
            partition_bytes: self.partition_bytes,
            reservation: Mutex::new(self.reservation),
            rows: self.rows,
            spilled_bytes: self.spilled_bytes,
        })
    }
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    use super::*;

    /// Two input partitions of rows 0..10 and 10..20.
    fn input() -> Arc<dyn ExecutionPlan> {
        let batch = |values: std::ops::Range<i64>| {
            let column = Arc::new(Int64Array::from_iter_values(values)) as ArrayRef;
            RecordBatch::try_from_iter([("v", column)]).unwrap()
        };
        let (first, second) = (batch(0..10), batch(10..20));
        let schema = first.schema();
        MemorySourceConfig::try_new_exec(&[vec![first], vec![second]], schema, None).unwrap()
    }

    #[tokio::test]
    async fn executing_the_writer_puts_each_partition_into_the_store_and_returns_no_rows() {
        let input = input();
        let key = col("v", &input.schema()).unwrap();
        let output = StageOutputKind::Shuffle(Partitioning::Hash(vec![key], 3));
        let store = Arc::new(ShuffleStore::default());
        let writer = ShuffleWriterExec::try_new(input, StageId(4), output, Arc::clone(&store));
        let writer: Arc<dyn ExecutionPlan> = Arc::new(writer.unwrap());
        let shown = displayable(writer.as_ref()).indent(true).to_string();
        assert!(
            shown.starts_with("ShuffleWriterExec: stage=4, partitioning=Hash([v@0], 3)"),
            "{shown}"
        );
        store.open(StageId(4), 2);
        let ctx = SessionContext::new().task_ctx();
        let batches = collect(Arc::clone(&writer), ctx).await.unwrap();
        assert!(batches.is_empty());
        let outputs = store.outputs(StageId(4)).unwrap();
        let rows: Vec<u64> = outputs.iter().flatten().map(|o| o.rows).collect();
        assert_eq!(rows, [10, 10]);
        assert_eq!(outputs[0].as_ref().map(|o| o.slots()), Some(0..3));
        let metrics = writer.metrics().unwrap();
        let written = metrics.sum_by_name("rows_written").map(|v| v.as_usize());
        assert_eq!(written, Some(20));
        // Its figures are not an operator's spill.
        assert_eq!(metrics.spilled_bytes(), None);
    }

    #[tokio::test]
    async fn a_pass_through_output_keeps_one_slot_and_its_readers_look_at_their_own() {
        let store = Arc::new(ShuffleStore::default());
        let writer = ShuffleWriterExec::try_new(
            input(),
            StageId(2),
            StageOutputKind::PassThrough,
            Arc::clone(&store),
        );
        let writer: Arc<dyn ExecutionPlan> = Arc::new(writer.unwrap());
        store.open(StageId(2), 2);
        collect(writer, SessionContext::new().task_ctx())
            .await
            .unwrap();
        let outputs = store.outputs(StageId(2)).unwrap();
        let slots: Vec<_> = outputs.iter().flatten().map(|o| o.slots()).collect();
        assert_eq!(slots, [0..1, 1..2]);
        // Reduce partition 1 is map task 1's output alone.
        let spec = super::super::reader::ReadSpec::whole(1);
        let for_one = store.outputs_for(StageId(2), &spec).unwrap();
        assert_eq!(
            for_one.iter().map(|(task, _)| *task).collect::<Vec<_>>(),
            [1]
        );
        let rows = |task: usize, partition: usize| -> Result<usize> {
            let output = outputs[task].as_ref().unwrap();
            output
                .read(StageId(2), partition, true, false)?
                .map(|b| b.map(|b| b.num_rows()))
                .sum()
        };
        assert_eq!(rows(1, 1).unwrap(), 10);
        assert_eq!(rows(1, 0).unwrap(), 0);
        assert_eq!(rows(0, 0).unwrap(), 10);
        // The stage has two reduce partitions, not three.
        assert!(rows(0, 2).is_err());
        assert_eq!(
            store.partition_bytes(StageId(2), 1),
            Some(outputs[1].as_ref().unwrap().bytes_of(1))
        );
        assert!(outputs[1].as_ref().unwrap().bytes_of(1) > 0);
        assert_eq!(outputs[1].as_ref().unwrap().bytes_of(0), 0);
    }

    #[test]
    fn a_result_stage_has_no_writer() {
        let store = Arc::new(ShuffleStore::default());
        let writer =
            ShuffleWriterExec::try_new(input(), StageId(0), StageOutputKind::Result, store);
        assert!(writer.is_err());
    }
}
