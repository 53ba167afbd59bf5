//! [`QueryRun`]: the state machine of one query's run, which takes every scheduling
//! decision and performs no I/O; see the [parent module](super) for the algorithm.
//!
//! Its inputs are events: a task attempt finished ([`QueryRun::on_task_finished`]) or
//! failed ([`QueryRun::on_task_failed`]), each with the time since the query started.
//! Its outputs are the next attempt to start ([`QueryRun::next_task`]) and
//! [`Action`]s. It keeps the shuffle store's bookkeeping itself (opening and releasing
//! stages' outputs, empty outputs of skipped tasks), which is synchronous and cannot
//! fail.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::execution_plan::reset_plan_states;

use super::stage_ops::{decide_broadcasts, put_empty_output, transition};
use crate::adaptive::{adapt_reads, add_runtime_filters};
use crate::lineage::TaskId;
use crate::live::{StagePhase, StageProgress};
use crate::metrics::{QueryMetrics, StageEnd, StageMetrics, TaskMetrics, TaskOutcome};
use crate::planner::StageGraph;
use crate::rebalance::{Rebalancer, TaskUnits};
use crate::retry::{Next, Recovery, has_coupled_partitions};
use crate::shuffle::ShuffleStore;
use crate::stage::{Stage, StageEvent, StageId, StageOutputKind, StageState};

/// How a query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOptions {
    /// Task attempts running at once.
    pub threads: usize,
    /// Joins whose build side turns out to be at most this many bytes become broadcast
    /// joins; `None`: never.
    pub broadcast_threshold: Option<usize>,
    /// With a target, stages reading hash shuffles have their reads re-planned from their
    /// inputs' real sizes, and scans are cut into units that idle workers split off.
    pub partition_target: Option<usize>,
    /// Failed tasks are retried at most this many times.
    pub retries: usize,
    /// A join's build keys filter its probe side once its build stage is done
    /// ([`crate::adaptive`]).
    pub runtime_filters: bool,
    /// Keep each attempt's figures (its bar in a report's timeline); off, stages keep
    /// only their totals.
    pub task_timeline: bool,
}

/// One attempt of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct AttemptId {
    /// Its task.
    pub task: TaskId,
    /// Its number among the task's attempts, from 1.
    pub attempt: u32,
}

/// A task attempt to start.
#[derive(Debug)]
pub(crate) struct TaskSpec {
    /// The attempt.
    pub id: AttemptId,
    /// The run of its stage it belongs to (see the parent module's doc).
    pub run: u32,
    /// Its stage, as it is now (its plan instance is shared with its siblings).
    pub stage: Stage,
    /// The scan units it reads, when its scan is rebalanced.
    pub units: Option<Arc<TaskUnits>>,
}

/// What a task attempt that ran to its end produced.
#[derive(Debug)]
pub(crate) enum TaskOutput {
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

/// Which attempt ended, when, and what it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskReport {
    /// The attempt.
    pub id: AttemptId,
    /// When it started, from the query's start.
    pub started: Duration,
    /// When it ended, from the query's start.
    pub at: Duration,
    /// The worker slot it ran in.
    pub lane: usize,
    /// How long it ran.
    pub busy: Duration,
    /// The CPU time of its polls.
    pub cpu: Duration,
    /// The most memory it held at once.
    pub peak_memory: usize,
}

/// What the driver must do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Stop this running attempt. It still comes back: failed (cancelled) or, when it
    /// was done before the stop reached it, finished.
    Abort(AttemptId),
}

/// An attempt running now.
#[derive(Debug, Clone, Copy)]
struct Running {
    id: AttemptId,
    run: u32,
    /// It runs a map task of a finished stage again, to write a lost output again.
    recompute: bool,
}

/// The bookkeeping of one stage while the query runs.
#[derive(Debug)]
pub(super) struct StageRun {
    pub state: StageState,
    /// Its tasks not back yet (finished, skipped or stopped) in the current run.
    pub remaining: usize,
    /// When its first task started, from the query's start.
    pub started: Option<Duration>,
    pub metrics: StageMetrics,
    /// Its partitions are coupled: a failed task runs the whole stage again.
    pub coupled: bool,
    /// Its run, from 0; attempts of earlier runs are void.
    pub run: u32,
    /// Of a coupled stage, the tasks of this run queued, running or done.
    pub live: HashSet<usize>,
    /// Its attempts running again to recompute a lost output.
    pub recomputing: usize,
}

