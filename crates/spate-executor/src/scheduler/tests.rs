//! Event orders replayed on the state machine, on small stage graphs built by hand: no
//! SQL, no runtime, no timing. A "task" here is the test saying what the attempt did:
//! a map task's output is put into the shuffle store as the real task would.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{JoinType, NullEquality};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, UnboundedMemoryPool};
use datafusion::physical_expr::expressions::col;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::joins::{HashJoinExec, NestedLoopJoinExec, PartitionMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

use super::query_run::{Action, AttemptId, QueryRun, RunOptions, TaskOutput, TaskReport};
use crate::error::ExecutorError;
use crate::metrics::{StageEnd, TaskOutcome};
use crate::planner::{StageGraph, plan_stages};
use crate::rebalance::Rebalancer;
use crate::shuffle::{MapOutput, ShuffleReservation, ShuffleStore};
use crate::sizing::Sizing;
use crate::stage::{Stage, StageId, StageOutputKind, StageState};

fn schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]))
}

/// A plan of `partitions` partitions (the stage's tasks) that the test never executes.
fn scan(partitions: usize) -> Arc<dyn ExecutionPlan> {
    Arc::new(EmptyExec::new(schema("v")).with_partitions(partitions))
}

/// A plan of `partitions` coupled partitions: a left join emitting unmatched build rows.
fn coupled(partitions: usize) -> Arc<dyn ExecutionPlan> {
    let join = NestedLoopJoinExec::try_new(scan(1), scan(partitions), None, &JoinType::Left, None);
    Arc::new(join.unwrap())
}

fn stage(
    id: usize,
    plan: Arc<dyn ExecutionPlan>,
    output: StageOutputKind,
    inputs: &[usize],
) -> Stage {
    Stage {
        id: StageId(id),
        plan,
        output,
        inputs: inputs.iter().copied().map(StageId).collect(),
        row_limit: None,
        split_tasks: Vec::new(),
    }
}

fn shuffle(partitions: usize) -> StageOutputKind {
    StageOutputKind::Shuffle(Partitioning::RoundRobinBatch(partitions))
}

fn attempt(stage: usize, task: usize, attempt: u32) -> AttemptId {
    AttemptId {
        task: (StageId(stage), task),
        attempt,
    }
}

fn abort(stage: usize, task: usize, n: u32) -> Action {
    Action::Abort(attempt(stage, task, n))
}

fn flaky() -> DataFusionError {
    DataFusionError::IoError(io::Error::other("connection reset"))
}

fn cancelled(id: AttemptId) -> DataFusionError {
    DataFusionError::External(Box::new(ExecutorError::TaskCancelled {
        stage: id.task.0,
        task: id.task.1,
    }))
}

/// The error of a reader that found map output `task` of `stage`, written by `attempt`,
/// lost.
fn lost(stage: usize, task: usize, attempt: u32) -> DataFusionError {
    DataFusionError::External(Box::new(ExecutorError::MapOutputLost {
        stage: StageId(stage),
        task,
        attempt,
        partition: 0,
        reason: "its spill file is gone".into(),
    }))
}

/// A query run and the store its map tasks write into.
struct Replay {
    run: QueryRun,
    store: Arc<ShuffleStore>,
    pool: Arc<dyn MemoryPool>,
}

impl Replay {
    fn new(stages: Vec<Stage>, threads: usize, retries: usize) -> Self {
        let graph = StageGraph {
            stages,
            broadcasts: Vec::new(),
            filter_waits: Vec::new(),
        };
        let options = RunOptions {
            threads,
            broadcast_threshold: None,
            partition_target: None,
            retries,
            runtime_filters: false,
            task_timeline: true,
        };
        Self::of(graph, options, Arc::new(ShuffleStore::default()))
    }

    fn of(graph: StageGraph, options: RunOptions, store: Arc<ShuffleStore>) -> Self {
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        let run = QueryRun::new(graph, Arc::clone(&store), Arc::clone(&pool), options).unwrap();
        Replay { run, store, pool }
    }

    /// Starts every attempt the run hands out now.
    fn start(&mut self) -> Vec<AttemptId> {
        let mut started = Vec::new();
        while let Some(spec) = self.run.next_task(Duration::ZERO).unwrap() {
            started.push(spec.id);
        }
        started
    }

