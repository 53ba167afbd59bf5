//! Running a stage graph: one queue of runnable tasks, `threads` workers.
//!
//! # Algorithm
//! Every stage starts `Waiting`. A stage whose input stages are all `Done` becomes
//! `Runnable` and all its tasks join one queue, ordered by stage id, then task (stage ids
//! are a topological order, so upstream work goes first). Up to `threads` tasks run at
//! once, each spawned onto the runtime; whenever one finishes, the next queued task
//! starts, whatever stage it belongs to, so independent stages (the two inputs of a join)
//! run side by side and no worker idles at the tail of a stage while other work is ready.
//! A stage under a `LIMIT` without order stops early: once its finished tasks have the
//! rows the limit needs, its queued tasks are skipped and its running ones stopped
//! (their spawned tasks aborted), each leaving an empty output.
//! When a stage's last task finishes it is `Done`, the shuffle outputs it read are
//! released, the broadcast candidates whose build side it is are decided from its real
//! output size ([`crate::adaptive`]; a switched join's probe stage is absorbed), and the
//! stages waiting on it are checked. Map tasks write their output into
//! the shuffle store; the result stage's tasks return their batches, which are put back
//! into partition order. A failed task goes to [`crate::retry`]: it is queued again as a
//! fresh attempt (with a fresh copy of its stage's plan, since operators keep state
//! between the partitions of one plan), or a lost map output it read is recomputed
//! first ([`crate::lineage`]; those tasks run in stages already `Done`, which stay so),
//! or its whole stage runs again (below), or the query fails: the running tasks are
//! aborted (`SpawnedTask` aborts on drop) and the shuffle store, with its spill files,
//! is dropped with the query.
//!
//! A stage whose partitions are coupled (they share state in one plan instance, see
//! [`crate::retry::has_coupled_partitions`]) cannot run one task again: when one of its
//! tasks fails after it started, the whole stage runs again. Each stage counts its
//! *runs*; an attempt belongs to the run it started in. A rerun starts a new run at
//! once, which makes every attempt of the old one void: those queued are taken off the
//! queue, those running are aborted and, whatever they return, ignored. Once the last
//! of them is back (none can write into the store after that), the stage's map outputs
//! are discarded (or, for the result stage, the batches it returned so far, which the
//! caller only gets when the query is done), its plan is replaced by a fresh instance
//! (`reset_plan_states`), which all its tasks of the new run share, and every task is
//! queued as a new attempt. Within a run, a task of such a stage is queued at most once
//! at a time (a recomputation it waited for may hand it back after a rerun queued it
//! already), so no partition runs twice on one instance.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use futures::future::{AbortHandle, Abortable};
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};

use crate::adaptive::{Switch, adapt_reads, switch_to_broadcast};
use crate::error::ExecutorError;
use crate::faults::{Draw, FaultInjection, Fraction, damage, inject_task_failure};
use crate::lineage::TaskId;
use crate::metrics::{QueryMetrics, StageMetrics, TaskMetrics};
use crate::planner::StageGraph;
use crate::rebalance::{Rebalancer, TaskUnits};
use crate::retry::{INPUT_CHECK, Next, Recovery, has_coupled_partitions, has_side_effects};
use crate::shuffle::{MapOutput, ShuffleReservation, ShuffleStore, Split, write_map_output};
use crate::stage::{Stage, StageEvent, StageId, StageOutputKind, StageState};
use crate::task_usage::{CpuTimed, TaskMemoryPool, task_context};

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
    /// Stopped while it ran: a `LIMIT` above had its rows already.
    Stopped,
}

/// One attempt to spawn: its task, attempt number, the run of its stage it belongs to,
/// and the scan units it reads when its scan is rebalanced.
struct AttemptOf {
    task: usize,
    attempt: u32,
    run: u32,
    units: Option<Arc<TaskUnits>>,
}

/// An attempt running now, and how to stop it.
struct InFlight {
    task: TaskId,
    attempt: u32,
    abort: AbortHandle,
}

/// A finished task: which, what it produced, how long it ran, what it used.
struct Finished {
    stage: StageId,
    task: usize,
    attempt: u32,
    run: u32,
    output: Result<TaskOutput>,
    busy: Duration,
    cpu: Duration,
    peak_memory: usize,
}

