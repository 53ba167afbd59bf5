//! The driver: a thin async loop that spawns the task attempts the state machine
//! ([`QueryRun`]) hands out, aborts those it names, and feeds every attempt's end back
//! to it as an event. It takes no decision of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use futures::future::{AbortHandle, Abortable};
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};

use super::query_run::{Action, AttemptId, QueryRun, RunOptions, TaskOutput, TaskReport, TaskSpec};
use crate::error::ExecutorError;
use crate::faults::{Draw, FaultInjection, Fraction, damage, inject_task_failure};
use crate::live::LiveProgress;
use crate::metrics::QueryMetrics;
use crate::planner::StageGraph;
use crate::retry::{INPUT_CHECK, has_coupled_partitions, has_side_effects};
use crate::shuffle::{ShuffleStore, ShuffleWriterExec};
use crate::stage::{Stage, StageOutputKind};
use crate::task_usage::{CpuTimed, TaskMemoryPool, task_context};

/// An attempt that ended, and what it returned.
struct Ended {
    report: TaskReport,
    output: Result<TaskOutput>,
}

/// Runs every stage of `graph` (see the [parent module](super)); returns the result
/// stage's batches in partition order, the figures of each stage, and the graph as it
/// ran (after its adaptive rewrites, its operators holding their metrics). `faults` are
/// injected into the tasks. `live`, when given, is told where the stages stand after
/// every launch and every task back, and when a task fails the query, the figures of its
/// stages so far.
pub(crate) async fn run_graph(
    graph: StageGraph,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
    options: RunOptions,
    faults: Option<FaultInjection>,
    live: Option<&LiveProgress>,
) -> Result<(Vec<RecordBatch>, QueryMetrics, StageGraph)> {
    let clock = Instant::now();
    let pool = Arc::clone(ctx.memory_pool());
    let mut run = QueryRun::new(graph, Arc::clone(store), pool, options)?;
    run.set_session_options(ctx.session_config().options());
    let mut running = FuturesUnordered::new();
    let mut aborts: HashMap<AttemptId, AbortHandle> = HashMap::new();
    // The worker slots (timeline lanes) busy now, and where and when each attempt started.
    let mut lanes: Vec<bool> = Vec::new();
    let mut launched: HashMap<AttemptId, (usize, Duration)> = HashMap::new();
    loop {
        while let Some(spec) = run.next_task(clock.elapsed())? {
            let id = spec.id;
            let lane = take_lane(&mut lanes);
            launched.insert(id, (lane, clock.elapsed()));
            let (abort, spawned) = spawn_task(spec, faults, store, ctx);
            aborts.insert(id, abort);
            running.push(spawned);
        }
        // After the launches, and so also after the event the last turn handled.
        if let Some(live) = live {
            live.set(run.progress());
        }
        // Returning early (an error) drops the running tasks, which aborts them.
        let Some(Ended { report, output }) = running.next().await else {
            break;
        };
        aborts.remove(&report.id);
        let (lane, started) = launched.remove(&report.id).unwrap_or_default();
        if let Some(busy) = lanes.get_mut(lane) {
            *busy = false;
        }
        let report = TaskReport {
            at: clock.elapsed(),
            started,
            lane,
            ..report
        };
        let actions = match output {
            Ok(output) => run.on_task_finished(report, output),
            Err(err) => run.on_task_failed(report, err),
        };
        // A failing query leaves the figures of its stages with `live`, for a report.
        let actions = actions.inspect_err(|_| {
            if let Some(live) = live {
                live.set_failed(run.figures_at_failure());
            }
        })?;
        for Action::Abort(id) in actions {
            if let Some(abort) = aborts.get(&id) {
                abort.abort();
            }
        }
    }
    run.finish()
}

/// The first free worker slot, marked busy (a new one when all are).
fn take_lane(lanes: &mut Vec<bool>) -> usize {
    match lanes.iter().position(|busy| !busy) {
        Some(free) => {
            lanes[free] = true;
            free
        }
        None => {
            lanes.push(true);
            lanes.len() - 1
        }
    }
}

