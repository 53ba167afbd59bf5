//! Where finished map outputs wait for their readers, and the memory they hold.
//!
//! Shuffle output held in memory is counted twice: in the session's memory pool, like any
//! operator's, and against a query-wide cap ([`HeldMemory`]) that keeps the shuffle from
//! taking the room the operators of the next stage need (a hash join's build side cannot
//! spill, and the pool gives it only what spillable consumers leave). A reduce task
//! *takes* its partition: the batches move to the reader and their memory is released, so
//! the operator that buffers them accounts for them next.
//!
//! # Retries
//! A reduce task that fails after taking its partition must find it again on its retry.
//! Two ways were possible: re-run the map tasks that held it (lineage), or keep what was
//! taken. Lineage would re-run *every* map task of the input stage for one failed reader
//! (each holds a piece of every partition), so a store that retains ([`ShuffleStore::retaining`],
//! on whenever retries are) keeps the taken batches, *lent* ([`Slot::Lent`]), until the
//! stage's outputs are released, and a retry takes them again. Their memory is released
//! from the reservation as before (the reader's operators count what they keep), so
//! while a stage reads its input, the batches its finished readers no longer need stay
//! alive uncounted, at most what the shuffle held of that input in memory; spilled
//! segments are simply read again. Lineage is kept for what retention cannot cover: a
//! lost or corrupt map output ([`crate::lineage`]).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryReservation;
use parking_lot::Mutex;

use super::reader::ReadSpec;
use crate::error::ExecutorError;
use crate::spill_file::{SpillFile, SpillReader};
use crate::stage::StageId;

/// The query-wide cap on shuffle output held in memory.
#[derive(Debug)]
pub struct HeldMemory {
    held: AtomicUsize,
    cap: usize,
}

impl HeldMemory {
    /// A cap of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        HeldMemory {
            held: AtomicUsize::new(0),
            cap,
        }
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn try_hold(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.cap)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }
}

/// Memory held by one map output: granted by the pool and within the query's cap.
#[derive(Debug)]
pub(crate) struct ShuffleReservation {
    pool: MemoryReservation,
    cap: Arc<HeldMemory>,
}

impl ShuffleReservation {
    pub fn new(pool: MemoryReservation, cap: Arc<HeldMemory>) -> Self {
        ShuffleReservation { pool, cap }
    }

    /// Grows by `bytes` if both the cap and the pool allow it.
    pub fn try_grow(&mut self, bytes: usize) -> bool {
        if !self.cap.try_hold(bytes) {
            return false;
        }
        if self.pool.try_grow(bytes).is_err() {
            self.cap.release(bytes);
            return false;
        }
        true
    }

    /// Gives back up to `bytes`.
    pub fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.pool.size());
        self.pool.shrink(bytes);
        self.cap.release(bytes);
    }

    /// Gives back everything.
    pub fn free(&mut self) {
        self.shrink(self.pool.size());
    }

    pub fn size(&self) -> usize {
        self.pool.size()
    }
}

impl Drop for ShuffleReservation {
    fn drop(&mut self) {
        self.free();
    }
}

/// What a map output holds of one reduce partition in memory.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// Batches not yet read, counted in the reservation.
    Held(Vec<RecordBatch>),
    /// Batches read by a reader and kept for a retry of the task that read them (the
    /// store retains what it lends): no longer counted, since the reader's operators count
    /// them, and dropped with the stage's outputs.
    Lent(Vec<RecordBatch>),
    /// Read, and not retained.
    Taken,
    /// Lost (fault injection): reading it reports the map output lost.
    Lost,
}

/// Why a slot's batches in memory cannot be read.
enum Taken {
    /// A reader took them, and they were not retained.
    Already,
    /// They were lost (fault injection).
    Lost,
}