    fn state(&self, stage: usize) -> StageState {
        self.run.state(StageId(stage))
    }

    /// Map attempt `id` wrote `rows` rows into the store, and finished.
    fn map_done(&mut self, id: AttemptId, rows: u64) -> Vec<Action> {
        let (stage, task) = id.task;
        let planned = &self.run.graph().stages[stage.0];
        let consumer = MemoryConsumer::new("test map output").register(&self.pool);
        let reservation = ShuffleReservation::new(consumer, Arc::clone(self.store.memory()));
        let mut output = MapOutput::empty(
            task,
            planned.plan.schema(),
            planned.output_partitions(),
            reservation,
        );
        output.attempt = id.attempt;
        output.rows = rows;
        self.store.put(stage, task, output);
        let output = TaskOutput::Shuffled {
            rows,
            memory: 0,
            spilled: 0,
            files: 0,
        };
        self.run.on_task_finished(report(id), output).unwrap()
    }

    /// Result attempt `id` returned one batch of `values`.
    fn result_done(&mut self, id: AttemptId, values: &[i64]) -> Vec<Action> {
        let column = Arc::new(Int64Array::from(values.to_vec()));
        let batch = RecordBatch::try_new(schema("v"), vec![column]).unwrap();
        let output = TaskOutput::Result(vec![batch]);
        self.run.on_task_finished(report(id), output).unwrap()
    }

    fn fail(
        &mut self,
        id: AttemptId,
        err: DataFusionError,
    ) -> Result<Vec<Action>, DataFusionError> {
        self.run.on_task_failed(report(id), err)
    }

    /// The values of the query's result, after it ended.
    fn finish(self) -> (Vec<i64>, crate::metrics::QueryMetrics) {
        let (batches, metrics, _) = self.run.finish().unwrap();
        let values = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        (values, metrics)
    }
}

fn report(id: AttemptId) -> TaskReport {
    TaskReport {
        id,
        started: Duration::ZERO,
        at: Duration::ZERO,
        lane: 0,
        busy: Duration::ZERO,
        cpu: Duration::ZERO,
        peak_memory: 0,
    }
}

#[test]
fn the_normal_order_runs_stages_in_turn_and_returns_rows_in_partition_order() {
    let mut replay = Replay::new(
        vec![
            stage(0, scan(3), shuffle(2), &[]),
            stage(1, scan(2), StageOutputKind::Result, &[0]),
        ],
        2,
        3,
    );
    assert_eq!(replay.state(0), StageState::Runnable);
    assert_eq!(replay.state(1), StageState::Waiting);
    // Two workers: two tasks, then none until one is back.
    assert_eq!(replay.start(), [attempt(0, 0, 1), attempt(0, 1, 1)]);
    assert_eq!(replay.state(0), StageState::Running);
    assert_eq!(replay.map_done(attempt(0, 1, 1), 10), []);
    assert_eq!(replay.start(), [attempt(0, 2, 1)]);
    replay.map_done(attempt(0, 2, 1), 10);
    replay.map_done(attempt(0, 0, 1), 10);
    assert_eq!(replay.state(0), StageState::Done);
    assert_eq!(replay.state(1), StageState::Runnable);
    assert!(replay.store.has_stage(StageId(0)));
    assert_eq!(replay.start(), [attempt(1, 0, 1), attempt(1, 1, 1)]);
    replay.result_done(attempt(1, 1, 1), &[3, 4]);
    replay.result_done(attempt(1, 0, 1), &[1, 2]);
    assert_eq!(replay.state(1), StageState::Done);
    // The result stage read the map outputs, which are released with it.
    assert!(!replay.store.has_stage(StageId(0)));
    let (values, metrics) = replay.finish();
    assert_eq!(values, [1, 2, 3, 4]);
    let first = &metrics.stages[0];
    assert_eq!(
        (first.stage, first.tasks, first.attempts, first.output_rows),
        (0, 3, 3, 30)
    );
    assert_eq!(metrics.stages[1].output_rows, 4);
}

