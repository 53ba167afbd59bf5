//! Stages: a DataFusion operator tree whose leaves are scans or shuffle readers.
//!
//! # Lifecycle
//! ```text
//!   Waiting ──(all input stages Done)──► Runnable ──(first task starts)──► Running
//!      │                                    └──(no tasks)──► Done               │
//!      └──(absorbed)──► Done             Failed ◄──(a task fails)───────────┤
//!                                        Done   ◄──(every task succeeded)───┘
//! ```
//! A stage whose partitions are coupled stays `Running` while it runs again whole after
//! a failed task (see [`crate::scheduler`]).
//!
//! A stage is *absorbed* when the stage reading it takes over its plan (a join switched to
//! a broadcast join reads its probe side's input directly, see [`crate::adaptive`]).

use std::fmt;
use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

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
    /// Every task succeeded.
    Done,
    /// A task failed.
    Failed,
}

impl StageState {
    /// The state after `event`, or `None` when the event is not allowed in this state.
    pub fn next(self, event: StageEvent) -> Option<StageState> {
        use StageEvent::*;
        use StageState::*;
        match (self, event) {
            (Waiting, InputsDone) => Some(Runnable),
            (Runnable, TaskStarted) => Some(Running),
            (Running, TaskStarted) => Some(Running),
            (Running, AllTasksSucceeded) => Some(Done),
            // A stage with no tasks (an empty input) is done as soon as it may run.
            (Runnable, AllTasksSucceeded) => Some(Done),
            (Runnable | Running, TaskFailed) => Some(Failed),
            (Waiting, Absorbed) => Some(Done),
            _ => None,
        }
    }
}

/// What happens to a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageEvent {
    /// Every stage it reads is done.
    InputsDone,
    /// One of its tasks started.
    TaskStarted,
    /// Its last task succeeded.
    AllTasksSucceeded,
    /// One of its tasks failed.
    TaskFailed,
    /// The stage reading it took over its plan before it ran.
    Absorbed,
}

/// One stage of a query.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Its id; stages are numbered in the order they must run.
    pub id: StageId,
    /// The operators it runs; leaves are scans or shuffle readers.
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
        self.plan.output_partitioning().partition_count()
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
        assert_eq!(Waiting.next(Absorbed), Some(Done));
        assert_eq!(Running.next(Absorbed), None);
    }
}