/// The output of one map task: batches per reduce partition in memory, and what spilled.
///
/// It keeps a slot for each reduce partition it has rows of, from `first` on: slot `i`
/// is reduce partition `first + i`, and of every other partition of its stage it has
/// no rows. A shuffle's output has a slot for every partition; a pass-through output
/// only one, for the partition its task executed, so that a stage of N pass-through
/// tasks keeps N slots, not N².
#[derive(Debug)]
pub struct MapOutput {
    /// The map task that wrote it.
    pub(crate) task: usize,
    /// The attempt of the map task that wrote it.
    pub(crate) attempt: u32,
    pub(crate) schema: SchemaRef,
    /// The reduce partitions of its stage's output.
    pub(crate) reduce_partitions: usize,
    /// The reduce partition of its first slot.
    pub(crate) first: usize,
    /// Per slot, the batches in memory.
    pub(crate) held: Mutex<Vec<Slot>>,
    /// Its spilled segments, per slot.
    pub(crate) spill: Option<SpillFile>,
    /// Per slot, the in-memory size of all its rows (held and spilled).
    pub(crate) partition_bytes: Vec<u64>,
    pub(crate) reservation: Mutex<ShuffleReservation>,
    pub(crate) rows: u64,
    pub(crate) spilled_bytes: u64,
}

impl MapOutput {
    /// The output of map task `task` that was skipped: no rows in any of `partitions`.
    pub(crate) fn empty(
        task: usize,
        schema: SchemaRef,
        partitions: usize,
        reservation: ShuffleReservation,
    ) -> Self {
        MapOutput {
            task,
            attempt: 1,
            schema,
            reduce_partitions: partitions,
            first: 0,
            held: Mutex::new(Vec::new()),
            spill: None,
            partition_bytes: Vec::new(),
            reservation: Mutex::new(reservation),
            rows: 0,
            spilled_bytes: 0,
        }
    }

    /// Takes every batch of `partition`: the spilled ones first (they were written
    /// first), then those in memory, whose memory is released. Without `retain` a
    /// partition can be taken once; with it, the batches in memory are kept (see
    /// [`Slot::Lent`]) and may be taken again by a retry. A block found lost or corrupt
    /// is reported as [`ExecutorError::MapOutputLost`].
    pub fn take(
        &self,
        stage: StageId,
        partition: usize,
        retain: bool,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        self.read(stage, partition, retain, false)
    }

    /// Reads every batch of `partition` like [`MapOutput::take`]; when `shared`, the
    /// batches in memory are copied (cheaply: Arrow arrays are shared) and stay for the
    /// other readers of the partition (the side of a skewed join partition that every
    /// slice reads), their memory held until the stage's outputs are released.
    pub fn read(
        &self,
        stage: StageId,
        partition: usize,
        retain: bool,
        shared: bool,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        let (task, attempt) = (self.task, self.attempt);
        let lost = move |reason: String| {
            DataFusionError::External(Box::new(ExecutorError::MapOutputLost {
                stage,
                task,
                attempt,
                partition,
                reason,
            }))
        };
        // A partition it has no slot for: no rows.
        let index = self.slot(stage, partition)?;
        let held = match index {
            Some(index) => self
                .take_held(index, retain, shared)
                .map_err(|taken| match taken {
                    Taken::Already => {
                        DataFusionError::External(Box::new(ExecutorError::PartitionTaken {
                            stage,
                            partition,
                        }))
                    }
                    Taken::Lost => lost("its block in memory was lost".into()),
                })?,
            None => Vec::new(),
        };
        // Any error reading the spill file (a checksum mismatch, a missing file) means
        // this output cannot be read back: the map task must run again.
        let spilled = index
            .and_then(|index| self.spill.as_ref().map(|spill| spill.read(index)))
            .into_iter()
            .flat_map(|reader: SpillReader| reader)
            .map(move |batch| batch.map_err(|e| lost(e.to_string())));
        Ok(spilled.chain(held.into_iter().map(Ok)))
    }

