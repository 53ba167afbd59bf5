//! Which task failures are retried, and how often.
//!
//! # Policy
//! A failed task attempt is classified by walking its error (through DataFusion's
//! `Context`, `Shared` and `External` wrappers, Arrow's `ExternalError` and the
//! `source()` chain) to its cause:
//!
//! | cause | what happens |
//! |---|---|
//! | a map output it read is lost or corrupt ([`ExecutorError::MapOutputLost`]) | the map task runs again ([`crate::lineage`]), then this task; not counted as its failure. When that map task's stage, or a released stage it reads, has coupled partitions, the whole stage runs again, and so does this task's stage (it counts as a rerun of it) |
//! | I/O errors (but see below), panics, injected failures, checksum mismatches of its own spill files, a failed join of a spawned task, `ResourcesExhausted`, unknown external errors | retried as a fresh attempt while the task has failed at most `task_retries` times |
//! | either of the two above, in a task of a stage with coupled partitions ([`has_coupled_partitions`]) after it started | its **whole stage** runs again, on a fresh plan instance, while the stage has run again at most `task_retries` times (see below) |
//! | planning, SQL, schema and type errors, DataFusion's execution errors (raised by functions and operators on the data they were given: `range(1, 1, 0)`, an array too large), not-implemented, internal errors, arithmetic (overflow, division by zero), casts and parsing, Parquet/CSV/JSON decoding, a path that is not found or not allowed (`NotFound`, `PermissionDenied`), cancellation | the query fails at once |
//! | anything, in a task that writes files ([`has_side_effects`]) after it started | the query fails at once |
//!
//! `ResourcesExhausted` is retried: a task that ran out of memory while other tasks held
//! most of the pool may well fit once they finished, and a query that cannot fit fails
//! after a few more attempts of that one task, which costs little next to the query.
//! A task that exhausts its retries fails the query with its last error, wrapped in
//! [`ExecutorError::RetriesExhausted`] saying how many attempts it made (except running
//! out of memory, which stays itself so that its message can name the limit).
//!
//! # Coupled stages
//! The partitions of a stage with coupled partitions share state in their plan instance
//! (the visited bitmap of a `CollectLeft` join that emits build-side rows), so one task
//! cannot run again alone. When one fails after it started, the scheduler runs the
//! stage again whole ([`Next::RerunStage`]): it stops the stage's other attempts (they are
//! void), discards every output the stage wrote (map outputs, or result batches, which
//! are only handed to the caller when the query is done), gives the stage a fresh plan
//! instance that all its tasks share, and queues every task as a new attempt. Each
//! rerun counts against the *stage's* budget of `task_retries`: a stage runs at most
//! `task_retries + 1` times, then fails the query with
//! [`ExecutorError::StageRerunsExhausted`]. Each task of a coupled stage checks its
//! shuffle input before it starts: a lost map output found then only makes it wait for
//! the map task to run again ([`INPUT_CHECK`]; it did nothing yet, so it then joins its
//! siblings' instance). One found after it started (real corruption only) reruns the
//! stage, whose tasks then find it by that check. A lost map output whose recomputation
//! would run a coupled stage is recomputed whole, and the stage that found it runs again
//! ([`Next::RecomputeThenRerun`], [`crate::lineage`]); fault injection never corrupts a
//! coupled stage's own output. Since every task of the stage must succeed in the same run, a fraction `f` of failing
//! attempts lets a run of `n` tasks succeed with probability `(1 - f)^n` only: large
//! coupled stages under heavy failure rates may exhaust their reruns.

use std::collections::HashMap;
use std::error::Error;
use std::io;

use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::common::JoinType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, NestedLoopJoinExec, PartitionMode};

use crate::error::ExecutorError;
use crate::lineage::{Found, Lineage, TaskId, runs_coupled_stage};
use crate::planner::StageGraph;
use crate::shuffle::ShuffleStore;
use crate::stage::StageId;

/// What a failure is; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No retry can fix it.
    Fatal,
    /// A fresh attempt may succeed.
    Retryable,
    /// A map output it read, written by attempt `attempt` (0: missing), is lost: map task
    /// `task` of `stage` must run again.
    Lost {
        stage: StageId,
        task: usize,
        attempt: u32,
    },
}