impl StageRun {
    /// When its first task started (`now` if none did) and how long it has run until
    /// `now`.
    fn span(&self, now: Duration) -> (Duration, Duration) {
        let elapsed = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_sub(s));
        (self.started.unwrap_or(now), elapsed)
    }
}

/// The run of one query's stage graph; see the module doc.
pub(crate) struct QueryRun {
    graph: StageGraph,
    store: Arc<ShuffleStore>,
    /// The pool the empty outputs of skipped tasks register with.
    pool: Arc<dyn MemoryPool>,
    options: RunOptions,
    stages: Vec<StageRun>,
    /// Tasks to start, by stage, then task.
    queue: BinaryHeap<Reverse<TaskId>>,
    /// The attempts running, in the order they started.
    running: Vec<Running>,
    /// Attempts stopped because their stage's `LIMIT` had its rows.
    stopped: HashSet<AttemptId>,
    recovery: Recovery,
    rebalancer: Rebalancer,
    /// Where each absorbed stage's plan went.
    absorbed_into: Vec<Option<StageId>>,
    /// The result stage's batches, by task.
    result: Vec<(usize, Vec<RecordBatch>)>,
    /// Stages in the order they became runnable.
    order: Vec<usize>,
    /// The session's options, which pushing runtime filters into scans reads; `None`:
    /// no runtime filters.
    session_options: Option<Arc<ConfigOptions>>,
    /// The latest time an event carried, from the query's start.
    now: Duration,
}

impl QueryRun {
    /// The run of `graph`, whose map outputs go to `store`; the stages that read nothing
    /// are runnable at once.
    pub fn new(
        graph: StageGraph,
        store: Arc<ShuffleStore>,
        pool: Arc<dyn MemoryPool>,
        options: RunOptions,
    ) -> Result<Self> {
        let stages = graph
            .stages
            .iter()
            .map(|stage| StageRun {
                state: StageState::Waiting,
                remaining: stage.tasks(),
                started: None,
                metrics: StageMetrics::new(stage.id, stage.tasks()),
                coupled: false,
                run: 0,
                live: HashSet::new(),
                recomputing: 0,
            })
            .collect();
        let mut run = QueryRun {
            absorbed_into: vec![None; graph.stages.len()],
            graph,
            store,
            pool,
            options,
            stages,
            queue: BinaryHeap::new(),
            running: Vec::new(),
            stopped: HashSet::new(),
            recovery: Recovery::new(options.retries),
            rebalancer: Rebalancer::default(),
            result: Vec::new(),
            order: Vec::new(),
            session_options: None,
            now: Duration::ZERO,
        };
        run.release_ready()?;
        Ok(run)
    }

    /// Gives the session's options, which runtime filters need to be pushed into scans;
    /// without them (or with [`RunOptions::runtime_filters`] off) there are none.
    pub fn set_session_options(&mut self, options: &Arc<ConfigOptions>) {
        if self.options.runtime_filters {
            self.session_options = Some(Arc::clone(options));
        }
    }

    /// The state of `stage`.
    #[cfg(test)]
    pub(super) fn state(&self, stage: StageId) -> StageState {
        self.stages[stage.0].state
    }

    /// The figures of `stage` so far.
    #[cfg(test)]
    pub(super) fn metrics(&self, stage: StageId) -> &StageMetrics {
        &self.stages[stage.0].metrics
    }

    /// Where each stage stands now, for progress displays; reads only (absorbed stages
    /// are left out).
    pub fn progress(&self) -> Vec<StageProgress> {
        self.stages
            .iter()
            .zip(&self.graph.stages)
            .filter(|(run, _)| run.state != StageState::Absorbed)
            .map(|(run, stage)| {
                let tasks = stage.tasks();
                let phase = match run.state {
                    StageState::Waiting | StageState::Runnable => StagePhase::Waiting,
                    StageState::Done | StageState::Absorbed | StageState::Failed => {
                        StagePhase::Done
                    }
                    StageState::Running
                    | StageState::Limited
                    | StageState::Rerunning
                    | StageState::Recomputing => StagePhase::Running,
                };
                StageProgress {
                    stage: stage.id.0,
                    tasks,
                    done: tasks.saturating_sub(run.remaining),
                    running: self
                        .running
                        .iter()
                        .filter(|r| r.id.task.0 == stage.id)
                        .count(),
                    phase,
                    rows: run.metrics.output_rows,
                }
            })
            .collect()
    }

