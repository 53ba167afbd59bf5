//! What each stage did.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::ExecutionPlan;

use crate::adaptive::ReadDecision;
use crate::stage::StageId;

/// Figures of one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageMetrics {
    /// The stage.
    pub stage: usize,
    /// Tasks it ran.
    pub tasks: usize,
    /// Rows its tasks produced.
    pub output_rows: u64,
    /// Bytes of shuffle output kept in memory.
    pub shuffle_memory_bytes: u64,
    /// Bytes of shuffle output spilled to disk.
    pub spilled_bytes: u64,
    /// Spill files written (at most one per map task).
    pub spill_files: u64,
    /// Bytes its operators (sorts, aggregations, grace joins) spilled to disk.
    pub operator_spilled_bytes: u64,
    /// Spill files its operators wrote.
    pub operator_spill_files: u64,
    /// Join partitions that were split because their build side did not fit.
    pub join_splits: u64,
    /// Partitioned joins switched to broadcast joins when their build side turned out
    /// small (their probe stage was absorbed into this one).
    pub broadcast_joins: u64,
    /// Filters by the build keys of a finished join input put on the probe side it runs.
    pub runtime_filters: u64,
    /// How adaptive reads re-planned its tasks from its inputs' real sizes (partitions
    /// coalesced, skewed join partitions sliced, empty partitions skipped); `None` when
    /// it read its input partitions as planned.
    pub reads: Option<ReadDecision>,
    /// Running tasks whose unread scan units were split, the second half going to an
    /// idle worker as a new task ([`crate::rebalance`]).
    pub scan_splits: u64,
    /// Wall time from its first task's start to its last task's end.
    pub elapsed: Duration,
    /// The sum of its tasks' run times (busy worker time; with `elapsed`, how parallel
    /// the stage ran).
    pub task_time: Duration,
    /// The CPU time of its tasks' polls, summed.
    pub cpu_time: Duration,
    /// The most memory one of its tasks held at once.
    pub peak_memory_bytes: u64,
    /// Tasks skipped, or stopped while running, because a `LIMIT` above had its rows
    /// already.
    pub skipped_tasks: usize,
    /// Task attempts started: its tasks, their retries, its recomputed map tasks, and the
    /// attempts of its whole-stage reruns (and those they made void).
    pub attempts: u64,
    /// Attempts that failed and were not the end of the query: retried, or waiting for a
    /// lost map output they read to be recomputed.
    pub failed_attempts: u64,
    /// Map tasks run again, after the stage was done, because their output was lost.
    pub recomputed_tasks: u64,
    /// Times the whole stage ran again because one of its tasks failed and its
    /// partitions are coupled (see [`crate::retry`]); the figures of the runs that failed
    /// (rows, outputs, per-task figures) are dropped, their time is kept.
    pub stage_reruns: u64,
    /// Per task, in the order they finished.
    pub task_metrics: Vec<TaskMetrics>,
    /// Bytes its scans read from files (reported on a cluster).
    pub input_bytes: u64,
    /// Bytes of the shuffle files its tasks wrote (on a cluster, where every stage's
    /// output is written to files).
    pub shuffle_file_bytes: u64,
    /// The executors that ran its tasks, each with the number of tasks it ran, by name
    /// (on a cluster; empty under spate's own executor, where every task runs in this
    /// process).
    pub executors: Vec<(String, u64)>,
    /// The stages it read, as it ran (after adaptive rewrites).
    pub inputs: Vec<usize>,
    /// The stages whose plans it took over when a join switched to a broadcast join.
    pub absorbed: Vec<usize>,
    /// The names of its operators, root first, without the shuffle writer at a map
    /// stage's root (`AggregateExec`, `HashJoinExec`, ...), as it ran.
    pub operators: Vec<String>,
    /// Where its output went: `hash shuffle`, `round robin shuffle`, `pass-through` or
    /// `result` (on a cluster also `range shuffle`).
    pub output: String,
    /// When its first task started, from the query's start (on a cluster, from the
    /// job's first task's start).
    pub started: Duration,
    /// Attempts that did not produce a task's output, in the order they ended: failed
    /// ones, those cancelled or made void by a rerun of the stage, the successful ones a
    /// rerun discarded, and recomputations of lost map outputs.
    pub other_attempts: Vec<TaskMetrics>,
    /// How it ended: done, unless the query failed (see [`StageEnd`]).
    pub end: StageEnd,
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum StageEnd {
    /// All its tasks succeeded.
    #[default]
    Done,
    /// One of its tasks failed past its retries (or with an error no retry fixes),
    /// failing the query.
    Failed,
    /// The query failed elsewhere while it ran or waited: its running attempts were
    /// stopped.
    Cancelled,
}