/// The bookkeeping of one stage while the query runs.
struct StageRun {
    state: StageState,
    remaining: usize,
    started: Option<Instant>,
    metrics: StageMetrics,
    /// Its partitions are coupled: a failed task runs the whole stage again.
    coupled: bool,
    /// Its run, from 0; attempts of earlier runs are void (see the module doc).
    run: u32,
    /// A rerun waits for the void attempts still running.
    rerun_pending: bool,
    /// Of a coupled stage, the tasks of this run queued, running or done.
    live: HashSet<usize>,
}

/// Runs every stage of `graph`; returns the result stage's batches in partition order,
/// the figures of each stage, and the graph as it ran (after its adaptive rewrites, its
/// operators holding their metrics).
/// Joins with a build side of at most `broadcast_threshold` bytes become broadcast joins;
/// with a `partition_target`, stages reading hash shuffles have their reads re-planned.
/// Failed tasks are retried at most `retries` times; `faults` are injected.
pub(crate) async fn run_graph(
    mut graph: StageGraph,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
    threads: usize,
    broadcast_threshold: Option<usize>,
    partition_target: Option<usize>,
    (retries, faults): (usize, Option<FaultInjection>),
) -> Result<(Vec<RecordBatch>, QueryMetrics, StageGraph)> {
    let adapt = partition_target.map(|target| (target, threads));
    let mut recovery = Recovery::new(retries);
    let mut runs: Vec<StageRun> = graph
        .stages
        .iter()
        .map(|stage| StageRun {
            state: StageState::Waiting,
            remaining: stage.tasks(),
            started: None,
            metrics: StageMetrics::new(stage.id, stage.tasks()),
            coupled: false,
            run: 0,
            rerun_pending: false,
            live: HashSet::new(),
        })
        .collect();
    let mut queue: BinaryHeap<Reverse<(StageId, usize)>> = BinaryHeap::new();
    let mut result: Vec<(usize, Vec<RecordBatch>)> = Vec::new();
    let mut finished_order: Vec<usize> = Vec::new();
    let mut running = FuturesUnordered::new();
    // The attempts running now, for splitting their scans when a worker is idle and
    // stopping them when their stage runs again.
    let mut in_flight: Vec<InFlight> = Vec::new();
    // Tasks stopped because a `LIMIT` above had its rows: they come back cancelled.
    let mut stopped: HashSet<TaskId> = HashSet::new();
    let mut rebalancer = Rebalancer::default();
    // Where each absorbed stage's plan went.
    let mut absorbed_into: Vec<Option<StageId>> = vec![None; graph.stages.len()];
    release_ready(
        &mut graph,
        &mut runs,
        &mut queue,
        store,
        &mut finished_order,
        (adapt, &mut rebalancer),
    )?;
    loop {
        while running.len() < threads.max(1) {
            let Some(Reverse((stage_id, task))) = queue.pop() else {
                // A free worker and nothing queued: take half a running scan.
                let tasks: Vec<TaskId> = in_flight.iter().map(|f| f.task).collect();
                match split_running_scan(&mut graph, &mut runs, &tasks, &mut rebalancer, store) {
                    Some(split) => {
                        queue.push(Reverse(split));
                        continue;
                    }
                    None => break,
                }
            };
            let stage = &graph.stages[stage_id.0];
            let run = &mut runs[stage_id.0];
            run.started.get_or_insert_with(Instant::now);
            // A task of a done stage recomputes a lost map output.
            if run.state != StageState::Done {
                run.state = transition(run.state, StageEvent::TaskStarted, stage_id)?;
            }
            run.metrics.attempts += 1;
            let attempt = AttemptOf {
                task,
                attempt: recovery.start((stage_id, task)),
                run: run.run,
                units: rebalancer.units(stage_id, task),
            };
            let (abort, spawned) = spawn_task(stage.clone(), &attempt, faults, store, ctx);
            in_flight.push(InFlight {
                task: (stage_id, task),
                attempt: attempt.attempt,
                abort,
            });
            running.push(spawned);
        }
        let Some(finished) = running.next().await else {
            break;
        };
        in_flight
            .retain(|f| f.task != (finished.stage, finished.task) || f.attempt != finished.attempt);
        let run = &mut runs[finished.stage.0];
        run.metrics.task_time += finished.busy;
        run.metrics.cpu_time += finished.cpu;
        run.metrics.peak_memory_bytes = run
            .metrics
            .peak_memory_bytes
            .max(finished.peak_memory as u64);
        if finished.run != run.run {
            // An attempt of a run given up: void, whatever it returned.
            if run.rerun_pending && !in_flight.iter().any(|f| f.task.0 == finished.stage) {
                restart_stage(
                    &mut graph,
                    &mut runs,
                    finished.stage,
                    store,
                    &mut queue,
                    &mut result,
                )?;
            }
            continue;
        }
        let recomputing = run.state == StageState::Done;
        // A stopped task that finished before the stop reached it keeps its output.
        let was_stopped = stopped.remove(&(finished.stage, finished.task));
        let output = match finished.output {
            Err(_) if was_stopped => Ok(TaskOutput::Stopped),
            other => other,
        };
        let output = match output {
            Ok(output) => output,
            Err(err) => {
                let task = (finished.stage, finished.task);
                match recovery.failed(task, err, recomputing, &graph, store) {
                    Ok(Next::Queue(requeue)) => {
                        run.metrics.failed_attempts += 1;
                        run.live.remove(&finished.task);
                        enqueue(&mut queue, &mut runs, requeue);
                        continue;
                    }
                    Ok(Next::RerunStage) => {
                        run.metrics.failed_attempts += 1;
                        if !give_up_run(run, finished.stage, &in_flight, &mut queue) {
                            restart_stage(
                                &mut graph,
                                &mut runs,
                                finished.stage,
                                store,
                                &mut queue,
                                &mut result,
                            )?;
                        }
                        continue;
                    }
                    Err(err) => {
                        if !recomputing {
                            run.state =
                                transition(run.state, StageEvent::TaskFailed, finished.stage)?;
                        }
                        return Err(err);
                    }
                }
            }
        };
        if recomputing {
            run.metrics.recomputed_tasks += 1;
            let next = recovery.recomputed(&graph, store);
            enqueue(&mut queue, &mut runs, next);
            continue;
        }
        let rows = match output {
            TaskOutput::Shuffled {
                rows,
                memory,
                spilled,
                files,
            } => {
                run.metrics.shuffle_memory_bytes += memory;
                run.metrics.spilled_bytes += spilled;
                run.metrics.spill_files += files;
                rows
            }
            TaskOutput::Result(batches) => {
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
                result.push((finished.task, batches));
                rows
            }
            TaskOutput::Stopped => {
                let stage = &graph.stages[finished.stage.0];
                put_empty_output(stage, finished.task, store, ctx);
                run.metrics.skipped_tasks += 1;
                0
            }
        };
        run.metrics.output_rows += rows;
        run.metrics.task_metrics.push(TaskMetrics {
            task: finished.task,
            output_rows: rows,
            wall_time: finished.busy,
            cpu_time: finished.cpu,
            peak_memory_bytes: finished.peak_memory as u64,
        });
        if let Some(limit) = graph.stages[finished.stage.0].row_limit
            && run.metrics.output_rows >= limit as u64
        {
            let skipped =
                skip_queued_tasks(&graph.stages[finished.stage.0], &mut queue, store, ctx);
            run.remaining -= skipped;
            run.metrics.skipped_tasks += skipped;
            // Its tasks still running stop too; each comes back cancelled, as `Stopped`.
            for attempt in in_flight.iter().filter(|f| f.task.0 == finished.stage) {
                attempt.abort.abort();
                stopped.insert(attempt.task);
            }
        }
        run.remaining -= 1;
        if run.remaining == 0 {
            run.state = transition(run.state, StageEvent::AllTasksSucceeded, finished.stage)?;
            run.metrics.elapsed = run.started.map_or(Duration::ZERO, |s| s.elapsed());
            run.metrics
                .add_operator_figures(&graph.stages[finished.stage.0].plan);
            for input in &graph.stages[finished.stage.0].inputs {
                store.release(*input);
            }
            if let Some(threshold) = broadcast_threshold {
                decide_broadcasts(
                    &mut graph,
                    &mut runs,
                    &mut absorbed_into,
                    finished.stage,
                    store,
                    threshold,
                    threads,
                )?;
            }
            release_ready(
                &mut graph,
                &mut runs,
                &mut queue,
                store,
                &mut finished_order,
                (adapt, &mut rebalancer),
            )?;
        }
    }
    if let Some(stuck) = runs.iter().position(|r| r.state != StageState::Done) {
        return Err(DataFusionError::Internal(format!(
            "stage {stuck} never ran: its inputs did not finish"
        )));
    }
    result.sort_by_key(|(task, _)| *task);
    let batches = result.into_iter().flat_map(|(_, b)| b).collect();
    let stages = finished_order
        .into_iter()
        .map(|i| std::mem::take(&mut runs[i].metrics))
        .collect();
    Ok((batches, QueryMetrics { stages }, graph))
}