/// Spawns the attempt `spec`; the future resolves when it is done, and the handle stops
/// it. A task that writes is never made to fail on purpose, and the output
/// of a stage whose partitions depend on each other is never corrupted on purpose (one
/// of its map tasks cannot be recomputed alone, see [`crate::lineage`]).
fn spawn_task(
    spec: TaskSpec,
    faults: Option<FaultInjection>,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> (AbortHandle, impl Future<Output = Ended> + use<>) {
    let TaskSpec {
        id,
        run,
        stage,
        units,
    } = spec;
    let (task, attempt) = (id.task.1, id.attempt);
    let coupled = has_coupled_partitions(&stage.plan);
    let faults = faults
        .filter(|_| !has_side_effects(&stage.plan))
        .map(|f| match coupled {
            true => FaultInjection {
                shuffle_corruption: Fraction::default(),
                ..f
            },
            false => f,
        });
    // A coupled task draws its injected failure per run of its stage, in which it
    // executes once, not per attempt: how many attempts a rerun made void (started or
    // not yet) depends on timing, and the faults must not. A run fails in at most one
    // of its tasks.
    let draw = if coupled {
        Draw::StageRun {
            run,
            tasks: stage.tasks(),
        }
    } else {
        Draw::Attempt(attempt)
    };
    let store = Arc::clone(store);
    let ctx = Arc::clone(ctx);
    let stage_id = stage.id;
    let started = Instant::now();
    let pool = Arc::new(TaskMemoryPool::new(Arc::clone(ctx.memory_pool())));
    let task_pool = Arc::clone(&pool);
    let mut config = ctx.session_config().clone();
    if let Some(units) = &units {
        // The attempt reads its task's units from the first.
        units.restart();
        config = config.with_extension(Arc::clone(units));
    }
    let (abort, registration) = AbortHandle::new_pair();
    let spawned = SpawnedTask::spawn(CpuTimed::new(async move {
        let work = async {
            let ctx = task_context(&ctx, config, task_pool)?;
            run_task(&stage, (task, attempt, draw), faults.as_ref(), &store, &ctx).await
        };
        match Abortable::new(work, registration).await {
            Ok(output) => output,
            Err(_aborted) => Err(DataFusionError::External(Box::new(
                ExecutorError::TaskCancelled {
                    stage: stage_id,
                    task,
                },
            ))),
        }
    }));
    let finished = async move {
        let (output, cpu) = match spawned.join().await {
            Ok(timed) => timed,
            Err(join) if join.is_cancelled() => (
                Err(DataFusionError::External(Box::new(
                    ExecutorError::TaskCancelled {
                        stage: stage_id,
                        task,
                    },
                ))),
                Duration::ZERO,
            ),
            Err(join) => (
                Err(DataFusionError::External(Box::new(
                    ExecutorError::TaskPanicked {
                        stage: stage_id,
                        task,
                        message: panic_message(join),
                    },
                ))),
                Duration::ZERO,
            ),
        };
        let report = TaskReport {
            id,
            started: Duration::ZERO,
            at: Duration::ZERO,
            lane: 0,
            busy: started.elapsed(),
            cpu,
            peak_memory: pool.peak(),
        };
        Ended { report, output }
    };
    (abort, finished)
}

/// Runs attempt `attempt` of task `task` of `stage`; `draw` is what its injected failure
/// is drawn for.
async fn run_task(
    stage: &Stage,
    (task, attempt, draw): (usize, u32, Draw),
    faults: Option<&FaultInjection>,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> Result<TaskOutput> {
    // A task that writes, or whose partitions depend on each other, cannot run again
    // alone once it started: it checks its input first, so a lost map output is
    // recomputed before it starts.
    if has_side_effects(&stage.plan) || has_coupled_partitions(&stage.plan) {
        for input in &stage.inputs {
            store
                .verify(*input)
                .map_err(|e| DataFusionError::Context(INPUT_CHECK.into(), Box::new(e)))?;
        }
    }
    // Operators keep state shared by the partitions of one plan (a join's build side,
    // a repartition's channels): a later attempt runs on a fresh copy. A task with
    // coupled partitions always runs on its stage's plan, shared with its siblings: it
    // runs again alone only when it did not start, and a rerun of its stage gives the
    // stage a fresh copy.
    let plan = if attempt > 1 && !has_coupled_partitions(&stage.plan) {
        reset_plan_states(Arc::clone(&stage.plan))?
    } else {
        Arc::clone(&stage.plan)
    };
    let partition = stage.partition_of(task);
    // A map stage's root is its sink, which writes; the result stage returns its rows.
    let writer = plan.downcast_ref::<ShuffleWriterExec>();
    let writer = match (writer, &stage.output) {
        (None, StageOutputKind::Result) => {
            let stream = plan.execute(partition, Arc::clone(ctx))?;
            let batches: Vec<RecordBatch> = stream.try_collect().await?;
            inject_task_failure(faults, stage.id, task, draw)?;
            return Ok(TaskOutput::Result(batches));
        }
        (Some(writer), StageOutputKind::Shuffle(_) | StageOutputKind::PassThrough) => writer,
        _ => {
            return Err(DataFusionError::Internal(format!(
                "stage {}: its plan's root does not match its output",
                stage.id
            )));
        }
    };
    let mut output = writer.write(task, partition, ctx).await?;
    output.attempt = attempt;
    inject_task_failure(faults, stage.id, task, draw)?;
    if let Some(faults) = faults {
        damage(faults, &output, stage.id)?;
    }
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