/// Figures of one task attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// The task (the stage's output partition it computed, or for a task split off a
    /// running scan, its number after the plan's partitions).
    pub task: usize,
    /// Its attempt, from 1 (above 1: earlier attempts of the task failed).
    pub attempt: u32,
    /// The worker slot it ran in, from 0 to the executor's threads: a slot runs one
    /// attempt at a time, so the slots are the lanes of a timeline. On a cluster, the
    /// lanes of the first executor (by name) come first, then those of the next.
    pub lane: usize,
    /// The executor that ran it, on a cluster (`None` under spate's own executor).
    pub executor: Option<String>,
    /// When it started, from the query's start (on a cluster, from the job's first
    /// task's start).
    pub started: Duration,
    /// When it ended, counted as `started`.
    pub ended: Duration,
    /// It was split off a running scan task ([`crate::rebalance`]).
    pub split: bool,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// Rows it produced.
    pub output_rows: u64,
    /// From its start to its end.
    pub wall_time: Duration,
    /// The CPU time of its polls.
    pub cpu_time: Duration,
    /// The most memory its reservations held at once (what it handed on, such as its
    /// shuffle output, counts until freed).
    pub peak_memory_bytes: u64,
}

/// How a task attempt ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TaskOutcome {
    /// It produced its task's output.
    #[default]
    Succeeded,
    /// A `LIMIT` above had its rows: it was stopped (or skipped) with an empty output.
    Stopped,
    /// It failed; the task ran again (or its stage did).
    Failed,
    /// It was stopped because its stage ran again whole; what it returned was void.
    Cancelled,
    /// It succeeded, but its stage ran again whole afterwards, discarding its output.
    Discarded,
    /// It ran a map task of a finished stage again, to write a lost output again.
    Recomputed,
}

impl TaskOutcome {
    /// Its name in reports: `succeeded`, `stopped`, `failed`, `cancelled`, `discarded`,
    /// `recomputed`.
    pub fn name(self) -> &'static str {
        match self {
            TaskOutcome::Succeeded => "succeeded",
            TaskOutcome::Stopped => "stopped",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Cancelled => "cancelled",
            TaskOutcome::Discarded => "discarded",
            TaskOutcome::Recomputed => "recomputed",
        }
    }
}

impl StageMetrics {
    /// One line of what the stage did: time, rows, and every adaptive and recovery
    /// decision it took.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "ran {} tasks in {:.3}s (task time {:.3}s, CPU {:.3}s), {} rows out, peak task memory {} B",
            self.tasks,
            self.elapsed.as_secs_f64(),
            self.task_time.as_secs_f64(),
            self.cpu_time.as_secs_f64(),
            self.output_rows,
            self.peak_memory_bytes
        );
        if let Some(r) = &self.reads {
            line.push_str(&format!(
                "; adaptive reads: {} partitions -> {} tasks, {} skewed partitions in {} slices, {} empty partitions skipped",
                r.partitions_before, r.tasks_after, r.skewed_partitions, r.skew_slices, r.empty_skipped
            ));
        }
        let decisions = [
            (self.scan_splits, "tasks split off running scans"),
            (self.broadcast_joins, "joins switched to broadcast"),
            (
                self.runtime_filters,
                "runtime filters from finished build sides",
            ),
            (self.join_splits, "join partitions split to fit memory"),
            (self.failed_attempts, "failed attempts retried"),
            (self.recomputed_tasks, "map tasks recomputed"),
            (self.stage_reruns, "whole-stage reruns"),
            (self.skipped_tasks as u64, "tasks skipped by a limit"),
            (self.spilled_bytes, "shuffle bytes spilled"),
            (self.operator_spilled_bytes, "operator bytes spilled"),
        ];
        for (count, what) in decisions {
            if count > 0 {
                line.push_str(&format!("; {count} {what}"));
            }
        }
        line
    }

    pub(crate) fn new(stage: StageId, tasks: usize) -> Self {
        StageMetrics {
            stage: stage.0,
            tasks,
            ..StageMetrics::default()
        }
    }

    /// Adds what the operators of `plan` (a finished stage's) scanned, spilled and split.
    pub(crate) fn add_operator_figures(&mut self, plan: &Arc<dyn ExecutionPlan>) {
        let figures = OperatorFigures::of(plan);
        self.input_bytes += figures.scanned_bytes;
        self.operator_spilled_bytes += figures.spilled_bytes;
        self.operator_spill_files += figures.spill_files;
        self.join_splits += figures.join_splits;
    }
}

