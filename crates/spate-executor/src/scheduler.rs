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
//! or the query fails: the running tasks are aborted (`SpawnedTask` aborts on drop) and
//! the shuffle store, with its spill files, is dropped with the query.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_plan::ExecutionPlanProperties;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use futures::future::{AbortHandle, Abortable, Aborted};
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt};

use crate::adaptive::{adapt_reads, switch_to_broadcast};
use crate::error::ExecutorError;
use crate::faults::{FaultInjection, damage, inject_task_failure};
use crate::metrics::{QueryMetrics, StageMetrics, TaskMetrics};
use crate::planner::StageGraph;
use crate::rebalance::{Rebalancer, TaskUnits};
use crate::retry::{INPUT_CHECK, Recovery, has_coupled_partitions, has_side_effects};
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

/// A finished task: which, what it produced, how long it ran, what it used.
struct Finished {
    stage: StageId,
    task: usize,
    output: Result<TaskOutput>,
    busy: Duration,
    cpu: Duration,
    peak_memory: usize,
}

impl Finished {
    /// A task stopped while it ran.
    fn stopped(stage: StageId, task: usize) -> Self {
        Finished {
            stage,
            task,
            output: Ok(TaskOutput::Stopped),
            busy: Duration::ZERO,
            cpu: Duration::ZERO,
            peak_memory: 0,
        }
    }
}

/// The bookkeeping of one stage while the query runs.
struct StageRun {
    state: StageState,
    remaining: usize,
    started: Option<Instant>,
    metrics: StageMetrics,
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
        })
        .collect();
    let mut queue: BinaryHeap<Reverse<(StageId, usize)>> = BinaryHeap::new();
    let mut result: Vec<(usize, Vec<RecordBatch>)> = Vec::new();
    let mut finished_order: Vec<usize> = Vec::new();
    let mut running = FuturesUnordered::new();
    // The tasks running now, for splitting their scans when a worker is idle.
    let mut in_flight: Vec<(StageId, usize)> = Vec::new();
    // How to stop each of them (a `LIMIT` satisfied stops its stage's running tasks).
    let mut stops: HashMap<(StageId, usize), AbortHandle> = HashMap::new();
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
                match split_running_scan(&mut graph, &mut runs, &in_flight, &mut rebalancer, store)
                {
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
            let attempt = recovery.start((stage_id, task));
            let units = rebalancer.units(stage_id, task);
            in_flight.push((stage_id, task));
            let (stop, stoppable) = AbortHandle::new_pair();
            stops.insert((stage_id, task), stop);
            let attempt = Abortable::new(
                spawn_task(stage.clone(), (task, attempt, units), faults, store, ctx),
                stoppable,
            );
            running.push(async move {
                // Dropping a stopped attempt aborts its spawned task.
                attempt
                    .await
                    .unwrap_or_else(|Aborted| Finished::stopped(stage_id, task))
            });
        }
        let Some(finished) = running.next().await else {
            break;
        };
        in_flight.retain(|t| *t != (finished.stage, finished.task));
        stops.remove(&(finished.stage, finished.task));
        let run = &mut runs[finished.stage.0];
        run.metrics.task_time += finished.busy;
        run.metrics.cpu_time += finished.cpu;
        run.metrics.peak_memory_bytes = run
            .metrics
            .peak_memory_bytes
            .max(finished.peak_memory as u64);
        let recomputing = run.state == StageState::Done;
        let output = match finished.output {
            Ok(output) => output,
            Err(err) => {
                let task = (finished.stage, finished.task);
                match recovery.failed(task, err, recomputing, &graph, store) {
                    Ok(requeue) => {
                        run.metrics.failed_attempts += 1;
                        queue.extend(requeue.into_iter().map(Reverse));
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
            queue.extend(recovery.recomputed(&graph, store).into_iter().map(Reverse));
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
            // Its tasks still running stop too; each comes back `Stopped`.
            for running_task in in_flight.iter().filter(|(s, _)| *s == finished.stage) {
                if let Some(stop) = stops.get(running_task) {
                    stop.abort();
                }
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
            queue.extend((0..stage.tasks()).map(|task| Reverse((id, task))));
        }
    }
}

/// Splits the running task of a running stage with the most unread scan units: the
/// second half becomes a new task, queued. Returns whether it did.
fn split_running_scan(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    in_flight: &[(StageId, usize)],
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
        if switch_to_broadcast(
            &mut graph.stages,
            join_stage,
            candidate.build,
            candidate.probe,
            store,
        )? {
            let probe = &mut runs[candidate.probe.0];
            probe.state = transition(probe.state, StageEvent::Absorbed, candidate.probe)?;
            absorbed_into[candidate.probe.0] = Some(join_stage);
            runs[join_stage.0].metrics.broadcast_joins += 1;
        }
    }
    Ok(())
}

fn transition(state: StageState, event: StageEvent, stage: StageId) -> Result<StageState> {
    state.next(event).ok_or_else(|| {
        DataFusionError::Internal(format!("stage {stage}: {event:?} while {state:?}"))
    })
}

/// Spawns attempt `attempt` of task `task` of `stage`, reading `units` when its scan is
/// rebalanced; the future resolves when it is done. A task that writes, or whose
/// partitions depend on each other, is never made to fail on purpose.
fn spawn_task(
    stage: Stage,
    (task, attempt, units): (usize, u32, Option<Arc<TaskUnits>>),
    faults: Option<FaultInjection>,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> impl Future<Output = Finished> + use<> {
    let faults =
        faults.filter(|_| !has_side_effects(&stage.plan) && !has_coupled_partitions(&stage.plan));
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
        config = config.with_extension(units);
    }
    let spawned = SpawnedTask::spawn(CpuTimed::new(async move {
        let ctx = task_context(&ctx, config, task_pool)?;
        run_task(&stage, (task, attempt), faults.as_ref(), &store, &ctx).await
    }));
    async move {
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
            output,
            busy: started.elapsed(),
            cpu,
            peak_memory: pool.peak(),
        }
    }
}

async fn run_task(
    stage: &Stage,
    (task, attempt): (usize, u32),
    faults: Option<&FaultInjection>,
    store: &Arc<ShuffleStore>,
    ctx: &Arc<TaskContext>,
) -> Result<TaskOutput> {
    // A task that writes, or whose partitions depend on each other, cannot run again
    // once it started: it checks its input first, so a lost map output is recomputed
    // before it starts.
    if has_side_effects(&stage.plan) || has_coupled_partitions(&stage.plan) {
        for input in &stage.inputs {
            store
                .verify(*input)
                .map_err(|e| DataFusionError::Context(INPUT_CHECK.into(), Box::new(e)))?;
        }
    }
    // Operators keep state shared by the partitions of one plan (a join's build side,
    // a repartition's channels): a later attempt runs on a fresh copy.
    // (A task with coupled partitions runs again only when it did not start, and must
    // then join its siblings' instance.)
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
            inject_task_failure(faults, stage.id, task, attempt)?;
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
    inject_task_failure(faults, stage.id, task, attempt)?;
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