#[test]
fn a_retry_exhausting_its_attempts_fails_the_query() {
    let mut replay = Replay::new(vec![stage(0, scan(1), StageOutputKind::Result, &[])], 2, 2);
    for n in 1..=2 {
        assert_eq!(replay.start(), [attempt(0, 0, n)]);
        assert_eq!(replay.fail(attempt(0, 0, n), flaky()).unwrap(), []);
    }
    assert_eq!(replay.start(), [attempt(0, 0, 3)]);
    let err = replay.fail(attempt(0, 0, 3), flaky()).unwrap_err();
    assert!(err.to_string().contains("failed 3 times"), "{err}");
    assert_eq!(replay.state(0), StageState::Failed);
    assert_eq!(replay.run.metrics(StageId(0)).failed_attempts, 2);
}

#[test]
fn a_failed_query_leaves_its_stages_figures_as_they_stood() {
    let mut replay = Replay::new(
        vec![
            stage(0, scan(2), shuffle(2), &[]),
            stage(1, scan(2), shuffle(2), &[]),
            stage(2, scan(2), StageOutputKind::Result, &[0, 1]),
        ],
        2,
        0,
    );
    assert_eq!(replay.start(), [attempt(0, 0, 1), attempt(0, 1, 1)]);
    replay.map_done(attempt(0, 0, 1), 10);
    assert_eq!(replay.start(), [attempt(1, 0, 1)]);
    replay.fail(attempt(0, 1, 1), flaky()).unwrap_err();
    let figures = replay.run.figures_at_failure();
    // The stage whose task failed, then the one running beside it; the reader of both
    // never became runnable.
    let ends: Vec<_> = figures.stages.iter().map(|s| (s.stage, s.end)).collect();
    assert_eq!(ends, [(0, StageEnd::Failed), (1, StageEnd::Cancelled)]);
    let failed = &figures.stages[0];
    assert_eq!(
        (failed.task_metrics.len(), failed.other_attempts.len()),
        (1, 1)
    );
    assert_eq!(failed.other_attempts[0].outcome, TaskOutcome::Failed);
    assert_eq!(failed.output_rows, 10);
}

#[test]
fn a_task_failing_after_its_stage_was_rerun_reruns_it_again() {
    let mut replay = Replay::new(
        vec![stage(0, coupled(3), StageOutputKind::Result, &[])],
        3,
        2,
    );
    assert_eq!(replay.start().len(), 3);
    // Task 1 fails: the run is given up, its other attempts stopped.
    let actions = replay.fail(attempt(0, 1, 1), flaky()).unwrap();
    assert_eq!(actions, [abort(0, 0, 1), abort(0, 2, 1)]);
    assert_eq!(replay.state(0), StageState::Rerunning);
    assert_eq!(
        replay.start(),
        [],
        "nothing starts before the old run is back"
    );
    // The void attempts come back: one finished anyway, one stopped. Neither counts.
    assert_eq!(replay.result_done(attempt(0, 0, 1), &[-1]), []);
    assert_eq!(replay.state(0), StageState::Rerunning);
    assert_eq!(
        replay
            .fail(attempt(0, 2, 1), cancelled(attempt(0, 2, 1)))
            .unwrap(),
        []
    );
    assert_eq!(replay.state(0), StageState::Running);
    assert_eq!(
        replay.start(),
        [attempt(0, 0, 2), attempt(0, 1, 2), attempt(0, 2, 2)]
    );
    // A task of the new run fails: the stage runs a third time.
    replay.result_done(attempt(0, 0, 2), &[-2]);
    let actions = replay.fail(attempt(0, 2, 2), flaky()).unwrap();
    assert_eq!(actions, [abort(0, 1, 2)]);
    replay
        .fail(attempt(0, 1, 2), cancelled(attempt(0, 1, 2)))
        .unwrap();
    assert_eq!(
        replay.start(),
        [attempt(0, 0, 3), attempt(0, 1, 3), attempt(0, 2, 3)]
    );
    replay.result_done(attempt(0, 2, 3), &[30]);
    replay.result_done(attempt(0, 0, 3), &[10]);
    replay.result_done(attempt(0, 1, 3), &[20]);
    assert_eq!(replay.state(0), StageState::Done);
    let (values, metrics) = replay.finish();
    assert_eq!(values, [10, 20, 30], "only the last run's rows");
    let figures = &metrics.stages[0];
    assert_eq!((figures.stage_reruns, figures.failed_attempts), (2, 2));
    assert_eq!((figures.attempts, figures.output_rows), (9, 3));
    // Every attempt is in the timeline, once, with how it ended.
    let count = |outcome| {
        figures
            .other_attempts
            .iter()
            .filter(|t| t.outcome == outcome)
            .count()
    };
    assert_eq!(
        (
            count(TaskOutcome::Failed),
            count(TaskOutcome::Cancelled),
            count(TaskOutcome::Discarded)
        ),
        (2, 3, 1)
    );
    assert_eq!(
        figures.task_metrics.len() + figures.other_attempts.len(),
        figures.attempts as usize
    );
    assert!(figures.task_metrics.iter().all(|t| t.attempt == 3));
}