    /// The attempt to start now, `now` after the query started: the first queued task,
    /// or else one split off a running scan; `None` when every worker is busy or there is
    /// nothing to start.
    pub fn next_task(&mut self, now: Duration) -> Result<Option<TaskSpec>> {
        self.now = self.now.max(now);
        if self.running.len() >= self.options.threads.max(1) {
            return Ok(None);
        }
        let (stage, task) = match self.queue.pop() {
            Some(Reverse(task)) => task,
            None => match self.split_running_scan() {
                Some(split) => split,
                None => return Ok(None),
            },
        };
        let run = &mut self.stages[stage.0];
        run.started.get_or_insert(self.now);
        // A task of a finished stage recomputes a lost map output.
        let recompute = run.state.is_finished();
        if recompute {
            run.recomputing += 1;
            transition(run, StageEvent::RecomputeStarted, stage)?;
        } else {
            transition(run, StageEvent::TaskStarted, stage)?;
        }
        run.metrics.attempts += 1;
        let id = AttemptId {
            task: (stage, task),
            attempt: self.recovery.start((stage, task)),
        };
        let run = run.run;
        self.running.push(Running { id, run, recompute });
        Ok(Some(TaskSpec {
            id,
            run,
            stage: self.graph.stages[stage.0].clone(),
            units: self.rebalancer.units(stage, task),
        }))
    }

    /// An attempt ran to its end with `output`. Returns the attempts to stop, when its
    /// stage's `LIMIT` now has its rows.
    pub fn on_task_finished(
        &mut self,
        report: TaskReport,
        output: TaskOutput,
    ) -> Result<Vec<Action>> {
        let Some(attempt) = self.attempt_back(&report)? else {
            return Ok(Vec::new());
        };
        // A stopped attempt that was done before the stop reached it keeps its output.
        self.stopped.remove(&attempt.id);
        let (stage, task) = attempt.id.task;
        if attempt.recompute {
            self.recompute_back(stage)?;
            self.keep_attempt(&report, 0, TaskOutcome::Recomputed);
            self.stages[stage.0].metrics.recomputed_tasks += 1;
            let next = self.recovery.recomputed(&mut self.graph, &self.store)?;
            self.enqueue(next)?;
            return Ok(Vec::new());
        }
        let metrics = &mut self.stages[stage.0].metrics;
        let rows = match output {
            TaskOutput::Shuffled {
                rows,
                memory,
                spilled,
                files,
            } => {
                metrics.shuffle_memory_bytes += memory;
                metrics.spilled_bytes += spilled;
                metrics.spill_files += files;
                rows
            }
            TaskOutput::Result(batches) => {
                let rows = batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
                self.result.push((task, batches));
                rows
            }
        };
        self.task_succeeded(&report, rows, TaskOutcome::Succeeded)
    }

    /// An attempt failed with `err`. Returns the attempts to stop (those of a coupled
    /// stage that runs again), or the error that fails the query.
    pub fn on_task_failed(
        &mut self,
        report: TaskReport,
        err: DataFusionError,
    ) -> Result<Vec<Action>> {
        let Some(attempt) = self.attempt_back(&report)? else {
            return Ok(Vec::new());
        };
        let (stage, task) = attempt.id.task;
        if self.stopped.remove(&attempt.id) {
            // Stopped by its stage's `LIMIT`: its reader needs no more rows.
            put_empty_output(&self.graph.stages[stage.0], task, &self.store, &self.pool);
            self.stages[stage.0].metrics.skipped_tasks += 1;
            return self.task_succeeded(&report, 0, TaskOutcome::Stopped);
        }
        if attempt.recompute {
            self.recompute_back(stage)?;
        }
        self.keep_attempt(&report, 0, TaskOutcome::Failed);
        let next = self.recovery.failed(
            attempt.id.task,
            err,
            attempt.recompute,
            &mut self.graph,
            &self.store,
        );
        match next {
            Ok(Next::Queue(requeue)) => {
                let run = &mut self.stages[stage.0];
                run.metrics.failed_attempts += 1;
                run.live.remove(&task);
                self.enqueue(requeue)?;
                Ok(Vec::new())
            }
            Ok(Next::RerunStage) => {
                self.stages[stage.0].metrics.failed_attempts += 1;
                self.give_up_run(stage)
            }
            Ok(Next::RecomputeThenRerun(first)) => {
                self.stages[stage.0].metrics.failed_attempts += 1;
                self.enqueue(first)?;
                self.give_up_run(stage)
            }
            Err(err) => {
                if !attempt.recompute {
                    transition(&mut self.stages[stage.0], StageEvent::TaskFailed, stage)?;
                }
                Err(err)
            }
        }
    }

