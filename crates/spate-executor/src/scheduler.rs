//! Running a stage graph.
//!
//! # Algorithm
//! Stages run in graph order, each once every stage it reads is done. A stage's tasks are
//! spawned onto the runtime at most `threads` at a time (`buffer_unordered`), so a worker
//! that finishes takes the next task at once. Map tasks write their output into the
//! shuffle store; the result stage's tasks return their batches, which are put back into
//! partition order. When a stage is done, the outputs it read are released. The first
//! failed task fails the query; dropping the query's future aborts every running task
//! (`SpawnedTask` aborts on drop) and drops the shuffle store with its spill files.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use futures::{StreamExt, TryStreamExt};

use crate::error::ExecutorError;
use crate::metrics::{QueryMetrics, StageMetrics};
use crate::planner::StageGraph;
use crate::shuffle::{ShuffleStore, Split, write_map_output};
use crate::stage::{Stage, StageEvent, StageOutputKind, StageState};

/// What one task produced.
enum TaskOutput {
    /// A map task's output went to the shuffle store; its figures.
    Shuffled {
        rows: u64,
        memory: u64,
        spilled: u64,
        files: u64,
    },
    /// A result task's batches.
    Result(Vec<RecordBatch>),
}

/// Runs every stage of `graph`; returns the result stage's batches in partition order.
pub(crate) async fn run_graph(
    graph: &StageGraph,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
    threads: usize,
) -> Result<(Vec<RecordBatch>, QueryMetrics)> {
    let mut metrics = QueryMetrics::default();
    let mut result = Vec::new();
    let mut states = vec![StageState::Waiting; graph.stages.len()];
    for stage in &graph.stages {
        let ready = stage.inputs.iter().all(|i| states[i.0] == StageState::Done);
        let runnable = states[stage.id.0]
            .next(StageEvent::InputsDone)
            .filter(|_| ready);
        states[stage.id.0] = runnable.ok_or_else(|| {
            DataFusionError::Internal(format!("stage {} scheduled before its inputs", stage.id))
        })?;
        let (batches, stage_metrics) = match run_stage(stage, store, ctx, threads).await {
            Ok(done) => done,
            Err(err) => {
                states[stage.id.0] = StageState::Failed;
                return Err(err);
            }
        };
        states[stage.id.0] = StageState::Done;
        for input in &stage.inputs {
            store.release(*input);
        }
        metrics.stages.push(stage_metrics);
        result = batches;
    }
    Ok((result, metrics))
}

async fn run_stage(
    stage: &Stage,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
    threads: usize,
) -> Result<(Vec<RecordBatch>, StageMetrics)> {
    let started = Instant::now();
    let tasks = stage.tasks();
    if !matches!(stage.output, StageOutputKind::Result) {
        store.open(stage.id, tasks);
    }
    let mut outputs: Vec<(usize, TaskOutput)> = futures::stream::iter(0..tasks)
        .map(|task| {
            let stage = stage.clone();
            let stage_id = stage.id;
            let store = Arc::clone(store);
            let ctx = Arc::clone(ctx);
            let spawned =
                SpawnedTask::spawn(async move { run_task(&stage, task, &store, &ctx).await });
            async move {
                match spawned.join().await {
                    Ok(output) => output.map(|o| (task, o)),
                    Err(join) => Err(DataFusionError::External(Box::new(
                        ExecutorError::TaskPanicked {
                            stage: stage_id,
                            task,
                            message: panic_message(join),
                        },
                    ))),
                }
            }
        })
        .buffer_unordered(threads.max(1))
        .try_collect()
        .await?;
    outputs.sort_by_key(|(task, _)| *task);
    let mut metrics = StageMetrics::new(stage.id, tasks);
    let mut batches = Vec::new();
    for (_, output) in outputs {
        match output {
            TaskOutput::Shuffled {
                rows,
                memory,
                spilled,
                files,
            } => {
                metrics.output_rows += rows;
                metrics.shuffle_memory_bytes += memory;
                metrics.spilled_bytes += spilled;
                metrics.spill_files += files;
            }
            TaskOutput::Result(mut task_batches) => {
                metrics.output_rows += task_batches
                    .iter()
                    .map(|b| b.num_rows() as u64)
                    .sum::<u64>();
                batches.append(&mut task_batches);
            }
        }
    }
    metrics.elapsed = started.elapsed();
    Ok((batches, metrics))
}

async fn run_task(
    stage: &Stage,
    task: usize,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> Result<TaskOutput> {
    let stream = stage.plan.execute(task, Arc::clone(ctx))?;
    let split = match &stage.output {
        StageOutputKind::Result => {
            let batches: Vec<RecordBatch> = stream.try_collect().await?;
            return Ok(TaskOutput::Result(batches));
        }
        StageOutputKind::Shuffle(partitioning) => Split::Partitioned(partitioning.clone()),
        StageOutputKind::PassThrough => Split::PassThrough,
    };
    let output = write_map_output(stage.id, task, stage.tasks(), split, stream, ctx).await?;
    let figures = TaskOutput::Shuffled {
        rows: output.rows,
        memory: output.memory_bytes() as u64,
        spilled: output.spilled_bytes,
        files: u64::from(output.spilled_bytes > 0),
    };
    store.put(stage.id, task, output);
    Ok(figures)
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into()),
        Err(join) => join.to_string(),
    }
}