/// Classifies a task's error; see the module doc.
pub(crate) fn classify(err: &DataFusionError) -> Failure {
    use DataFusionError as E;
    match err {
        E::External(e) => classify_source(e.as_ref()),
        E::ArrowError(e, _) => classify_arrow(e),
        E::IoError(e) => classify_io(e),
        E::ObjectStore(e) => match e.as_ref() {
            datafusion::object_store::Error::NotFound { .. }
            | datafusion::object_store::Error::PermissionDenied { .. }
            | datafusion::object_store::Error::Unauthenticated { .. }
            | datafusion::object_store::Error::NotImplemented { .. } => Failure::Fatal,
            _ => Failure::Retryable,
        },
        E::Context(_, inner) | E::Diagnostic(_, inner) => classify(inner),
        E::Shared(inner) => classify(inner),
        E::Collection(errors) => errors.first().map_or(Failure::Fatal, classify),
        E::ResourcesExhausted(_) | E::ExecutionJoin(_) => Failure::Retryable,
        _ => Failure::Fatal,
    }
}

fn classify_source(err: &(dyn Error + 'static)) -> Failure {
    if let Some(e) = err.downcast_ref::<ExecutorError>() {
        return match e {
            ExecutorError::MapOutputLost {
                stage,
                task,
                attempt,
                ..
            } => Failure::Lost {
                stage: *stage,
                task: *task,
                attempt: *attempt,
            },
            ExecutorError::TaskPanicked { .. }
            | ExecutorError::ChecksumMismatch { .. }
            | ExecutorError::InjectedFailure { .. } => Failure::Retryable,
            ExecutorError::TaskCancelled { .. }
            | ExecutorError::RetriesExhausted { .. }
            | ExecutorError::StageRerunsExhausted { .. }
            | ExecutorError::MissingStageOutput { .. }
            | ExecutorError::PartitionTaken { .. } => Failure::Fatal,
        };
    }
    if let Some(e) = err.downcast_ref::<DataFusionError>() {
        return classify(e);
    }
    if let Some(e) = err.downcast_ref::<ArrowError>() {
        return classify_arrow(e);
    }
    if let Some(e) = err.downcast_ref::<io::Error>() {
        return classify_io(e);
    }
    match err.source() {
        Some(source) => classify_source(source),
        None => Failure::Retryable,
    }
}

fn classify_arrow(err: &ArrowError) -> Failure {
    match err {
        ArrowError::ExternalError(e) => classify_source(e.as_ref()),
        ArrowError::IoError(_, e) => classify_io(e),
        ArrowError::MemoryError(_) | ArrowError::IpcError(_) => Failure::Retryable,
        _ => Failure::Fatal,
    }
}

fn classify_io(err: &io::Error) -> Failure {
    match err.kind() {
        io::ErrorKind::NotFound
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::Unsupported => Failure::Fatal,
        _ => match err.get_ref() {
            Some(inner) => match classify_source(inner) {
                Failure::Fatal => Failure::Fatal,
                other => other,
            },
            None => Failure::Retryable,
        },
    }
}

/// What to do after a failed attempt that does not fail the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Queue these tasks: the failed task itself, or the first tasks of a recomputation
    /// (possibly none, when the failed task waits for one already running).
    Queue(Vec<TaskId>),
    /// Run the failed task's whole stage again (its partitions are coupled); see the
    /// module doc.
    RerunStage,
    /// Queue these tasks, the first of a whole recomputation of a lost map output's
    /// stage ([`crate::lineage`]), and run the failed task's whole stage again: some of
    /// its tasks read outputs that the recomputation replaces.
    RecomputeThenRerun(Vec<TaskId>),
}

/// The attempts and failures of every task of a query, the reruns of its coupled
/// stages, and its lost map outputs.
#[derive(Debug)]
pub(crate) struct Recovery {
    retries: usize,
    attempts: HashMap<TaskId, u32>,
    failures: HashMap<TaskId, usize>,
    reruns: HashMap<StageId, usize>,
    lineage: Lineage,
}

impl Recovery {
    /// Tasks are retried at most `retries` times; a map output is recomputed at most
    /// `retries + 1` times.
    pub fn new(retries: usize) -> Self {
        Recovery {
            retries,
            attempts: HashMap::new(),
            failures: HashMap::new(),
            reruns: HashMap::new(),
            lineage: Lineage::new(retries + 1),
        }
    }

    /// Starts a new attempt of `task`; returns its number, from 1.
    pub fn start(&mut self, task: TaskId) -> u32 {
        let attempt = self.attempts.entry(task).or_insert(0);
        *attempt += 1;
        *attempt
    }