    /// The query ran to its end: the result stage's batches in partition order, the
    /// figures of each stage in the order they became runnable, and the graph as it ran.
    pub fn finish(mut self) -> Result<(Vec<RecordBatch>, QueryMetrics, StageGraph)> {
        let unfinished = |r: &StageRun| !matches!(r.state, StageState::Done | StageState::Absorbed);
        if let Some(stuck) = self.stages.iter().position(unfinished) {
            return Err(DataFusionError::Internal(format!(
                "stage {stuck} never ran: its inputs did not finish"
            )));
        }
        if !self.running.is_empty() || !self.queue.is_empty() {
            return Err(DataFusionError::Internal(
                "the query ended with tasks queued or running".into(),
            ));
        }
        for (absorbed, into) in self.absorbed_into.iter().enumerate() {
            if let Some(into) = into {
                self.stages[into.0].metrics.absorbed.push(absorbed);
            }
        }
        self.result.sort_by_key(|(task, _)| *task);
        let batches = self.result.into_iter().flat_map(|(_, b)| b).collect();
        let stages = self
            .order
            .into_iter()
            .map(|i| std::mem::take(&mut self.stages[i].metrics))
            .collect();
        Ok((batches, QueryMetrics { stages }, self.graph))
    }

    /// The figures of the stages that became runnable, in that order, as they stand when
    /// the query failed: each ends done, failed (the stage whose task failed the query)
    /// or cancelled (it was running or waiting), the time of those not done counted to
    /// the failure.
    pub fn figures_at_failure(&self) -> QueryMetrics {
        let stages = self
            .order
            .iter()
            .map(|&i| {
                let run = &self.stages[i];
                let mut metrics = run.metrics.clone();
                metrics.end = match run.state {
                    StageState::Done | StageState::Recomputing | StageState::Absorbed => {
                        StageEnd::Done
                    }
                    StageState::Failed => StageEnd::Failed,
                    _ => StageEnd::Cancelled,
                };
                if metrics.end != StageEnd::Done {
                    (metrics.started, metrics.elapsed) = run.span(self.now);
                }
                metrics
            })
            .collect();
        QueryMetrics { stages }
    }

    /// Takes the attempt of `report` off the running ones and counts what it used.
    /// Returns `None` for an attempt of a run given up (void, whatever it returned),
    /// after starting the stage's new run if it was the last of them back.
    fn attempt_back(&mut self, report: &TaskReport) -> Result<Option<Running>> {
        self.now = self.now.max(report.at);
        let Some(index) = self.running.iter().position(|r| r.id == report.id) else {
            return Err(DataFusionError::Internal(format!(
                "attempt {} of task {} of stage {} ended but was not running",
                report.id.attempt, report.id.task.1, report.id.task.0
            )));
        };
        let attempt = self.running.remove(index);
        let stage = attempt.id.task.0;
        let run = &mut self.stages[stage.0];
        run.metrics.task_time += report.busy;
        run.metrics.cpu_time += report.cpu;
        run.metrics.peak_memory_bytes =
            run.metrics.peak_memory_bytes.max(report.peak_memory as u64);
        if attempt.run == run.run {
            return Ok(Some(attempt));
        }
        self.keep_attempt(report, 0, TaskOutcome::Cancelled);
        let run = &mut self.stages[stage.0];
        self.stopped.remove(&attempt.id);
        if run.state == StageState::Rerunning && !self.running.iter().any(|r| r.id.task.0 == stage)
        {
            self.restart_stage(stage)?;
        }
        Ok(None)
    }

    /// A task of `report`'s stage is back with `rows`: counts it, stops the stage's other
    /// tasks when its `LIMIT` now has its rows (returning the attempts to abort), and
    /// finishes the stage when it was the last.
    fn task_succeeded(
        &mut self,
        report: &TaskReport,
        rows: u64,
        outcome: TaskOutcome,
    ) -> Result<Vec<Action>> {
        let stage = report.id.task.0;
        self.keep_attempt(report, rows, outcome);
        let run = &mut self.stages[stage.0];
        run.metrics.output_rows += rows;
        let limit = self.graph.stages[stage.0].row_limit;
        let mut actions = Vec::new();
        if run.state == StageState::Running
            && limit.is_some_and(|limit| run.metrics.output_rows >= limit as u64)
        {
            actions = self.limit_reached(stage)?;
        }
        self.task_back(stage)?;
        Ok(actions)
    }