/// Moves every waiting stage whose inputs are done to `Runnable` and queues its tasks;
/// a stage with no tasks is done at once. `order` receives stages as they start. With
/// `adapt` (partition target, threads), what a stage's tasks read is first re-planned
/// from its inputs' real sizes ([`crate::adaptive`]), and its scan is prepared for
/// splitting ([`crate::rebalance`]).
fn release_ready(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    queue: &mut BinaryHeap<Reverse<(StageId, usize)>>,
    store: &Arc<ShuffleStore>,
    order: &mut Vec<usize>,
    (adapt, rebalancer): (Option<(usize, usize)>, &mut Rebalancer),
) -> Result<()> {
    loop {
        let ready: Vec<StageId> = graph
            .stages
            .iter()
            .filter(|stage| {
                runs[stage.id.0].state == StageState::Waiting
                    && stage
                        .inputs
                        .iter()
                        .copied()
                        .chain(graph.waits_for(stage.id))
                        .all(|i| runs[i.0].state == StageState::Done)
            })
            .map(|stage| stage.id)
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        for id in ready {
            if let Some((target, threads)) = adapt
                && let Some(decision) = adapt_reads(&mut graph.stages, id, store, target, threads)?
            {
                runs[id.0].metrics.reads = Some(decision);
            }
            if let Some((_, threads)) = adapt {
                rebalancer.prepare(&mut graph.stages[id.0], threads)?;
            }
            let stage = &graph.stages[id.0];
            let run = &mut runs[id.0];
            run.state = transition(run.state, StageEvent::InputsDone, id)?;
            run.coupled = has_coupled_partitions(&stage.plan);
            // An adaptive switch may have changed its task count since planning.
            run.remaining = stage.tasks();
            run.metrics.tasks = stage.tasks();
            order.push(id.0);
            if !matches!(stage.output, StageOutputKind::Result) {
                store.open(id, stage.tasks());
            }
            if stage.tasks() == 0 {
                run.state = transition(run.state, StageEvent::AllTasksSucceeded, id)?;
                for input in &stage.inputs {
                    store.release(*input);
                }
                continue;
            }
            let tasks = (0..stage.tasks()).map(|task| (id, task));
            enqueue(queue, runs, tasks);
        }
    }
}