#[test]
fn a_stage_rerun_more_often_than_its_retries_fails_the_query() {
    let mut replay = Replay::new(
        vec![stage(0, coupled(1), StageOutputKind::Result, &[])],
        1,
        1,
    );
    assert_eq!(replay.start(), [attempt(0, 0, 1)]);
    assert_eq!(replay.fail(attempt(0, 0, 1), flaky()).unwrap(), []);
    assert_eq!(replay.start(), [attempt(0, 0, 2)]);
    let err = replay.fail(attempt(0, 0, 2), flaky()).unwrap_err();
    assert!(err.to_string().contains("stage 0 ran 2 times"), "{err}");
}

#[test]
fn a_split_finishing_after_a_limit_stop_keeps_its_rows() {
    let mut limited = stage(0, scan(2), StageOutputKind::PassThrough, &[]);
    limited.row_limit = Some(5);
    let reader = stage(1, scan(2), StageOutputKind::Result, &[0]);
    let mut replay = Replay::new(vec![limited, reader], 3, 3);
    // Task 1 holds six unread scan units: the idle third worker takes three.
    replay
        .run
        .set_rebalancer(Rebalancer::with_units(StageId(0), &[1, 6]));
    assert_eq!(
        replay.start(),
        [attempt(0, 0, 1), attempt(0, 1, 1), attempt(0, 2, 1)]
    );
    assert_eq!(replay.run.graph().stages[0].split_tasks, [1]);
    assert_eq!(replay.run.metrics(StageId(0)).scan_splits, 1);
    // Task 0 has the rows the limit needs: the others are stopped.
    let actions = replay.map_done(attempt(0, 0, 1), 5);
    assert_eq!(actions, [abort(0, 1, 1), abort(0, 2, 1)]);
    assert_eq!(replay.state(0), StageState::Limited);
    // The split was done before its stop reached it: its output stays.
    assert_eq!(replay.map_done(attempt(0, 2, 1), 3), []);
    assert_eq!(replay.state(0), StageState::Limited);
    // Task 1 comes back stopped: an empty output.
    replay
        .fail(attempt(0, 1, 1), cancelled(attempt(0, 1, 1)))
        .unwrap();
    assert_eq!(replay.state(0), StageState::Done);
    let outputs = replay.store.outputs(StageId(0)).unwrap();
    let rows: Vec<u64> = outputs
        .iter()
        .map(|o| o.as_ref().map_or(99, |o| o.rows))
        .collect();
    assert_eq!(rows, [5, 0, 3]);
    let figures = replay.run.metrics(StageId(0));
    assert_eq!(
        (figures.tasks, figures.output_rows, figures.skipped_tasks),
        (3, 8, 1)
    );
    assert_eq!(replay.state(1), StageState::Runnable);
}

#[test]
fn a_limit_skips_the_queued_tasks() {
    let mut limited = stage(0, scan(4), StageOutputKind::PassThrough, &[]);
    limited.row_limit = Some(1);
    let reader = stage(1, scan(4), StageOutputKind::Result, &[0]);
    let mut replay = Replay::new(vec![limited, reader], 1, 3);
    assert_eq!(replay.start(), [attempt(0, 0, 1)]);
    assert_eq!(replay.map_done(attempt(0, 0, 1), 1), []);
    // Tasks 1 to 3 never ran: each has an empty output, and the stage is done.
    assert_eq!(replay.state(0), StageState::Done);
    let figures = replay.run.metrics(StageId(0));
    assert_eq!((figures.skipped_tasks, figures.attempts), (3, 1));
    let outputs = replay.store.outputs(StageId(0)).unwrap();
    assert!(outputs.iter().all(Option::is_some));
}

