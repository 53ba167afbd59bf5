//! Errors of the executor. They cross into DataFusion as `DataFusionError::External`.

use crate::stage::StageId;

/// An error of the executor.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// A task panicked; the panic is contained and reported as this error.
    #[error("task {task} of stage {stage} panicked: {message}")]
    TaskPanicked {
        stage: StageId,
        task: usize,
        message: String,
    },
    /// A task was cancelled before it finished (the query is being dropped).
    #[error("task {task} of stage {stage} was cancelled")]
    TaskCancelled { stage: StageId, task: usize },
    /// A shuffle reader ran before the stage it reads had finished (a scheduling bug).
    #[error("stage {stage} was read before it finished")]
    MissingStageOutput { stage: StageId },
    /// A reduce partition was read twice (a planning bug: each is read once).
    #[error("partition {partition} of stage {stage} was already read")]
    PartitionTaken { stage: StageId, partition: usize },
    /// One block of a map output cannot be read: it is missing, or its bytes do not match
    /// their checksum. The map task that wrote it runs again ([`crate::lineage`]).
    #[error(
        "the output of map task {task} of stage {stage} for partition {partition} is lost: {reason}"
    )]
    MapOutputLost {
        stage: StageId,
        task: usize,
        /// The attempt that wrote the output; 0 when it was missing.
        attempt: u32,
        partition: usize,
        reason: String,
    },
    /// A spill file segment does not hold the bytes that were written.
    #[error(
        "spill file {path} is corrupt: the segment at byte {offset} has checksum {actual:#010x}, {expected:#010x} was written"
    )]
    ChecksumMismatch {
        path: String,
        offset: u64,
        expected: u32,
        actual: u32,
    },
    /// A task failed on every attempt it was allowed; `last` is its last error.
    /// (It is not this error's `source()`, so that DataFusion's `find_root`, which users'
    /// messages are made from, stops here and keeps the count.)
    #[error("task {task} of stage {stage} failed {attempts} times (retries: {retries}): {last}")]
    RetriesExhausted {
        stage: StageId,
        task: usize,
        attempts: u32,
        retries: usize,
        last: Box<datafusion::error::DataFusionError>,
    },
    /// A stage whose partitions are coupled (see `retry::has_coupled_partitions`) ran
    /// whole `runs` times, and each time one of its tasks failed; `last` is the last
    /// error. (Not its `source()`, like [`ExecutorError::RetriesExhausted`].)
    #[error(
        "stage {stage} ran {runs} times and a task failed each time (retries: {retries}): {last}"
    )]
    StageRerunsExhausted {
        stage: StageId,
        runs: usize,
        retries: usize,
        last: Box<datafusion::error::DataFusionError>,
    },
    /// A failure injected on purpose ([`crate::faults`]).
    #[error("injected failure of task {task} of stage {stage}, attempt {attempt}")]
    InjectedFailure {
        stage: StageId,
        task: usize,
        attempt: u32,
    },
}