/// Queues `tasks`; a task of a running coupled stage only when its run does not have it
/// queued, running or done already, and not while the stage waits to run again (the
/// rerun queues all its tasks).
fn enqueue(
    queue: &mut BinaryHeap<Reverse<TaskId>>,
    runs: &mut [StageRun],
    tasks: impl IntoIterator<Item = TaskId>,
) {
    for (stage, task) in tasks {
        let run = &mut runs[stage.0];
        if run.coupled
            && run.state != StageState::Done
            && (run.rerun_pending || !run.live.insert(task))
        {
            continue;
        }
        queue.push(Reverse((stage, task)));
    }
}

/// Gives up the current run of coupled `stage` (`run`), one of whose tasks failed: its
/// queued tasks leave the queue and its running attempts are stopped. Returns whether
/// some are still running: the new run starts when the last is back
/// ([`restart_stage`]).
fn give_up_run(
    run: &mut StageRun,
    stage: StageId,
    in_flight: &[InFlight],
    queue: &mut BinaryHeap<Reverse<TaskId>>,
) -> bool {
    run.metrics.stage_reruns += 1;
    run.run += 1;
    run.rerun_pending = true;
    queue.retain(|Reverse((s, _))| *s != stage);
    let mut running = false;
    for attempt in in_flight.iter().filter(|f| f.task.0 == stage) {
        attempt.abort.abort();
        running = true;
    }
    running
}

