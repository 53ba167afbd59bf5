//! Where finished map outputs wait for their readers.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryReservation;
use parking_lot::Mutex;

use super::spill::SpillFile;
use crate::error::ExecutorError;
use crate::stage::StageId;

/// The output of one map task: batches per reduce partition in memory, and what spilled.
#[derive(Debug)]
pub struct MapOutput {
    pub(crate) schema: SchemaRef,
    pub(crate) partitions: Vec<Vec<RecordBatch>>,
    pub(crate) spill: Option<SpillFile>,
    /// Holds the pool's grant for the in-memory batches until the output is dropped.
    pub(crate) reservation: MemoryReservation,
    pub(crate) rows: u64,
    pub(crate) spilled_bytes: u64,
}

impl MapOutput {
    /// Every batch of `partition`: the spilled ones first (they were written first).
    pub fn read(&self, partition: usize) -> Result<Vec<RecordBatch>> {
        let mut out = match &self.spill {
            Some(spill) => spill.read(partition)?,
            None => Vec::new(),
        };
        if let Some(batches) = self.partitions.get(partition) {
            out.extend(batches.iter().cloned());
        }
        Ok(out)
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.reservation.size()
    }

    /// The schema of its rows.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

/// The finished map outputs of a query's stages, shared by all its readers.
#[derive(Debug, Default)]
pub struct ShuffleStore {
    outputs: Mutex<HashMap<StageId, Vec<Option<Arc<MapOutput>>>>>,
}

impl ShuffleStore {
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

    /// Frees a stage's outputs once every reader is done with them.
    pub fn release(&self, stage: StageId) {
        self.outputs.lock().remove(&stage);
    }
}
