//! Stages: a DataFusion operator tree whose leaves are scans or shuffle readers.
//!
//! # Lifecycle
//! ```text
//!   Waiting ──(inputs done)──► Runnable ──(a task starts)──► Running ──(all succeeded)──► Done
//!     │                           └──(no tasks)───────────────────────────────────────► Done
//!     └──(absorbed)──► Absorbed
//!   Running ──(its LIMIT has the rows)──► Limited ──(its stopped tasks are back)──► Done
//!   Running, Limited ──(a task of coupled partitions failed)──► Rerunning
//!   Rerunning ──(the attempts of the given-up run are back)──► Running (a new run)
//!   Runnable, Running, Limited ──(a task failed for good)──► Failed
//!   Done ──(a lost map output is written again)──► Recomputing ──(the last is back)──► Done
//! ```
//! A stage counts as finished for the stages reading it when it is `Done`, `Recomputing`
//! (its lost output is being written again; a reader finding it missing waits) or
//! `Absorbed`. The scheduler drives these states ([`crate::scheduler`]).
//!
//! A stage is *absorbed* when the stage reading it takes over its plan (a join switched to
//! a broadcast join reads its probe side's input directly, see [`crate::adaptive`]).

use std::fmt;
use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use crate::shuffle::ShuffleWriterExec;

/// The id of a stage within one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(pub usize);

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a stage's tasks send their output.
#[derive(Debug, Clone)]
pub enum StageOutputKind {
    /// Rows are split among reduce partitions by this partitioning (hash or round robin).
    Shuffle(Partitioning),
    /// Map task `i`'s rows form reduce partition `i` (feeding a merge or a coalesce).
    PassThrough,
    /// The query's result.
    Result,
}

/// Where a stage is in its life; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    /// Some input stage is not done.
    Waiting,
    /// Its inputs are done; no task has started.
    Runnable,
    /// Tasks are running.
    Running,
    /// A `LIMIT` above has the rows it needs: its queued tasks were skipped, and those
    /// still running are being stopped.
    Limited,
    /// Its partitions are coupled and one of its tasks failed: the run was given up, and
    /// the stage runs again whole once the attempts of the old run are back.
    Rerunning,
    /// Every task succeeded.
    Done,
    /// Done, and some of its map tasks run again because an output they wrote was lost.
    Recomputing,
    /// The stage reading it took over its plan before it ran; it never runs.
    Absorbed,
    /// A task failed and no retry could help.
    Failed,
}

impl StageState {
    /// The state after `event`, or `None` when the event is not allowed in this state.
    pub fn next(self, event: StageEvent) -> Option<StageState> {
        use StageEvent::*;
        use StageState::*;
        match (self, event) {
            (Waiting, InputsDone) => Some(Runnable),
            (Runnable | Running, TaskStarted) => Some(Running),
            // A stage with no tasks (an empty input) is done as soon as it may run.
            (Runnable | Running | Limited, AllTasksSucceeded) => Some(Done),
            (Running, LimitReached) => Some(Limited),
            (Running | Limited, RunGivenUp) => Some(Rerunning),
            (Rerunning, RunRestarted) => Some(Running),
            (Runnable | Running | Limited, TaskFailed) => Some(Failed),
            (Done | Recomputing, RecomputeStarted) => Some(Recomputing),
            (Recomputing, RecomputeEnded) => Some(Done),
            (Waiting, StageEvent::Absorbed) => Some(StageState::Absorbed),
            _ => None,
        }
    }

    /// Whether the stages reading it may run: its output is there (or being written
    /// again), or it was absorbed.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            StageState::Done | StageState::Recomputing | StageState::Absorbed
        )
    }
}

/// What happens to a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageEvent {
    /// Every stage it reads is done.
    InputsDone,
    /// One of its tasks started.
    TaskStarted,
    /// Its finished tasks have the rows its `LIMIT` needs.
    LimitReached,
    /// A task of its coupled partitions failed: its current run is given up.
    RunGivenUp,
    /// The attempts of its given-up run are back: it runs again whole.
    RunRestarted,
    /// Its last task succeeded.
    AllTasksSucceeded,
    /// One of its tasks failed and fails the query.
    TaskFailed,
    /// One of its map tasks runs again, to write a lost output again.
    RecomputeStarted,
    /// The last of its map tasks running again is back.
    RecomputeEnded,
    /// The stage reading it took over its plan before it ran.
    Absorbed,
}