    /// Keeps the figures of the attempt of `report`, which produced `rows` and ended so, in
    /// its stage's timeline: with the tasks' outputs when it produced one (succeeded or
    /// stopped), else with the other attempts. Nothing when attempts are not kept
    /// ([`RunOptions::task_timeline`] off). This is all that recording the timeline costs
    /// while a query runs; it stays out of line so that a profile shows that cost apart.
    #[inline(never)]
    fn keep_attempt(&mut self, report: &TaskReport, rows: u64, outcome: TaskOutcome) {
        if !self.options.task_timeline {
            return;
        }
        let (stage, task) = report.id.task;
        let figures = TaskMetrics {
            task,
            attempt: report.id.attempt,
            lane: report.lane,
            executor: None,
            started: report.started,
            ended: report.at,
            split: task >= self.graph.stages[stage.0].plan_partitions(),
            outcome,
            output_rows: rows,
            wall_time: report.busy,
            cpu_time: report.cpu,
            peak_memory_bytes: report.peak_memory as u64,
        };
        let metrics = &mut self.stages[stage.0].metrics;
        match outcome {
            TaskOutcome::Succeeded | TaskOutcome::Stopped => metrics.task_metrics.push(figures),
            TaskOutcome::Failed
            | TaskOutcome::Cancelled
            | TaskOutcome::Discarded
            | TaskOutcome::Recomputed => metrics.other_attempts.push(figures),
        }
    }

    /// `stage`'s `LIMIT` has its rows: its queued tasks are skipped, each with an empty
    /// output, and its running attempts stopped; returns those.
    fn limit_reached(&mut self, stage: StageId) -> Result<Vec<Action>> {
        transition(&mut self.stages[stage.0], StageEvent::LimitReached, stage)?;
        let mut skipped = Vec::new();
        self.queue.retain(|Reverse((id, task))| {
            let keep = *id != stage;
            if !keep {
                skipped.push(*task);
            }
            keep
        });
        for task in skipped {
            self.skip_task(stage, task)?;
        }
        let mut actions = Vec::new();
        for attempt in self.running.iter().filter(|r| r.id.task.0 == stage) {
            self.stopped.insert(attempt.id);
            actions.push(Action::Abort(attempt.id));
        }
        Ok(actions)
    }

    /// Skips `task` of limited `stage`: an empty output, and it is back.
    fn skip_task(&mut self, stage: StageId, task: usize) -> Result<()> {
        put_empty_output(&self.graph.stages[stage.0], task, &self.store, &self.pool);
        self.stages[stage.0].metrics.skipped_tasks += 1;
        self.task_back(stage)
    }

    /// One more task of `stage` is back; the stage is done when it was the last.
    fn task_back(&mut self, stage: StageId) -> Result<()> {
        let run = &mut self.stages[stage.0];
        run.remaining = run.remaining.checked_sub(1).ok_or_else(|| {
            DataFusionError::Internal(format!("stage {stage}: more tasks back than it has"))
        })?;
        if run.remaining == 0 {
            self.stage_done(stage)?;
        }
        Ok(())
    }

    /// `stage`'s last task is back: it is done, the outputs it read are released, the
    /// broadcast joins it builds are decided, and the stages waiting for it are checked.
    fn stage_done(&mut self, stage: StageId) -> Result<()> {
        let run = &mut self.stages[stage.0];
        transition(run, StageEvent::AllTasksSucceeded, stage)?;
        (run.metrics.started, run.metrics.elapsed) = run.span(self.now);
        run.metrics
            .add_operator_figures(&self.graph.stages[stage.0].plan);
        for input in &self.graph.stages[stage.0].inputs {
            self.store.release(*input);
        }
        if let Some(threshold) = self.options.broadcast_threshold {
            decide_broadcasts(
                &mut self.graph,
                &mut self.stages,
                &mut self.absorbed_into,
                (stage, &self.store),
                (threshold, self.options.threads),
            )?;
        }
        if let Some(config) = &self.session_options {
            let runs = &self.stages;
            let rewritten = add_runtime_filters(
                &mut self.graph.stages,
                |id| runs[id.0].state == StageState::Waiting,
                stage,
                &self.store,
                config,
            )?;
            for id in rewritten {
                self.stages[id.0].metrics.runtime_filters += 1;
            }
        }
        self.release_ready()
    }