#[test]
fn a_reader_waiting_for_a_lost_output_is_skipped_once_its_limit_has_the_rows() {
    let mut limited = stage(1, scan(2), StageOutputKind::PassThrough, &[0]);
    limited.row_limit = Some(1);
    let mut replay = Replay::new(
        vec![
            stage(0, scan(1), shuffle(2), &[]),
            limited,
            stage(2, scan(2), StageOutputKind::Result, &[1]),
        ],
        2,
        3,
    );
    assert_eq!(replay.start(), [attempt(0, 0, 1)]);
    replay.map_done(attempt(0, 0, 1), 4);
    assert_eq!(replay.start(), [attempt(1, 0, 1), attempt(1, 1, 1)]);
    // Task 1 waits for map output 0 to be written again; meanwhile task 0 has the row.
    assert!(
        replay
            .fail(attempt(1, 1, 1), lost(0, 0, 1))
            .unwrap()
            .is_empty()
    );
    assert!(replay.map_done(attempt(1, 0, 1), 1).is_empty());
    assert_eq!(replay.state(1), StageState::Limited);
    assert_eq!(replay.start(), [attempt(0, 0, 2)]);
    replay.map_done(attempt(0, 0, 2), 4);
    // Handed back, task 1 is not run but skipped, which finishes the stage.
    assert_eq!(replay.state(1), StageState::Done);
    let figures = replay.run.metrics(StageId(1));
    assert_eq!((figures.skipped_tasks, figures.attempts), (1, 2));
    assert_eq!(replay.start(), [attempt(2, 0, 1), attempt(2, 1, 1)]);
}

#[test]
fn a_map_output_lost_while_its_readers_run_is_recomputed_then_they_run_again() {
    let mut replay = Replay::new(
        vec![
            stage(0, scan(2), shuffle(2), &[]),
            stage(1, scan(3), shuffle(1), &[0]),
            stage(2, scan(1), StageOutputKind::Result, &[1]),
        ],
        3,
        2,
    );
    for id in replay.start() {
        replay.map_done(id, 1);
    }
    assert_eq!(
        replay.start(),
        [attempt(1, 0, 1), attempt(1, 1, 1), attempt(1, 2, 1)]
    );
    // Two readers find map output 1 lost; the first makes it run again, the second
    // waits for it; the third reader read it before it was lost, and finishes.
    assert_eq!(replay.fail(attempt(1, 0, 1), lost(0, 1, 1)).unwrap(), []);
    assert_eq!(
        replay.store.output_attempt(StageId(0), 1),
        None,
        "discarded"
    );
    assert_eq!(replay.fail(attempt(1, 2, 1), lost(0, 1, 1)).unwrap(), []);
    assert_eq!(replay.start(), [attempt(0, 1, 2)]);
    assert_eq!(replay.state(0), StageState::Recomputing);
    replay.map_done(attempt(1, 1, 1), 1);
    assert_eq!(replay.state(1), StageState::Running);
    replay.map_done(attempt(0, 1, 2), 1);
    assert_eq!(replay.state(0), StageState::Done);
    assert_eq!(replay.store.output_attempt(StageId(0), 1), Some(2));
    // The waiting readers run again.
    assert_eq!(replay.start(), [attempt(1, 0, 2), attempt(1, 2, 2)]);
    replay.map_done(attempt(1, 2, 2), 1);
    replay.map_done(attempt(1, 0, 2), 1);
    assert_eq!(replay.state(1), StageState::Done);
    assert!(
        !replay.store.has_stage(StageId(0)),
        "released once its readers are done"
    );
    let result = replay.start();
    replay.result_done(result[0], &[7]);
    let (values, metrics) = replay.finish();
    assert_eq!(values, [7]);
    let (map, reader) = (&metrics.stages[0], &metrics.stages[1]);
    assert_eq!(
        (map.attempts, map.recomputed_tasks, map.output_rows),
        (3, 1, 2)
    );
    assert_eq!(
        (reader.attempts, reader.failed_attempts, reader.output_rows),
        (5, 2, 3)
    );
}