    /// The batches in memory of slot `index`, as [`MapOutput::read`] takes them.
    fn take_held(
        &self,
        index: usize,
        retain: bool,
        shared: bool,
    ) -> std::result::Result<Vec<RecordBatch>, Taken> {
        let mut slots = self.held.lock();
        let slot = &mut slots[index];
        match std::mem::replace(slot, Slot::Taken) {
            Slot::Held(batches) if shared => {
                *slot = Slot::Held(batches.clone());
                Ok(batches)
            }
            Slot::Held(batches) => {
                let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                self.reservation.lock().shrink(bytes);
                if retain {
                    *slot = Slot::Lent(batches.clone());
                }
                Ok(batches)
            }
            Slot::Lent(batches) => {
                *slot = Slot::Lent(batches.clone());
                Ok(batches)
            }
            Slot::Taken => Err(Taken::Already),
            Slot::Lost => {
                *slot = Slot::Lost;
                Err(Taken::Lost)
            }
        }
    }

    /// The slot of reduce partition `partition`, `None` if it has no rows of it; an error
    /// if its stage has no such partition.
    fn slot(&self, stage: StageId, partition: usize) -> Result<Option<usize>> {
        if partition >= self.reduce_partitions {
            return Err(DataFusionError::Internal(format!(
                "stage {stage} has no partition {partition}"
            )));
        }
        Ok(self.index_of(partition))
    }

    /// The slot of reduce partition `partition`, if it has one.
    fn index_of(&self, partition: usize) -> Option<usize> {
        partition
            .checked_sub(self.first)
            .filter(|index| *index < self.partition_bytes.len())
    }

    /// The reduce partitions it has slots for.
    pub(crate) fn slots(&self) -> Range<usize> {
        self.first..self.first + self.partition_bytes.len()
    }

    /// Whether it may have rows of reduce partition `partition`.
    pub(crate) fn covers(&self, partition: usize) -> bool {
        self.index_of(partition).is_some()
    }

    /// Whether it may have rows of some of `partitions`.
    fn covers_any(&self, partitions: &Range<usize>) -> bool {
        let slots = self.slots();
        !slots.is_empty() && slots.start < partitions.end && partitions.start < slots.end
    }

    /// The in-memory size of its rows of reduce partition `partition`.
    pub(crate) fn bytes_of(&self, partition: usize) -> u64 {
        self.index_of(partition)
            .map_or(0, |index| self.partition_bytes[index])
    }

    /// Loses the rows of `partition` held in memory, if any (fault injection); returns
    /// whether there were any.
    pub(crate) fn lose(&self, partition: usize) -> bool {
        let Some(index) = self.index_of(partition) else {
            return false;
        };
        let mut slots = self.held.lock();
        let Some(slot) = slots.get_mut(index) else {
            return false;
        };
        match slot {
            Slot::Held(batches) if !batches.is_empty() => {
                let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                self.reservation.lock().shrink(bytes);
                *slot = Slot::Lost;
                true
            }
            _ => false,
        }
    }