    /// A recompute attempt of `stage` is back; the stage is done again with the last.
    fn recompute_back(&mut self, stage: StageId) -> Result<()> {
        let run = &mut self.stages[stage.0];
        run.recomputing = run.recomputing.saturating_sub(1);
        if run.recomputing == 0 {
            transition(run, StageEvent::RecomputeEnded, stage)?;
        }
        Ok(())
    }

    /// Moves every waiting stage whose inputs are finished to `Runnable` and queues its
    /// tasks; a stage with no tasks is done at once. With a partition target, what a
    /// stage's tasks read is first re-planned from its inputs' real sizes
    /// ([`crate::adaptive`]), and its scan is prepared for splitting
    /// ([`crate::rebalance`]).
    fn release_ready(&mut self) -> Result<()> {
        loop {
            let ready: Vec<StageId> = self
                .graph
                .stages
                .iter()
                .filter(|stage| {
                    self.stages[stage.id.0].state == StageState::Waiting
                        && stage
                            .inputs
                            .iter()
                            .copied()
                            .chain(self.graph.waits_for(stage.id))
                            .all(|i| self.stages[i.0].state.is_finished())
                })
                .map(|stage| stage.id)
                .collect();
            if ready.is_empty() {
                return Ok(());
            }
            for id in ready {
                self.start_stage(id)?;
            }
        }
    }

    /// Makes waiting stage `id` runnable; see [`QueryRun::release_ready`].
    fn start_stage(&mut self, id: StageId) -> Result<()> {
        let threads = self.options.threads;
        if let Some(target) = self.options.partition_target {
            if let Some(decision) =
                adapt_reads(&mut self.graph.stages, id, &self.store, target, threads)?
            {
                self.stages[id.0].metrics.reads = Some(decision);
            }
            self.rebalancer
                .prepare(&mut self.graph.stages[id.0], threads)?;
        }
        let stage = &self.graph.stages[id.0];
        let run = &mut self.stages[id.0];
        transition(run, StageEvent::InputsDone, id)?;
        run.coupled = has_coupled_partitions(&stage.plan);
        describe_stage(&mut run.metrics, stage);
        // An adaptive switch may have changed its task count since planning.
        run.remaining = stage.tasks();
        run.metrics.tasks = stage.tasks();
        self.order.push(id.0);
        if !matches!(stage.output, StageOutputKind::Result) {
            self.store.open(id, stage.tasks());
        }
        if stage.tasks() == 0 {
            transition(run, StageEvent::AllTasksSucceeded, id)?;
            for input in &stage.inputs {
                self.store.release(*input);
            }
            return Ok(());
        }
        let tasks = stage.tasks();
        self.enqueue((0..tasks).map(|task| (id, task)))
    }

    /// Queues `tasks`. A task of a limited stage is skipped instead; one of a running
    /// coupled stage is queued only when its run does not have it queued, running or
    /// done already, and not while the stage waits to run again (the rerun queues all
    /// its tasks).
    fn enqueue(&mut self, tasks: impl IntoIterator<Item = TaskId>) -> Result<()> {
        for (stage, task) in tasks {
            let run = &mut self.stages[stage.0];
            if run.state == StageState::Limited {
                self.skip_task(stage, task)?;
                continue;
            }
            if run.coupled
                && !run.state.is_finished()
                && (run.state == StageState::Rerunning || !run.live.insert(task))
            {
                continue;
            }
            // A task parked on a recomputation may also have been queued by a restart
            // of its stage meanwhile.
            let current = run.run;
            let pending = self.queue.iter().any(|Reverse(t)| *t == (stage, task))
                || self
                    .running
                    .iter()
                    .any(|r| r.id.task == (stage, task) && r.run == current && !r.recompute);
            if !pending {
                self.queue.push(Reverse((stage, task)));
            }
        }
        Ok(())
    }