/// What the operators of a plan spilled and split, summed over the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperatorFigures {
    /// Bytes spilled to disk (DataFusion's `spilled_bytes` metric).
    pub spilled_bytes: u64,
    /// Spill files written (DataFusion's `spill_count` metric).
    pub spill_files: u64,
    /// Join partitions split by grace hash joins.
    pub join_splits: u64,
    /// Bytes its scans read from files (the `bytes_scanned` metric, which Parquet scans
    /// report).
    pub scanned_bytes: u64,
}

impl OperatorFigures {
    /// The figures of every operator of `plan` that has run.
    pub fn of(plan: &Arc<dyn ExecutionPlan>) -> Self {
        let mut figures = OperatorFigures::default();
        let _ = plan.apply(|node| {
            if let Some(metrics) = node.metrics() {
                figures.spilled_bytes += metrics.spilled_bytes().unwrap_or(0) as u64;
                figures.spill_files += metrics.spill_count().unwrap_or(0) as u64;
                figures.join_splits += metrics
                    .sum_by_name("grace_splits")
                    .map_or(0, |v| v.as_usize() as u64);
                figures.scanned_bytes += metrics
                    .sum_by_name("bytes_scanned")
                    .map_or(0, |v| v.as_usize() as u64);
            }
            Ok(TreeNodeRecursion::Continue)
        });
        figures
    }
}

impl StageEnd {
    /// Its name in reports: `done`, `failed`, `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            StageEnd::Done => "done",
            StageEnd::Failed => "failed",
            StageEnd::Cancelled => "cancelled",
        }
    }
}

/// Figures of every stage of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMetrics {
    /// Per stage, in the order they ran.
    pub stages: Vec<StageMetrics>,
}

impl QueryMetrics {
    /// Bytes spilled by all shuffles and operators.
    pub fn spilled_bytes(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| s.spilled_bytes + s.operator_spilled_bytes)
            .sum()
    }

    /// Task attempts that failed and were retried (or waited for a recomputation).
    pub fn failed_attempts(&self) -> u64 {
        self.stages.iter().map(|s| s.failed_attempts).sum()
    }

    /// Map tasks run again because their output was lost.
    pub fn recomputed_tasks(&self) -> u64 {
        self.stages.iter().map(|s| s.recomputed_tasks).sum()
    }

    /// Whole-stage reruns of stages with coupled partitions.
    pub fn stage_reruns(&self) -> u64 {
        self.stages.iter().map(|s| s.stage_reruns).sum()
    }

    /// Spill files written by all shuffles and operators.
    pub fn spill_files(&self) -> u64 {
        self.stages
            .iter()
            .map(|s| s.spill_files + s.operator_spill_files)
            .sum()
    }
}

impl fmt::Display for QueryMetrics {
    /// A table, one row per stage. The columns are those of spate's own executor, or,
    /// when the stages ran on a cluster (they name executors), those a cluster reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns = if self.stages.iter().any(|s| !s.executors.is_empty()) {
            CLUSTER_COLUMNS
        } else {
            LOCAL_COLUMNS
        };
        let header: Vec<String> = columns
            .iter()
            .map(|c| format!("{:>width$}", c.header, width = c.width))
            .collect();
        writeln!(f, "{}", header.join(" ").trim_end())?;
        for stage in &self.stages {
            let row: Vec<String> = columns
                .iter()
                .map(|c| format!("{:>width$}", (c.value)(stage), width = c.width))
                .collect();
            writeln!(f, "{}", row.join(" ").trim_end())?;
        }
        Ok(())
    }
}