    /// An error if some block of it cannot be read back (lost, or a spilled segment
    /// whose checksum does not match).
    pub(crate) fn verify(&self, stage: StageId) -> Result<()> {
        let lost = |partition: usize, reason: String| {
            DataFusionError::External(Box::new(ExecutorError::MapOutputLost {
                stage,
                task: self.task,
                attempt: self.attempt,
                partition,
                reason,
            }))
        };
        if let Some(index) = self
            .held
            .lock()
            .iter()
            .position(|h| matches!(h, Slot::Lost))
        {
            return Err(lost(
                self.first + index,
                "its block in memory was lost".into(),
            ));
        }
        if let Some(spill) = &self.spill {
            for (index, partition) in self.slots().enumerate() {
                spill
                    .verify(index)
                    .map_err(|e| lost(partition, e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.reservation.lock().size()
    }

    /// The schema of its rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

/// The finished map outputs of a query's stages, shared by all its readers.
#[derive(Debug)]
pub struct ShuffleStore {
    outputs: Mutex<HashMap<StageId, Vec<Option<Arc<MapOutput>>>>>,
    memory: Arc<HeldMemory>,
    /// Keep the batches readers take until the stage is released, so a failed reader
    /// can be retried ([`MapOutput::take`]).
    retain: bool,
}

impl Default for ShuffleStore {
    fn default() -> Self {
        ShuffleStore::new(usize::MAX)
    }
}

impl ShuffleStore {
    /// A store whose map outputs hold at most `memory_cap` bytes in memory together.
    pub fn new(memory_cap: usize) -> Self {
        ShuffleStore {
            outputs: Mutex::default(),
            memory: Arc::new(HeldMemory::new(memory_cap)),
            retain: false,
        }
    }

    /// The same store, keeping what readers take for their retries when `retain` is set.
    pub fn retaining(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Whether readers' batches are kept for their retries.
    pub fn retains(&self) -> bool {
        self.retain
    }

    /// The cap that map outputs' memory counts against.
    pub fn memory(&self) -> &Arc<HeldMemory> {
        &self.memory
    }

    /// Makes room for the `tasks` map outputs of `stage`.
    pub fn open(&self, stage: StageId, tasks: usize) {
        self.outputs.lock().insert(stage, vec![None; tasks]);
    }

    /// Makes room for one more map output of `stage` (a task split off a running one).
    pub fn add_task(&self, stage: StageId) {
        if let Some(slots) = self.outputs.lock().get_mut(&stage) {
            slots.push(None);
        }
    }

    /// Keeps map task `task`'s output.
    pub fn put(&self, stage: StageId, task: usize, output: MapOutput) {
        if let Some(slot) = self
            .outputs
            .lock()
            .get_mut(&stage)
            .and_then(|v| v.get_mut(task))
        {
            *slot = Some(Arc::new(output));
        }
    }

    /// Every map output of `stage`, in task order (`None` for one discarded since, whose
    /// map task runs again); an error if the stage's outputs are not there.
    pub fn outputs(&self, stage: StageId) -> Result<Vec<Option<Arc<MapOutput>>>> {
        self.outputs.lock().get(&stage).cloned().ok_or_else(|| {
            DataFusionError::External(Box::new(ExecutorError::MissingStageOutput { stage }))
        })
    }

    /// The map outputs of `stage` that what `spec` reads comes from, with their tasks, in
    /// task order: those of its map tasks that have rows of its partitions, and those
    /// missing (`None`: discarded since, their map task runs again); an error if the
    /// stage's outputs are not there. A reader of a pass-through stage so looks at its
    /// own partition's outputs only, not at the N outputs of every other partition.
    pub fn outputs_for(
        &self,
        stage: StageId,
        spec: &ReadSpec,
    ) -> Result<Vec<(usize, Option<Arc<MapOutput>>)>> {
        let outputs = self.outputs.lock();
        let outputs = outputs.get(&stage).ok_or_else(|| {
            DataFusionError::External(Box::new(ExecutorError::MissingStageOutput { stage }))
        })?;
        let maps = spec.maps.clone().unwrap_or(0..outputs.len());
        let first = maps.start;
        Ok(outputs
            .get(maps)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, output)| match output {
                Some(output) => output.covers_any(&spec.partitions),
                None => true,
            })
            .map(|(i, output)| (first + i, output.clone()))
            .collect())
    }

    /// An error naming the first map output of `stage` that is missing or cannot be read
    /// back whole; run before a task that writes, so that it finds out before writing.
    pub fn verify(&self, stage: StageId) -> Result<()> {
        for (task, output) in self.outputs(stage)?.into_iter().enumerate() {
            match output {
                Some(output) => output.verify(stage)?,
                None => {
                    return Err(DataFusionError::External(Box::new(
                        ExecutorError::MapOutputLost {
                            stage,
                            task,
                            attempt: 0,
                            partition: 0,
                            reason: "it is missing".into(),
                        },
                    )));
                }
            }
        }
        Ok(())
    }

    /// The attempt that wrote map task `task`'s output of `stage`, if it is there.
    pub fn output_attempt(&self, stage: StageId, task: usize) -> Option<u32> {
        let outputs = self.outputs.lock();
        Some(outputs.get(&stage)?.get(task)?.as_ref()?.attempt)
    }

    /// Whether `stage`'s outputs are there (opened and not released).
    pub fn has_stage(&self, stage: StageId) -> bool {
        self.outputs.lock().contains_key(&stage)
    }

    /// Drops map task `task`'s output of `stage`, which is lost; its task runs again.
    pub fn discard(&self, stage: StageId, task: usize) {
        if let Some(slot) = self
            .outputs
            .lock()
            .get_mut(&stage)
            .and_then(|v| v.get_mut(task))
        {
            *slot = None;
        }
    }

    /// The in-memory size of reduce partition `partition` of `stage`, over all map
    /// outputs; `None` if the stage is not complete.
    pub fn partition_bytes(&self, stage: StageId, partition: usize) -> Option<u64> {
        let outputs = self.outputs.lock();
        outputs.get(&stage)?.iter().try_fold(0u64, |sum, output| {
            Some(sum + output.as_ref()?.bytes_of(partition))
        })
    }

    /// Per map output of `stage` in task order, the in-memory size of each reduce
    /// partition; `None` if the stage is not complete.
    pub fn map_partition_bytes(&self, stage: StageId) -> Option<Vec<Vec<u64>>> {
        let outputs = self.outputs.lock();
        outputs
            .get(&stage)?
            .iter()
            .map(|output| {
                let output = output.as_ref()?;
                Some(
                    (0..output.reduce_partitions)
                        .map(|p| output.bytes_of(p))
                        .collect(),
                )
            })
            .collect()
    }

    /// The in-memory size of what `spec` reads of `stage`; `None` if the stage is not
    /// complete.
    pub fn read_bytes(&self, stage: StageId, spec: &ReadSpec) -> Option<u64> {
        let outputs = self.outputs.lock();
        let outputs = outputs.get(&stage)?;
        let maps = spec.maps.clone().unwrap_or(0..outputs.len());
        outputs.get(maps)?.iter().try_fold(0u64, |sum, output| {
            let output = output.as_ref()?;
            Some(
                sum + spec
                    .partitions
                    .clone()
                    .map(|p| output.bytes_of(p))
                    .sum::<u64>(),
            )
        })
    }

    /// The in-memory size of all of `stage`'s output; `None` if the stage is not complete.
    pub fn stage_bytes(&self, stage: StageId) -> Option<u64> {
        let outputs = self.outputs.lock();
        outputs.get(&stage)?.iter().try_fold(0u64, |sum, output| {
            Some(sum + output.as_ref()?.partition_bytes.iter().sum::<u64>())
        })
    }

    /// Every batch of `stage`'s output, copied (cheaply: Arrow arrays are shared) and left
    /// for its readers; `None` unless the stage is complete, nothing of it spilled and
    /// nothing was read yet.
    pub fn held_batches(&self, stage: StageId) -> Option<Vec<RecordBatch>> {
        let outputs = self.outputs.lock().get(&stage)?.clone();
        let mut batches = Vec::new();
        for output in outputs {
            let output = output?;
            if output.spill.is_some() {
                return None;
            }
            for slot in output.held.lock().iter() {
                match slot {
                    Slot::Held(held) => batches.extend(held.iter().cloned()),
                    Slot::Lent(_) | Slot::Taken | Slot::Lost => return None,
                }
            }
        }
        Some(batches)
    }

    /// Frees a stage's outputs once every reader is done with them.
    pub fn release(&self, stage: StageId) {
        self.outputs.lock().remove(&stage);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_what_would_exceed_it_and_takes_back_what_is_released() {
        let cap = HeldMemory::new(100);
        assert!(cap.try_hold(60));
        assert!(!cap.try_hold(50));
        assert!(cap.try_hold(40));
        cap.release(70);
        assert_eq!(cap.held(), 30);
        cap.release(1000);
        assert_eq!(cap.held(), 0);
    }
}