/// One stage of a query.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its id; stages are numbered in the order they must run.
    pub id: StageId,
    /// The operators it runs; leaves are scans or shuffle readers. A map stage's root is
    /// its sink, a [`ShuffleWriterExec`] over its [body](Stage::body).
    pub plan: Arc<dyn ExecutionPlan>,
    /// Where its output goes.
    pub output: StageOutputKind,
    /// The stages it reads.
    pub inputs: Vec<StageId>,
    /// Rows its reader needs at most, from any tasks (a pass-through stage under a
    /// `LIMIT` without order): once its finished tasks have produced that many, the tasks
    /// not yet started are skipped.
    pub row_limit: Option<usize>,
    /// Tasks added while it ran, each taking half the unread scan of a running task
    /// ([`crate::rebalance`]): the plan partition each executes. They are numbered after the
    /// plan's partitions, in the order they were added.
    pub split_tasks: Vec<usize>,
}

impl Stage {
    /// Its number of tasks: one per output partition of its plan, and those split off
    /// running tasks.
    pub fn tasks(&self) -> usize {
        self.plan_partitions() + self.split_tasks.len()
    }

    /// The output partitions of its plan.
    pub fn plan_partitions(&self) -> usize {
        self.body().output_partitioning().partition_count()
    }

    /// What it computes: its plan without the [`ShuffleWriterExec`] at a map stage's
    /// root. Plan rewrites work on this.
    pub fn body(&self) -> &Arc<dyn ExecutionPlan> {
        match self.plan.downcast_ref::<ShuffleWriterExec>() {
            Some(writer) => writer.input(),
            None => &self.plan,
        }
    }

    /// Replaces what it computes, under the same sink.
    pub fn set_body(&mut self, body: Arc<dyn ExecutionPlan>) {
        self.plan = match self.plan.downcast_ref::<ShuffleWriterExec>() {
            Some(writer) => Arc::new(writer.with_input(body)) as Arc<dyn ExecutionPlan>,
            None => body,
        };
    }

    /// The plan partition task `task` executes.
    pub fn partition_of(&self, task: usize) -> usize {
        let planned = self.plan_partitions();
        if task < planned {
            task
        } else {
            self.split_tasks
                .get(task - planned)
                .copied()
                .unwrap_or(task)
        }
    }

    /// Reduce partitions of its output: a pass-through stage's task writes the reduce
    /// partition of the plan partition it executes.
    pub fn output_partitions(&self) -> usize {
        match &self.output {
            StageOutputKind::Shuffle(p) => p.partition_count(),
            StageOutputKind::PassThrough | StageOutputKind::Result => self.plan_partitions(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_transitions() {
        use StageEvent::*;
        use StageState::*;
        let done = [InputsDone, TaskStarted, TaskStarted, AllTasksSucceeded]
            .into_iter()
            .try_fold(Waiting, |s, e| s.next(e));
        assert_eq!(done, Some(Done));
        assert_eq!(Waiting.next(TaskStarted), None);
        assert_eq!(Running.next(TaskFailed), Some(Failed));
        assert_eq!(Done.next(TaskFailed), None);
        assert_eq!(
            Waiting.next(StageEvent::Absorbed),
            Some(StageState::Absorbed)
        );
        assert_eq!(Running.next(StageEvent::Absorbed), None);
        let rerun = [LimitReached, RunGivenUp, RunRestarted, AllTasksSucceeded]
            .into_iter()
            .try_fold(Running, |s, e| s.next(e));
        assert_eq!(rerun, Some(Done));
        assert_eq!(Done.next(RecomputeStarted), Some(Recomputing));
        assert_eq!(Recomputing.next(RecomputeEnded), Some(Done));
        assert_eq!(Rerunning.next(TaskStarted), None);
        assert!(Recomputing.is_finished() && !Limited.is_finished());
    }
}
