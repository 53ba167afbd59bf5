//! Where finished map outputs wait for their readers, and the memory they hold.
//!
//! Shuffle output held in memory is counted twice: in the session's memory pool, like any
//! operator's, and against a query-wide cap ([`HeldMemory`]) that keeps the shuffle from
//! taking the room the operators of the next stage need (a hash join's build side cannot
//! spill, and the pool gives it only what spillable consumers leave). A reduce task
//! *takes* its partition: the batches move to the reader and their memory is released, so
//! the operator that buffers them accounts for them next.

use std::collections::HashMap;
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

/// The output of one map task: batches per reduce partition in memory, and what spilled.
#[derive(Debug)]
pub struct MapOutput {
    pub(crate) schema: SchemaRef,
    /// Per reduce partition, the batches in memory; `None` once a reader took them.
    pub(crate) held: Mutex<Vec<Option<Vec<RecordBatch>>>>,
    pub(crate) spill: Option<SpillFile>,
    /// Per reduce partition, the in-memory size of all its rows (held and spilled).
    pub(crate) partition_bytes: Vec<u64>,
    pub(crate) reservation: Mutex<ShuffleReservation>,
    pub(crate) rows: u64,
    pub(crate) spilled_bytes: u64,
}

impl MapOutput {
    /// The output of a map task that was skipped: no rows in any of `partitions`.
    pub(crate) fn empty(
        schema: SchemaRef,
        partitions: usize,
        reservation: ShuffleReservation,
    ) -> Self {
        MapOutput {
            schema,
            held: Mutex::new(vec![Some(Vec::new()); partitions]),
            spill: None,
            partition_bytes: vec![0; partitions],
            reservation: Mutex::new(reservation),
            rows: 0,
            spilled_bytes: 0,
        }
    }

    /// Takes every batch of `partition`: the spilled ones first (they were written
    /// first), then those in memory, whose memory is released. A partition can be taken
    /// once.
    pub fn take(
        &self,
        stage: StageId,
        partition: usize,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        self.read(stage, partition, false)
    }

    /// Reads every batch of `partition` like [`MapOutput::take`]; when `shared`, the
    /// batches in memory are copied (cheaply: Arrow arrays are shared) and stay for the
    /// other readers of the partition, their memory held until the stage is released.
    pub fn read(
        &self,
        stage: StageId,
        partition: usize,
        shared: bool,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        let taken = || {
            DataFusionError::External(Box::new(ExecutorError::PartitionTaken { stage, partition }))
        };
        let held = {
            let mut held = self.held.lock();
            let slot = held.get_mut(partition).ok_or_else(taken)?;
            if shared {
                slot.clone().ok_or_else(taken)?
            } else {
                slot.take().ok_or_else(taken)?
            }
        };
        if !shared {
            let bytes: usize = held.iter().map(RecordBatch::get_array_memory_size).sum();
            self.reservation.lock().shrink(bytes);
        }
        let spilled = self.spill.as_ref().map(|spill| spill.read(partition));
        Ok(spilled
            .into_iter()
            .flat_map(|reader: SpillReader| reader)
            .chain(held.into_iter().map(Ok)))
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
        }
    }

    /// The cap that map outputs' memory counts against.
    pub fn memory(&self) -> &Arc<HeldMemory> {
        &self.memory
    }

    /// Makes room for the `tasks` map outputs of `stage`.
    pub fn open(&self, stage: StageId, tasks: usize) {
        self.outputs.lock().insert(stage, vec![None; tasks]);
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

    /// Every map output of `stage`, in task order; an error if the stage is not complete.
    pub fn outputs(&self, stage: StageId) -> Result<Vec<Arc<MapOutput>>> {
        let missing =
            || DataFusionError::External(Box::new(ExecutorError::MissingStageOutput { stage }));
        let outputs = self.outputs.lock();
        outputs
            .get(&stage)
            .ok_or_else(missing)?
            .iter()
            .map(|o| o.clone().ok_or_else(missing))
            .collect()
    }

    /// The in-memory size of reduce partition `partition` of `stage`, over all map
    /// outputs; `None` if the stage is not complete.
    pub fn partition_bytes(&self, stage: StageId, partition: usize) -> Option<u64> {
        let outputs = self.outputs.lock();
        outputs.get(&stage)?.iter().try_fold(0u64, |sum, output| {
            let output = output.as_ref()?;
            Some(sum + output.partition_bytes.get(partition).copied().unwrap_or(0))
        })
    }

    /// Per map output of `stage` in task order, the in-memory size of each reduce
    /// partition; `None` if the stage is not complete.
    pub fn map_partition_bytes(&self, stage: StageId) -> Option<Vec<Vec<u64>>> {
        let outputs = self.outputs.lock();
        outputs
            .get(&stage)?
            .iter()
            .map(|output| Some(output.as_ref()?.partition_bytes.clone()))
            .collect()
    }

    /// The in-memory size of what `spec` reads of `stage`; `None` if the stage is not
    /// complete.
    pub fn read_bytes(&self, stage: StageId, spec: &ReadSpec) -> Option<u64> {
        let outputs = self.outputs.lock();
        let outputs = outputs.get(&stage)?;
        let maps = spec.maps.clone().unwrap_or(0..outputs.len());
        outputs.get(maps)?.iter().try_fold(0u64, |sum, output| {
            let sizes = &output.as_ref()?.partition_bytes;
            Some(
                sum + sizes
                    .get(spec.partitions.clone())
                    .map_or(0, |s| s.iter().sum()),
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