/// One column of the stage table: its header, its width (right-aligned), and what it
/// shows of a stage.
struct Column {
    header: &'static str,
    width: usize,
    value: fn(&StageMetrics) -> String,
}

/// Seconds, to the millisecond, with an `s`.
fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

const STAGE: Column = Column {
    header: "stage",
    width: 5,
    value: |s| s.stage.to_string(),
};
const TASKS: Column = Column {
    header: "tasks",
    width: 6,
    value: |s| s.tasks.to_string(),
};
const ROWS_OUT: Column = Column {
    header: "rows out",
    width: 12,
    value: |s| s.output_rows.to_string(),
};
const OP_SPILL: Column = Column {
    header: "op spill",
    width: 14,
    value: |s| s.operator_spilled_bytes.to_string(),
};
const SPLITS: Column = Column {
    header: "splits",
    width: 6,
    value: |s| s.join_splits.to_string(),
};
const TIME: Column = Column {
    header: "time",
    width: 10,
    value: |s| seconds(s.elapsed),
};
const TASK_TIME: Column = Column {
    header: "task time",
    width: 10,
    value: |s| seconds(s.task_time),
};

/// The stage table of spate's own executor.
const LOCAL_COLUMNS: &[Column] = &[
    STAGE,
    TASKS,
    Column {
        header: "scan split",
        width: 10,
        value: |s| s.scan_splits.to_string(),
    },
    Column {
        header: "read parts",
        width: 10,
        value: |s| {
            s.reads.as_ref().map_or("-".to_string(), |r| {
                format!("{}->{}", r.partitions_before, r.tasks_after)
            })
        },
    },
    Column {
        header: "skew",
        width: 5,
        value: |s| {
            s.reads
                .as_ref()
                .map_or(0, |r| r.skewed_partitions)
                .to_string()
        },
    },
    Column {
        header: "retried",
        width: 7,
        value: |s| s.failed_attempts.to_string(),
    },
    Column {
        header: "recomp",
        width: 6,
        value: |s| s.recomputed_tasks.to_string(),
    },
    Column {
        header: "rerun",
        width: 6,
        value: |s| s.stage_reruns.to_string(),
    },
    ROWS_OUT,
    Column {
        header: "shuffle mem",
        width: 14,
        value: |s| s.shuffle_memory_bytes.to_string(),
    },
    Column {
        header: "shuffle spill",
        width: 14,
        value: |s| s.spilled_bytes.to_string(),
    },
    OP_SPILL,
    Column {
        header: "files",
        width: 6,
        value: |s| (s.spill_files + s.operator_spill_files).to_string(),
    },
    SPLITS,
    Column {
        header: "bcast",
        width: 5,
        value: |s| s.broadcast_joins.to_string(),
    },
    TIME,
    TASK_TIME,
    Column {
        header: "cpu time",
        width: 10,
        value: |s| seconds(s.cpu_time),
    },
    Column {
        header: "task peak",
        width: 12,
        value: |s| s.peak_memory_bytes.to_string(),
    },
];

/// The stage table of a cluster: what Ballista's scheduler and spate's executors report.
const CLUSTER_COLUMNS: &[Column] = &[
    STAGE,
    TASKS,
    ROWS_OUT,
    Column {
        header: "bytes read",
        width: 14,
        value: |s| s.input_bytes.to_string(),
    },
    Column {
        header: "shuffle bytes",
        width: 14,
        value: |s| s.shuffle_file_bytes.to_string(),
    },
    OP_SPILL,
    SPLITS,
    TIME,
    TASK_TIME,
    Column {
        header: "executors (tasks)",
        width: 0,
        value: |s| {
            let ran: Vec<String> = s
                .executors
                .iter()
                .map(|(id, tasks)| format!("{id} ({tasks})"))
                .collect();
            format!("  {}", ran.join(", "))
        },
    },
];