/// Starts the new run of coupled `stage` once the attempts of its old run are all back:
/// discards what the stage produced (its map outputs, or the result batches), gives it
/// a fresh plan instance and queues every task. The figures of its output start again;
/// its time so far is kept.
fn restart_stage(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    stage: StageId,
    store: &ShuffleStore,
    queue: &mut BinaryHeap<Reverse<TaskId>>,
    result: &mut Vec<(usize, Vec<RecordBatch>)>,
) -> Result<()> {
    let st = &mut graph.stages[stage.0];
    st.plan = reset_plan_states(Arc::clone(&st.plan))?;
    match st.output {
        // Only the result stage returns batches.
        StageOutputKind::Result => result.clear(),
        StageOutputKind::Shuffle(_) | StageOutputKind::PassThrough => {
            store.open(stage, st.tasks());
        }
    }
    let tasks = st.tasks();
    let run = &mut runs[stage.0];
    run.rerun_pending = false;
    run.live.clear();
    run.remaining = tasks;
    let metrics = &mut run.metrics;
    metrics.output_rows = 0;
    metrics.shuffle_memory_bytes = 0;
    metrics.spilled_bytes = 0;
    metrics.spill_files = 0;
    metrics.skipped_tasks = 0;
    metrics.task_metrics.clear();
    enqueue(queue, runs, (0..tasks).map(|task| (stage, task)));
    Ok(())
}

/// Splits the running task of a running stage with the most unread scan units: the
/// second half becomes a new task, queued. Returns whether it did.
fn split_running_scan(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    in_flight: &[TaskId],
    rebalancer: &mut Rebalancer,
    store: &ShuffleStore,
) -> Option<(StageId, usize)> {
    let candidates: Vec<(StageId, usize)> = in_flight
        .iter()
        .copied()
        .filter(|(stage, _)| runs[stage.0].state == StageState::Running)
        .collect();
    let (stage_id, task, partition) = rebalancer.split(candidates)?;
    let stage = &mut graph.stages[stage_id.0];
    stage.split_tasks.push(partition);
    debug_assert_eq!(stage.tasks(), task + 1);
    store.add_task(stage_id);
    let run = &mut runs[stage_id.0];
    run.remaining += 1;
    run.metrics.tasks += 1;
    run.metrics.scan_splits += 1;
    Some((stage_id, task))
}

/// Takes `stage`'s tasks that have not started off the queue, each with an empty output
/// (its reader needs no more rows); returns how many.
fn skip_queued_tasks(
    stage: &Stage,
    queue: &mut BinaryHeap<Reverse<(StageId, usize)>>,
    store: &ShuffleStore,
    ctx: &TaskContext,
) -> usize {
    let mut skipped = Vec::new();
    queue.retain(|Reverse((id, task))| {
        let keep = *id != stage.id;
        if !keep {
            skipped.push(*task);
        }
        keep
    });
    for &task in &skipped {
        put_empty_output(stage, task, store, ctx);
    }
    skipped.len()
}

/// Records an empty output for `task` of `stage`, whose reader needs no more rows.
fn put_empty_output(stage: &Stage, task: usize, store: &ShuffleStore, ctx: &TaskContext) {
    if matches!(stage.output, StageOutputKind::Result) {
        return;
    }
    let consumer = MemoryConsumer::new(format!(
        "ShuffleWriter[stage {}, task {task}, skipped]",
        stage.id
    ))
    .register(ctx.memory_pool());
    let reservation = ShuffleReservation::new(consumer, Arc::clone(store.memory()));
    let output = MapOutput::empty(
        task,
        stage.plan.schema(),
        stage.output_partitions(),
        reservation,
    );
    store.put(stage.id, task, output);
}