    /// Gives up the current run of `stage` (coupled, or reading a map output recomputed
    /// whole), one of whose tasks failed: its queued
    /// tasks leave the queue and its running attempts are stopped (returned). The new
    /// run starts when the last of them is back, at once if none runs.
    fn give_up_run(&mut self, stage: StageId) -> Result<Vec<Action>> {
        let run = &mut self.stages[stage.0];
        run.metrics.stage_reruns += 1;
        run.run += 1;
        transition(run, StageEvent::RunGivenUp, stage)?;
        self.queue.retain(|Reverse((s, _))| *s != stage);
        let actions: Vec<Action> = self
            .running
            .iter()
            .filter(|r| r.id.task.0 == stage)
            .map(|r| Action::Abort(r.id))
            .collect();
        if actions.is_empty() {
            self.restart_stage(stage)?;
        }
        Ok(actions)
    }

    /// Starts the new run of coupled `stage` once the attempts of its old run are all
    /// back: discards what the stage produced (its map outputs, or the result batches),
    /// gives it a fresh plan instance and queues every task. The figures of its output
    /// start again; its time so far is kept.
    fn restart_stage(&mut self, stage: StageId) -> Result<()> {
        let st = &mut self.graph.stages[stage.0];
        st.plan = reset_plan_states(Arc::clone(&st.plan))?;
        match st.output {
            // Only the result stage returns batches.
            StageOutputKind::Result => self.result.clear(),
            StageOutputKind::Shuffle(_) | StageOutputKind::PassThrough => {
                self.store.open(stage, st.tasks());
            }
        }
        let tasks = st.tasks();
        let run = &mut self.stages[stage.0];
        transition(run, StageEvent::RunRestarted, stage)?;
        run.live.clear();
        run.remaining = tasks;
        let metrics = &mut run.metrics;
        metrics.output_rows = 0;
        metrics.shuffle_memory_bytes = 0;
        metrics.spilled_bytes = 0;
        metrics.spill_files = 0;
        metrics.skipped_tasks = 0;
        let discarded = std::mem::take(&mut metrics.task_metrics);
        metrics
            .other_attempts
            .extend(discarded.into_iter().map(|t| TaskMetrics {
                outcome: TaskOutcome::Discarded,
                ..t
            }));
        self.enqueue((0..tasks).map(|task| (stage, task)))
    }

    /// Splits the running task of a running stage with the most unread scan units: the
    /// second half becomes a new task of its stage, returned to start now.
    fn split_running_scan(&mut self) -> Option<TaskId> {
        let candidates: Vec<TaskId> = self
            .running
            .iter()
            .map(|r| r.id.task)
            .filter(|(stage, _)| self.stages[stage.0].state == StageState::Running)
            .collect();
        let (stage_id, task, partition) = self.rebalancer.split(candidates)?;
        let stage = &mut self.graph.stages[stage_id.0];
        stage.split_tasks.push(partition);
        debug_assert_eq!(stage.tasks(), task + 1);
        self.store.add_task(stage_id);
        let run = &mut self.stages[stage_id.0];
        run.remaining += 1;
        run.metrics.tasks += 1;
        run.metrics.scan_splits += 1;
        Some((stage_id, task))
    }

    /// Replaces the scan work units, for tests that split scans by hand.
    #[cfg(test)]
    pub(super) fn set_rebalancer(&mut self, rebalancer: Rebalancer) {
        self.rebalancer = rebalancer;
    }

    /// The stage graph as it is now.
    #[cfg(test)]
    pub(super) fn graph(&self) -> &StageGraph {
        &self.graph
    }
}

/// Records in `metrics` what `stage` is as it starts: the stages it reads, its operators
/// and where its output goes.
fn describe_stage(metrics: &mut StageMetrics, stage: &Stage) {
    metrics.inputs = stage.inputs.iter().map(|i| i.0).collect();
    let mut operators = Vec::new();
    let _ = stage.body().apply(|node| {
        operators.push(node.name().to_string());
        Ok(TreeNodeRecursion::Continue)
    });
    metrics.operators = operators;
    metrics.output = match &stage.output {
        StageOutputKind::Shuffle(Partitioning::Hash(_, n)) => {
            format!("hash shuffle to {n} partitions")
        }
        StageOutputKind::Shuffle(Partitioning::RoundRobinBatch(n)) => {
            format!("round robin shuffle to {n} partitions")
        }
        StageOutputKind::Shuffle(other) => {
            format!("shuffle to {} partitions", other.partition_count())
        }
        StageOutputKind::PassThrough => "pass-through".to_string(),
        StageOutputKind::Result => "result".to_string(),
    };
}