    /// An attempt of `task` failed with `err`; `recompute` says whether it was
    /// recomputing a lost map output. Returns what to do next, or the error that fails
    /// the query. A recomputation may give stages fresh plan instances in `graph`.
    pub fn failed(
        &mut self,
        task: TaskId,
        err: DataFusionError,
        recompute: bool,
        graph: &mut StageGraph,
        store: &ShuffleStore,
    ) -> Result<Next> {
        let plan = &graph.stages[task.0.0].plan;
        // A task that cannot run again once it started may still wait for a lost input
        // found before it started (see `INPUT_CHECK`).
        let checked = matches!(&err, DataFusionError::Context(c, _) if c == INPUT_CHECK);
        let side_effects = has_side_effects(plan);
        if side_effects && !checked {
            return Err(err);
        }
        let coupled = has_coupled_partitions(plan) && !checked;
        if coupled && recompute {
            // A whole recomputation's task: its stage is finished, so it cannot be rerun
            // the way a running coupled stage is.
            return Err(err);
        }
        match classify(&err) {
            Failure::Fatal => Err(err),
            // Its rerun's tasks find the lost output before they start.
            Failure::Lost { .. } | Failure::Retryable if coupled => {
                self.rerun(task.0, err).map(|()| Next::RerunStage)
            }
            Failure::Lost {
                stage,
                task: map,
                attempt,
            } => {
                // Its siblings may have written already: it cannot run again whole.
                if side_effects && runs_coupled_stage(graph, store, stage) {
                    return Err(err);
                }
                let found =
                    self.lineage
                        .lost(task, ((stage, map), attempt), recompute, graph, store);
                match found {
                    Ok(Found::Queue(tasks)) => Ok(Next::Queue(tasks)),
                    Ok(Found::Whole(tasks)) => self
                        .rerun(task.0, err)
                        .map(|()| Next::RecomputeThenRerun(tasks)),
                    Err(e) => Err(DataFusionError::Context(e.to_string(), Box::new(err))),
                }
            }
            Failure::Retryable => {
                let failures = self.failures.entry(task).or_insert(0);
                *failures += 1;
                if *failures > self.retries {
                    let attempts = self.attempts.get(&task).copied().unwrap_or(1);
                    // Out of memory and a full disk stay what they are, so that their
                    // messages can say which limit to raise or which disk is full.
                    if keeps_its_message(&err) {
                        return Err(err);
                    }
                    Err(DataFusionError::External(Box::new(
                        ExecutorError::RetriesExhausted {
                            stage: task.0,
                            task: task.1,
                            attempts,
                            retries: self.retries,
                            last: Box::new(err),
                        },
                    )))
                } else {
                    Ok(Next::Queue(vec![task]))
                }
            }
        }
    }

    /// Counts a rerun of coupled `stage`, whose run failed with `err`; the error that
    /// fails the query once the stage has run `retries + 1` times.
    fn rerun(&mut self, stage: StageId, err: DataFusionError) -> Result<()> {
        let reruns = self.reruns.entry(stage).or_insert(0);
        *reruns += 1;
        if *reruns <= self.retries {
            return Ok(());
        }
        if keeps_its_message(&err) {
            return Err(err);
        }
        Err(DataFusionError::External(Box::new(
            ExecutorError::StageRerunsExhausted {
                stage,
                runs: *reruns,
                retries: self.retries,
                last: Box::new(err),
            },
        )))
    }

    /// A task recomputing a lost map output finished; returns the tasks to queue now.
    pub fn recomputed(
        &mut self,
        graph: &mut StageGraph,
        store: &ShuffleStore,
    ) -> Result<Vec<TaskId>> {
        self.lineage.finished(graph, store)
    }
}

/// The context of a lost map output found by the check a task that cannot run again
/// alone makes of its input before it starts (writes, coupled partitions): it did
/// nothing yet, so it may wait for the map task to run again and then start.
pub(crate) const INPUT_CHECK: &str = "input checked before the task started";