/// Decides the broadcast candidates whose build side `built` is: a join whose build
/// output is at most `threshold` bytes, and whose probe input gives enough tasks, becomes
/// a broadcast join, and its probe stage is absorbed into the join's stage.
fn decide_broadcasts(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    absorbed_into: &mut [Option<StageId>],
    built: StageId,
    store: &Arc<ShuffleStore>,
    threshold: usize,
    threads: usize,
) -> Result<()> {
    let Some(bytes) = store.stage_bytes(built) else {
        return Ok(());
    };
    if bytes > threshold as u64 {
        return Ok(());
    }
    let candidates: Vec<_> = graph
        .broadcasts
        .iter()
        .filter(|c| c.build == built)
        .copied()
        .collect();
    for candidate in candidates {
        // The join may have moved into the stage that absorbed its own stage.
        let mut join_stage = candidate.join_stage;
        while let Some(into) = absorbed_into[join_stage.0] {
            join_stage = into;
        }
        let probe_tasks = graph.stages[candidate.probe.0]
            .plan
            .output_partitioning()
            .partition_count();
        let join_tasks = graph.stages[join_stage.0].tasks();
        if runs[candidate.probe.0].state != StageState::Waiting
            || runs[join_stage.0].state != StageState::Waiting
            || probe_tasks < threads.min(join_tasks)
        {
            continue;
        }
        match switch_to_broadcast(
            &mut graph.stages,
            join_stage,
            candidate.build,
            candidate.probe,
            store,
        )? {
            Switch::Absorbed => {
                let probe = &mut runs[candidate.probe.0];
                probe.state = transition(probe.state, StageEvent::Absorbed, candidate.probe)?;
                absorbed_into[candidate.probe.0] = Some(join_stage);
                runs[join_stage.0].metrics.broadcast_joins += 1;
            }
            // The join now runs in the probe stage.
            Switch::PushedDown => runs[candidate.probe.0].metrics.broadcast_joins += 1,
            Switch::None => {}
        }
    }
    Ok(())
}

fn transition(state: StageState, event: StageEvent, stage: StageId) -> Result<StageState> {
    state.next(event).ok_or_else(|| {
        DataFusionError::Internal(format!("stage {stage}: {event:?} while {state:?}"))
    })
}

/// Spawns `attempt` of a task of `stage`; the future resolves when it is done, and the
/// handle stops it. A task that writes is never made to fail on purpose, and the output
/// of a stage whose partitions depend on each other is never corrupted on purpose (one
/// of its map tasks cannot be recomputed alone, see [`crate::lineage`]).
fn spawn_task(
    stage: Stage,
    attempt: &AttemptOf,
    faults: Option<FaultInjection>,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> (AbortHandle, impl Future<Output = Finished> + use<>) {
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
    let AttemptOf {
        task,
        attempt,
        run,
        ref units,
    } = *attempt;
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
    let id = stage.id;
    let started = Instant::now();
    let pool = Arc::new(TaskMemoryPool::new(Arc::clone(ctx.memory_pool())));
    let task_pool = Arc::clone(&pool);
    let mut config = ctx.session_config().clone();
    if let Some(units) = units {
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
                ExecutorError::TaskCancelled { stage: id, task },
            ))),
        }
    }));
    let finished = async move {
        let (output, cpu) = match spawned.join().await {
            Ok(timed) => timed,
            Err(join) if join.is_cancelled() => (
                Err(DataFusionError::External(Box::new(
                    ExecutorError::TaskCancelled { stage: id, task },
                ))),
                Duration::ZERO,
            ),
            Err(join) => (
                Err(DataFusionError::External(Box::new(
                    ExecutorError::TaskPanicked {
                        stage: id,
                        task,
                        message: panic_message(join),
                    },
                ))),
                Duration::ZERO,
            ),
        };
        Finished {
            stage: id,
            task,
            attempt,
            run,
            output,
            busy: started.elapsed(),
            cpu,
            peak_memory: pool.peak(),
        }
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
    let stream = plan.execute(partition, Arc::clone(ctx))?;
    let split = match &stage.output {
        StageOutputKind::Result => {
            let batches: Vec<RecordBatch> = stream.try_collect().await?;
            inject_task_failure(faults, stage.id, task, draw)?;
            return Ok(TaskOutput::Result(batches));
        }
        StageOutputKind::Shuffle(partitioning) => Split::Partitioned(partitioning.clone()),
        StageOutputKind::PassThrough => Split::PassThrough,
    };
    let mut output = write_map_output(
        stage.id,
        (task, partition),
        stage.plan_partitions(),
        split,
        stream,
        ctx,
        store.memory(),
    )
    .await?;
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