#[test]
fn a_lost_output_of_a_coupled_stage_is_recomputed_whole_and_its_reader_runs_again() {
    let mut replay = Replay::new(
        vec![
            stage(0, coupled(2), shuffle(3), &[]),
            stage(1, scan(3), shuffle(1), &[0]),
            stage(2, scan(1), StageOutputKind::Result, &[1]),
        ],
        3,
        2,
    );
    for id in replay.start() {
        replay.map_done(id, 1);
    }
    let old_plan = Arc::clone(&replay.run.graph().stages[0].plan);
    assert_eq!(
        replay.start(),
        [attempt(1, 0, 1), attempt(1, 1, 1), attempt(1, 2, 1)]
    );
    replay.map_done(attempt(1, 2, 1), 1);
    // Map output 1 of the coupled stage is lost: one of its tasks cannot run again
    // alone, so both do, on a fresh plan instance, and the reading stage runs again
    // whole (its finished task read outputs that are replaced).
    let actions = replay.fail(attempt(1, 0, 1), lost(0, 1, 1)).unwrap();
    assert_eq!(actions, [abort(1, 1, 1)]);
    assert_eq!(replay.state(1), StageState::Rerunning);
    assert_eq!(
        replay.store.output_attempt(StageId(0), 0),
        None,
        "discarded"
    );
    assert!(!Arc::ptr_eq(&old_plan, &replay.run.graph().stages[0].plan));
    assert_eq!(replay.start(), [attempt(0, 0, 2), attempt(0, 1, 2)]);
    assert_eq!(replay.state(0), StageState::Recomputing);
    // The stopped reader is back: the reading stage's new run is queued; its first task
    // finds an output of the recomputed stage missing and waits for it.
    replay
        .fail(attempt(1, 1, 1), cancelled(attempt(1, 1, 1)))
        .unwrap();
    assert_eq!(replay.state(1), StageState::Running);
    assert_eq!(replay.start(), [attempt(1, 0, 2)]);
    assert_eq!(replay.fail(attempt(1, 0, 2), lost(0, 0, 0)).unwrap(), []);
    replay.map_done(attempt(0, 1, 2), 1);
    assert_eq!(replay.state(0), StageState::Recomputing);
    replay.map_done(attempt(0, 0, 2), 1);
    assert_eq!(replay.state(0), StageState::Done);
    assert_eq!(
        replay.start(),
        [attempt(1, 0, 3), attempt(1, 1, 2), attempt(1, 2, 2)],
        "every reader runs again, each once"
    );
    for id in [attempt(1, 2, 2), attempt(1, 0, 3), attempt(1, 1, 2)] {
        replay.map_done(id, 1);
    }
    assert_eq!(replay.state(1), StageState::Done);
    let result = replay.start();
    replay.result_done(result[0], &[7]);
    let (values, metrics) = replay.finish();
    assert_eq!(values, [7]);
    let (map, reader) = (&metrics.stages[0], &metrics.stages[1]);
    assert_eq!((map.recomputed_tasks, map.output_rows), (2, 2));
    assert_eq!((reader.stage_reruns, reader.output_rows), (1, 3));
}

/// `build` and `probe` scans of two partitions each, hash-shuffled into four and joined
/// partitioned, cut into stages: build (0), probe (1), join (2).
fn partitioned_join(store: &Arc<ShuffleStore>, sizing: &Sizing) -> StageGraph {
    let shuffled = |name: &str| {
        let scan = Arc::new(EmptyExec::new(schema(name)).with_partitions(2));
        let key = col(name, &schema(name)).unwrap();
        let hash = Partitioning::Hash(vec![key], 4);
        Arc::new(RepartitionExec::try_new(scan, hash).unwrap()) as Arc<dyn ExecutionPlan>
    };
    let on = vec![(
        col("b", &schema("b")).unwrap(),
        col("p", &schema("p")).unwrap(),
    )];
    let join = HashJoinExec::try_new(
        shuffled("b"),
        shuffled("p"),
        on,
        None,
        &JoinType::Inner,
        None,
        PartitionMode::Partitioned,
        NullEquality::NullEqualsNothing,
        false,
    )
    .unwrap();
    plan_stages(Arc::new(join), store, sizing).unwrap()
}