/// Whether the partitions of `plan` depend on each other's completion, so that one of
/// them cannot run again alone: a hash or nested-loop join that collects its build side
/// once for all partitions and, for a join type that returns build-side rows (left,
/// left semi/anti/mark, full), lets the *last* probe partition to finish emit them. A
/// failed partition never finishes in its plan instance, and a retry on a fresh copy
/// would wait for siblings that never run there, so the rows would be lost silently.
/// A failure of such a task after it started runs its whole stage again on one fresh
/// copy (see the module doc); like a task that writes, it checks its shuffle input
/// before it starts, so a lost map output is recomputed first and the task then joins
/// its siblings' instance.
pub(crate) fn has_coupled_partitions(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let emits_build_rows = |t: &JoinType| {
        matches!(
            t,
            JoinType::Left
                | JoinType::LeftSemi
                | JoinType::LeftAnti
                | JoinType::LeftMark
                | JoinType::Full
        )
    };
    let mut coupled = false;
    let _ = plan.apply(|node| {
        if let Some(join) = node.downcast_ref::<HashJoinExec>() {
            coupled |= *join.partition_mode() == PartitionMode::CollectLeft
                && emits_build_rows(join.join_type());
        }
        if let Some(join) = node.downcast_ref::<NestedLoopJoinExec>() {
            coupled |= emits_build_rows(join.join_type());
        }
        Ok(if coupled {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    coupled
}

/// Whether `err` is out of memory or a full disk, which the caller explains itself.
fn keeps_its_message(err: &DataFusionError) -> bool {
    if matches!(err.find_root(), DataFusionError::ResourcesExhausted(_)) {
        return true;
    }
    let mut next: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::StorageFull)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether running `plan` has effects beyond its output (it writes files through a
/// `DataSinkExec`, or commits): such a task is neither retried nor made to fail on
/// purpose, since a failed attempt may have written part of its files already. It
/// checks its shuffle input before it starts ([`ShuffleStore::verify`]), so a lost map
/// output is found, and recomputed, before it writes; one lost while it writes (after
/// that check, real corruption only) fails the query.
pub(crate) fn has_side_effects(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut writes = false;
    let _ = plan.apply(|node| {
        writes |=
            node.downcast_ref::<DataSinkExec>().is_some() || node.name().ends_with("CommitExec");
        Ok(if writes {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    writes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(e: ExecutorError) -> DataFusionError {
        DataFusionError::External(Box::new(e))
    }

    #[test]
    fn deterministic_errors_are_fatal() {
        let fatal = [
            DataFusionError::Plan("no such column".into()),
            DataFusionError::SQL(
                Box::new(datafusion::sql::sqlparser::parser::ParserError::ParserError("x".into())),
                None,
            ),
            DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None),
            DataFusionError::ArrowError(
                Box::new(ArrowError::ArithmeticOverflow("1 + max".into())),
                None,
            ),
            DataFusionError::ArrowError(Box::new(ArrowError::CastError("'x' to int".into())), None),
            DataFusionError::IoError(io::Error::new(io::ErrorKind::NotFound, "/no/such.csv")),
            DataFusionError::Internal("bug".into()),
            DataFusionError::Execution("step can't be 0".into()),
            DataFusionError::Context(
                "reading".into(),
                Box::new(DataFusionError::NotImplemented("x".into())),
            ),
            external(ExecutorError::TaskCancelled {
                stage: StageId(0),
                task: 0,
            }),
        ];
        for err in fatal {
            assert_eq!(classify(&err), Failure::Fatal, "{err}");
        }
    }

    #[test]
    fn transient_errors_are_retried() {
        let retryable = [
            DataFusionError::IoError(io::Error::other("connection reset")),
            DataFusionError::ResourcesExhausted("pool".into()),
            external(ExecutorError::TaskPanicked {
                stage: StageId(1),
                task: 2,
                message: "boom".into(),
            }),
            external(ExecutorError::InjectedFailure {
                stage: StageId(1),
                task: 2,
                attempt: 1,
            }),
            DataFusionError::Shared(std::sync::Arc::new(external(
                ExecutorError::ChecksumMismatch {
                    path: "f".into(),
                    offset: 0,
                    expected: 1,
                    actual: 2,
                },
            ))),
            DataFusionError::ArrowError(
                Box::new(ArrowError::ExternalError(Box::new(io::Error::other("eof")))),
                None,
            ),
        ];
        for err in retryable {
            assert_eq!(classify(&err), Failure::Retryable, "{err}");
        }
    }

    #[test]
    fn a_lost_map_output_is_found_under_wrappers() {
        let lost = external(ExecutorError::MapOutputLost {
            stage: StageId(3),
            task: 4,
            attempt: 2,
            partition: 0,
            reason: "checksum".into(),
        });
        let wrapped = DataFusionError::Context(
            "join".into(),
            Box::new(DataFusionError::Shared(std::sync::Arc::new(
                DataFusionError::ArrowError(
                    Box::new(ArrowError::ExternalError(Box::new(lost))),
                    None,
                ),
            ))),
        );
        assert_eq!(
            classify(&wrapped),
            Failure::Lost {
                stage: StageId(3),
                task: 4,
                attempt: 2
            }
        );
    }

    /// A graph of these stages, each a result stage reading the stages before it.
    fn graph(plans: Vec<Arc<dyn ExecutionPlan>>) -> StageGraph {
        let stages = plans
            .into_iter()
            .enumerate()
            .map(|(i, plan)| crate::stage::Stage {
                id: StageId(i),
                plan,
                output: crate::stage::StageOutputKind::Result,
                inputs: (0..i).map(StageId).collect(),
                row_limit: None,
                split_tasks: Vec::new(),
            })
            .collect();
        StageGraph {
            stages,
            broadcasts: Vec::new(),
            filter_waits: Vec::new(),
        }
    }

    fn empty() -> Arc<dyn ExecutionPlan> {
        use datafusion::arrow::datatypes::Schema;
        use datafusion::physical_plan::empty::EmptyExec;
        Arc::new(EmptyExec::new(Arc::new(Schema::empty())))
    }

    #[test]
    fn a_task_is_retried_its_retries_then_fails_and_a_fatal_error_is_never_retried() {
        let mut graph = graph(vec![empty()]);
        let store = ShuffleStore::default();
        let mut recovery = Recovery::new(2);
        let task = (StageId(0), 1);
        let flaky = || DataFusionError::IoError(io::Error::other("reset"));
        for _ in 0..2 {
            recovery.start(task);
            let queued = recovery.failed(task, flaky(), false, &mut graph, &store);
            assert_eq!(queued.ok(), Some(Next::Queue(vec![task])));
        }
        assert_eq!(recovery.start(task), 3);
        let err = recovery.failed(task, flaky(), false, &mut graph, &store);
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("failed 3 times"), "{message}");

        let other = (StageId(0), 2);
        assert_eq!(recovery.start(other), 1);
        let divide = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        let err = recovery.failed(other, divide, false, &mut graph, &store);
        assert!(matches!(err, Err(DataFusionError::ArrowError(..))));
    }

    #[test]
    fn a_failed_task_of_a_coupled_stage_reruns_the_stage_within_a_stage_budget() {
        let join = NestedLoopJoinExec::try_new(empty(), empty(), None, &JoinType::Left, None);
        let plan: Arc<dyn ExecutionPlan> = Arc::new(join.expect("a valid join"));
        assert!(has_coupled_partitions(&plan));
        let mut graph = graph(vec![empty(), plan]);
        let store = ShuffleStore::default();
        let mut recovery = Recovery::new(2);
        let flaky = || DataFusionError::IoError(io::Error::other("reset"));
        // Different tasks fail; each failure reruns the stage and counts against it.
        for task in [(StageId(1), 0), (StageId(1), 1)] {
            recovery.start(task);
            let next = recovery.failed(task, flaky(), false, &mut graph, &store);
            assert_eq!(next.ok(), Some(Next::RerunStage));
        }
        // A lost input found before a task started only waits for its recomputation.
        let lost = external(ExecutorError::MapOutputLost {
            stage: StageId(0),
            task: 0,
            attempt: 0,
            partition: 0,
            reason: "it is missing".into(),
        });
        let checked = DataFusionError::Context(INPUT_CHECK.into(), Box::new(lost));
        let next = recovery.failed((StageId(1), 3), checked, false, &mut graph, &store);
        assert_eq!(next.ok(), Some(Next::Queue(vec![(StageId(0), 0)])));
        // The third failure is one rerun too many: the stage ran 3 times.
        let err = recovery.failed((StageId(1), 2), flaky(), false, &mut graph, &store);
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("stage 1 ran 3 times"), "{message}");
        // A fatal error fails at once.
        let mut recovery = Recovery::new(2);
        let divide = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        let err = recovery.failed((StageId(1), 0), divide, false, &mut graph, &store);
        assert!(matches!(err, Err(DataFusionError::ArrowError(..))));
    }
}
