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
    /// A shuffle reader ran before the stage it reads had finished (a scheduling bug).
    #[error("stage {stage} was read before it finished")]
    MissingStageOutput { stage: StageId },
    /// A reduce partition was read twice (a planning bug: each is read once).
    #[error("partition {partition} of stage {stage} was already read")]
    PartitionTaken { stage: StageId, partition: usize },
}