#[test]
fn a_small_build_side_switches_its_join_to_a_broadcast_join() {
    let sizing = Sizing {
        shuffle_partitions: None,
        shuffle_memory_cap: usize::MAX,
        join_build_budget: None,
        broadcast_threshold: Some(1 << 20),
        partition_target: None,
        runtime_filters: false,
    };
    let store = Arc::new(ShuffleStore::default());
    let graph = partitioned_join(&store, &sizing);
    assert_eq!(graph.broadcasts.len(), 1, "{}", graph.display());
    // Each map stage's sink is shown at the root of its plan.
    let shown = graph.display();
    for stage in 0..2 {
        let sink = format!("  ShuffleWriterExec: stage={stage}, partitioning=Hash(");
        assert!(shown.contains(&sink), "{shown}");
    }
    let options = RunOptions {
        threads: 2,
        broadcast_threshold: sizing.broadcast_threshold,
        partition_target: None,
        retries: 3,
        runtime_filters: false,
        task_timeline: true,
    };
    let mut replay = Replay::of(graph, options, store);
    // The probe stage waits for the build stage.
    assert_eq!(replay.state(1), StageState::Waiting);
    assert_eq!(replay.start(), [attempt(0, 0, 1), attempt(0, 1, 1)]);
    replay.map_done(attempt(0, 0, 1), 0);
    replay.map_done(attempt(0, 1, 1), 0);
    // The build output is empty, far below the threshold: the join stage absorbs the probe
    // stage and reads its input directly, in as many tasks as it has partitions.
    assert_eq!(replay.state(1), StageState::Absorbed);
    assert_eq!(replay.state(2), StageState::Runnable);
    assert_eq!(replay.run.graph().stages[2].inputs, [StageId(0)]);
    assert_eq!(replay.run.metrics(StageId(2)).broadcast_joins, 1);
    assert_eq!(replay.start(), [attempt(2, 0, 1), attempt(2, 1, 1)]);
    replay.result_done(attempt(2, 1, 1), &[]);
    replay.result_done(attempt(2, 0, 1), &[]);
    let (values, metrics) = replay.finish();
    assert!(values.is_empty());
    let ran: Vec<usize> = metrics.stages.iter().map(|s| s.stage).collect();
    assert_eq!(ran, [0, 2], "the absorbed stage never ran");
}

#[test]
fn progress_counts_tasks_done_and_running_per_stage() {
    use crate::live::{StagePhase, StageProgress};
    let mut replay = Replay::new(
        vec![
            stage(0, scan(3), shuffle(2), &[]),
            stage(1, scan(2), StageOutputKind::Result, &[0]),
        ],
        2,
        3,
    );
    let at = |stage, tasks, done, running, phase, rows| StageProgress {
        stage,
        tasks,
        done,
        running,
        phase,
        rows,
    };
    assert_eq!(
        replay.run.progress(),
        [
            at(0, 3, 0, 0, StagePhase::Waiting, 0),
            at(1, 2, 0, 0, StagePhase::Waiting, 0)
        ]
    );
    replay.start();
    replay.map_done(attempt(0, 1, 1), 10);
    assert_eq!(
        replay.run.progress()[0],
        at(0, 3, 1, 1, StagePhase::Running, 10)
    );
    replay.start();
    replay.map_done(attempt(0, 2, 1), 10);
    replay.map_done(attempt(0, 0, 1), 10);
    replay.start();
    assert_eq!(
        replay.run.progress(),
        [
            at(0, 3, 3, 0, StagePhase::Done, 30),
            at(1, 2, 0, 2, StagePhase::Running, 0)
        ]
    );
    replay.result_done(attempt(1, 1, 1), &[3, 4]);
    replay.result_done(attempt(1, 0, 1), &[1, 2]);
    assert_eq!(
        replay.run.progress()[1],
        at(1, 2, 2, 0, StagePhase::Done, 4)
    );
}
