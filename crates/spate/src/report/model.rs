//! The report of one statement, built from what it returned ([`StatementResult`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use spate_executor::{StageEnd, StageMetrics, TaskMetrics};

use super::cost::{Cost, Rates};
use crate::execute::ExecutionMetrics;
use crate::statement::StatementResult;

/// A stage is flagged skewed when its slowest task took more than this many times its
/// median task.
pub const SKEW_FACTOR: u32 = 4;

/// One statement of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementReport {
    /// Where the statement came from (`daily.sql`, `<sql>`).
    pub origin: String,
    /// The line it starts on.
    pub line: usize,
    /// What kind of statement it was (`Query`, `Insert`, `CreateTable`, ...).
    pub kind: String,
    /// Its summary line for statements without rows (`created table t`); of a failed
    /// statement, its error.
    pub message: String,
    /// Why it failed (`None`: it succeeded). A failed statement's kind is `Failed`; its
    /// stages are those that became runnable, each ending done, failed or cancelled.
    pub error: Option<String>,
    /// How long it ran, in seconds.
    pub elapsed_seconds: f64,
    /// Rows its plan returned.
    pub output_rows: u64,
    /// Rows it wrote (`INSERT`, `COPY`, `CREATE TABLE AS`).
    pub rows_written: Option<u64>,
    /// The most memory reserved at once.
    pub peak_memory_bytes: u64,
    /// Bytes spilled to disk by shuffles and operators.
    pub spilled_bytes: u64,
    /// Worker lanes of its timeline (the executor's slots that ran a task).
    pub lanes: usize,
    /// On a cluster, the name of each lane: its executor and its slot there
    /// (`executor-0 / slot 1`); empty under spate's own executor, whose lanes are its
    /// worker slots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lane_labels: Vec<String>,
    /// Its stages, in the order they became runnable (empty when it ran no plan on
    /// spate's executor or a cluster).
    pub stages: Vec<StageReport>,
    /// Every task attempt of every stage, by start time.
    pub tasks: Vec<TaskEntry>,
    /// Requests and bytes per remote store (object stores, BigQuery tables).
    pub io: Vec<IoEntry>,
    /// What it used and its price.
    pub cost: Cost,
}

/// One stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Its id within the statement.
    pub id: usize,
    /// Its operators, root first.
    pub operators: Vec<String>,
    /// Where its output went (`hash shuffle to 8 partitions`, `result`, ...).
    pub output: String,
    /// Tasks it ran (splits included).
    pub tasks: usize,
    /// The stages it read, with what they sent it.
    pub inputs: Vec<Edge>,
    /// Stages whose plans it took over (a join switched to a broadcast join).
    pub absorbed: Vec<usize>,
    /// Rows its tasks produced.
    pub rows_out: u64,
    /// Bytes of its output: its shuffle output in memory and spilled, or on a cluster
    /// its shuffle files.
    pub bytes_out: u64,
    /// Bytes its scans read from files.
    pub input_bytes: u64,
    /// Bytes of shuffle output kept in memory.
    pub shuffle_memory_bytes: u64,
    /// Bytes of shuffle output spilled to disk.
    pub shuffle_spilled_bytes: u64,
    /// Bytes its operators (sorts, aggregations, joins) spilled.
    pub operator_spilled_bytes: u64,
    /// The most memory one of its tasks held at once.
    pub peak_memory_bytes: u64,
    /// CPU time of its tasks, in seconds.
    pub cpu_seconds: f64,
    /// The sum of its tasks' run times, in seconds.
    pub task_seconds: f64,
    /// When its first task started, in seconds from when the statement's plan started
    /// running.
    pub started_seconds: f64,
    /// From its first task's start to its last task's end, in seconds.
    pub elapsed_seconds: f64,
    /// Its share of the statement's task time (0 to 1).
    pub time_share: f64,
    /// Run times of its tasks that produced its output, in seconds.
    pub task_time: Spread,
    /// Its slowest task took more than [`SKEW_FACTOR`] times its median.
    pub skewed: bool,
    /// What adaptive execution changed.
    pub adaptive: Adaptive,
    /// Failures and what was run again.
    pub recovery: Recovery,
    /// How it ended: `done`, `done after retries` or `done after reruns`.
    pub end: String,
    /// On a cluster, the executors that ran its tasks, with how many each ran.
    pub executors: Vec<ExecutorTasks>,
}

/// A stage's input: the stage it read and what it sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The stage read.
    pub stage: usize,
    /// Rows it produced.
    pub rows: u64,
    /// Bytes of its output.
    pub bytes: u64,
}

/// Minimum, median and maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The least.
    pub min: f64,
    /// The median (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The most.
    pub max: f64,
}

/// What adaptive execution changed in a stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Adaptive {
    /// Joins switched to broadcast joins.
    pub broadcast_joins: u64,
    /// Re-planned reads: partitions coalesced or split, empty ones skipped.
    pub reads: Option<Reads>,
    /// Tasks split off running scans.
    pub scan_splits: u64,
    /// Runtime filters put on its scans.
    pub runtime_filters: u64,
    /// Join partitions split because their build side did not fit in memory.
    pub join_splits: u64,
}

/// How a stage's reads were re-planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reads {
    /// Input partitions as planned.
    pub partitions_before: usize,
    /// Tasks after coalescing and splitting.
    pub tasks_after: usize,
    /// Skewed partitions read in slices.
    pub skewed_partitions: usize,
    /// The slices they were read in.
    pub skew_slices: usize,
    /// Empty partitions skipped.
    pub empty_skipped: usize,
}

/// Failures of a stage and what ran again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Task attempts started.
    pub attempts: u64,
    /// Attempts that failed and were retried.
    pub failed_attempts: u64,
    /// Map tasks run again because their output was lost.
    pub recomputed_tasks: u64,
    /// Times the whole stage ran again.
    pub stage_reruns: u64,
    /// Tasks skipped or stopped because a `LIMIT` had its rows.
    pub skipped_tasks: u64,
}

/// An executor of a cluster and the tasks it ran for a stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorTasks {
    /// Its name.
    pub name: String,
    /// Tasks it ran.
    pub tasks: u64,
}

/// One task attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// Its stage.
    pub stage: usize,
    /// Its task within the stage.
    pub task: usize,
    /// Its attempt, from 1.
    pub attempt: u32,
    /// The worker lane it ran in.
    pub lane: usize,
    /// The executor that ran it, on a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// When it started, in seconds from when the statement's plan started running.
    pub start: f64,
    /// When it ended, in seconds from when the statement's plan started running.
    pub end: f64,
    /// How it ended: `succeeded`, `stopped`, `failed`, `cancelled`, `discarded` or
    /// `recomputed`.
    pub outcome: String,
    /// An earlier attempt of the task failed.
    pub retried: bool,
    /// It was split off a running scan.
    pub split: bool,
    /// It was stopped before its end: by a `LIMIT`, or a rerun of its stage.
    pub cancelled: bool,
    /// Rows it produced.
    pub rows: u64,
    /// Its CPU time, in seconds.
    pub cpu_seconds: f64,
    /// The most memory it held at once.
    pub peak_memory_bytes: u64,
}

/// Requests and bytes of one remote store during a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IoEntry {
    /// The store (`s3://bucket`, `bigquery project.dataset.table`).
    pub store: String,
    /// GET requests (BigQuery: read streams).
    pub requests: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Writes the store refused, after its retries.
    pub write_failures: u64,
    /// Bytes read ahead of the reader.
    pub read_ahead_bytes: u64,
    /// Bytes read ahead and never used.
    pub read_ahead_unused: u64,
}

/// Seconds, to the microsecond (enough for a report, and short in JSON).
fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// What a statement's report says besides its metrics.
pub(super) struct Heading {
    pub origin: String,
    pub line: usize,
    pub kind: String,
    pub message: String,
    pub error: Option<String>,
    pub elapsed: Duration,
    pub rows_written: Option<u64>,
}

impl StatementReport {
    /// The report of `result`, priced at `rates`.
    pub fn of(result: &StatementResult, rates: &Rates) -> Self {
        let heading = Heading {
            origin: result.origin.clone(),
            line: result.line,
            kind: format!("{:?}", result.kind),
            message: result.message.clone(),
            error: None,
            elapsed: result.elapsed,
            rows_written: result.rows_written,
        };
        Self::build(heading, &result.metrics, rates)
    }

    /// The report of a statement headed `heading` that ran with metrics `m`.
    pub(super) fn build(heading: Heading, m: &ExecutionMetrics, rates: &Rates) -> Self {
        let total_task: Duration = m.stages.iter().map(|s| s.task_time).sum();
        let stages: Vec<StageReport> = m
            .stages
            .iter()
            .map(|s| stage_report(s, &m.stages, total_task))
            .collect();
        let mut tasks: Vec<TaskEntry> = m
            .stages
            .iter()
            .flat_map(|s| {
                s.task_metrics
                    .iter()
                    .chain(&s.other_attempts)
                    .map(move |t| task_entry(s.stage, t))
            })
            .collect();
        tasks.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.lane.cmp(&b.lane)));
        let lanes = tasks.iter().map(|t| t.lane + 1).max().unwrap_or(0);
        let io = io_entries(m);
        let cost = statement_cost(m, rates);
        StatementReport {
            origin: heading.origin,
            line: heading.line,
            kind: heading.kind,
            message: heading.message,
            error: heading.error,
            elapsed_seconds: secs(heading.elapsed),
            output_rows: m.output_rows,
            rows_written: heading.rows_written,
            peak_memory_bytes: m.peak_memory,
            spilled_bytes: m.spilled_bytes,
            lanes,
            lane_labels: lane_labels(&tasks, lanes),
            stages,
            tasks,
            io,
            cost,
        }
    }
}

/// The name of each of the `lanes` of `tasks` when they ran on a cluster: the executor
/// of its tasks and the lane's number among that executor's (whose lanes follow each
/// other); none when no task names an executor.
fn lane_labels(tasks: &[TaskEntry], lanes: usize) -> Vec<String> {
    let mut executors: Vec<Option<&str>> = vec![None; lanes];
    for t in tasks {
        if let Some(executor) = t.executor.as_deref() {
            executors[t.lane] = Some(executor);
        }
    }
    if executors.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut slot = 0;
    (0..lanes)
        .map(|lane| {
            let executor = executors[lane];
            slot = match lane.checked_sub(1) {
                Some(before) if executors[before] == executor => slot + 1,
                _ => 0,
            };
            match executor {
                Some(executor) => format!("{executor} / slot {slot}"),
                None => format!("worker {lane}"),
            }
        })
        .collect()
}

/// The bytes of a stage's output.
fn bytes_out(stage: &StageMetrics) -> u64 {
    (stage.shuffle_memory_bytes + stage.spilled_bytes).max(stage.shuffle_file_bytes)
}

fn stage_report(s: &StageMetrics, all: &[StageMetrics], total_task: Duration) -> StageReport {
    let task_time = spread(s.task_metrics.iter().map(|t| t.wall_time));
    let inputs = s
        .inputs
        .iter()
        .map(|&input| {
            let from = all.iter().find(|x| x.stage == input);
            Edge {
                stage: input,
                rows: from.map_or(0, |x| x.output_rows),
                bytes: from.map_or(0, bytes_out),
            }
        })
        .collect();
    let end = if s.end != StageEnd::Done {
        s.end.name()
    } else if s.stage_reruns > 0 {
        "done after reruns"
    } else if s.failed_attempts + s.recomputed_tasks > 0 {
        "done after retries"
    } else {
        "done"
    };
    StageReport {
        id: s.stage,
        operators: s.operators.clone(),
        output: s.output.clone(),
        tasks: s.tasks,
        inputs,
        absorbed: s.absorbed.clone(),
        rows_out: s.output_rows,
        bytes_out: bytes_out(s),
        input_bytes: s.input_bytes,
        shuffle_memory_bytes: s.shuffle_memory_bytes,
        shuffle_spilled_bytes: s.spilled_bytes,
        operator_spilled_bytes: s.operator_spilled_bytes,
        peak_memory_bytes: s.peak_memory_bytes,
        cpu_seconds: secs(s.cpu_time),
        task_seconds: secs(s.task_time),
        started_seconds: secs(s.started),
        elapsed_seconds: secs(s.elapsed),
        time_share: if total_task.is_zero() {
            0.0
        } else {
            s.task_time.as_secs_f64() / total_task.as_secs_f64()
        },
        skewed: is_skewed(s.task_metrics.iter().map(|t| t.wall_time)),
        task_time,
        adaptive: Adaptive {
            broadcast_joins: s.broadcast_joins,
            reads: s.reads.as_ref().map(|r| Reads {
                partitions_before: r.partitions_before,
                tasks_after: r.tasks_after,
                skewed_partitions: r.skewed_partitions,
                skew_slices: r.skew_slices,
                empty_skipped: r.empty_skipped,
            }),
            scan_splits: s.scan_splits,
            runtime_filters: s.runtime_filters,
            join_splits: s.join_splits,
        },
        recovery: Recovery {
            attempts: s.attempts,
            failed_attempts: s.failed_attempts,
            recomputed_tasks: s.recomputed_tasks,
            stage_reruns: s.stage_reruns,
            skipped_tasks: s.skipped_tasks as u64,
        },
        end: end.to_string(),
        executors: s
            .executors
            .iter()
            .map(|(name, tasks)| ExecutorTasks {
                name: name.clone(),
                tasks: *tasks,
            })
            .collect(),
    }
}

/// The minimum, median and maximum of `times`, in seconds; zeros when there are none.
fn spread(times: impl Iterator<Item = Duration>) -> Spread {
    let mut sorted: Vec<Duration> = times.collect();
    sorted.sort();
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return Spread::default();
    };
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        secs(sorted[mid])
    } else {
        secs((sorted[mid - 1] + sorted[mid]) / 2)
    };
    Spread {
        min: secs(*first),
        median,
        max: secs(*last),
    }
}

/// Whether the longest of `times` is more than [`SKEW_FACTOR`] times their median.
fn is_skewed(times: impl Iterator<Item = Duration>) -> bool {
    let mut sorted: Vec<Duration> = times.collect();
    sorted.sort();
    let mid = sorted.len() / 2;
    let median = match (sorted.len() % 2, mid.checked_sub(1)) {
        (1, _) => sorted[mid],
        (_, Some(before)) => (sorted[before] + sorted[mid]) / 2,
        (_, None) => return false,
    };
    sorted.last().is_some_and(|max| *max > median * SKEW_FACTOR)
}

fn task_entry(stage: usize, t: &TaskMetrics) -> TaskEntry {
    use spate_executor::TaskOutcome;
    TaskEntry {
        stage,
        task: t.task,
        attempt: t.attempt,
        lane: t.lane,
        executor: t.executor.clone(),
        start: secs(t.started),
        end: secs(t.ended),
        outcome: t.outcome.name().to_string(),
        retried: t.attempt > 1,
        split: t.split,
        cancelled: matches!(t.outcome, TaskOutcome::Cancelled | TaskOutcome::Stopped),
        rows: t.output_rows,
        cpu_seconds: secs(t.cpu_time),
        peak_memory_bytes: t.peak_memory_bytes,
    }
}

fn io_entries(m: &ExecutionMetrics) -> Vec<IoEntry> {
    let stores = m.store_io.iter().map(|io| IoEntry {
        store: io.store.clone(),
        requests: io.gets + io.heads + io.lists + io.puts + io.parts,
        bytes_read: io.bytes_read,
        bytes_written: io.bytes_written,
        write_failures: io.write_failures,
        read_ahead_bytes: io.read_ahead_bytes,
        read_ahead_unused: io.read_ahead_unused,
    });
    let bigquery = m.bigquery_io.iter().map(|io| IoEntry {
        store: format!("bigquery {}", io.table),
        requests: io.read_streams + io.write_streams,
        bytes_read: io.bytes_received,
        bytes_written: io.bytes_sent,
        write_failures: 0,
        read_ahead_bytes: 0,
        read_ahead_unused: 0,
    });
    stores.chain(bigquery).collect()
}

/// What the statement used: every attempt's CPU time and memory-time, the bytes it read
/// and wrote. A stage that kept no attempts' figures (`spate.task_timeline` off) counts
/// its peak task memory over its whole task time.
fn statement_cost(m: &ExecutionMetrics, rates: &Rates) -> Cost {
    let (mut cpu, mut memory) = (0.0, 0.0);
    for s in &m.stages {
        cpu += s.cpu_time.as_secs_f64();
        memory += if s.task_metrics.is_empty() && s.other_attempts.is_empty() {
            s.peak_memory_bytes as f64 * s.task_time.as_secs_f64()
        } else {
            s.task_metrics
                .iter()
                .chain(&s.other_attempts)
                .map(|t| t.peak_memory_bytes as f64 * t.wall_time.as_secs_f64())
                .sum()
        };
    }
    let scanned: u64 = m.stages.iter().map(|s| s.input_bytes).sum();
    let served: u64 = m.store_io.iter().map(|io| io.bytes_read).sum();
    let bigquery_in: u64 = m.bigquery_io.iter().map(|io| io.bytes_received).sum();
    let written: u64 = m.store_io.iter().map(|io| io.bytes_written).sum::<u64>()
        + m.bigquery_io.iter().map(|io| io.bytes_sent).sum::<u64>();
    Cost::priced(
        cpu,
        memory,
        (scanned.max(served) + bigquery_in, written),
        rates,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle_of_an_even_count() {
        let ms = |v: &[u64]| spread(v.iter().map(|&x| Duration::from_millis(x)));
        let s = ms(&[40, 10, 20, 30]);
        assert_eq!((s.min, s.median, s.max), (0.01, 0.025, 0.04));
        assert_eq!(ms(&[5]).median, 0.005);
        assert_eq!(ms(&[]), Spread::default());
    }

    #[test]
    fn lanes_of_a_cluster_are_named_by_executor_and_slot() {
        let entry = |lane: usize, executor: Option<&str>| TaskEntry {
            stage: 1,
            task: lane,
            attempt: 1,
            lane,
            executor: executor.map(String::from),
            start: 0.0,
            end: 1.0,
            outcome: "succeeded".into(),
            retried: false,
            split: false,
            cancelled: false,
            rows: 0,
            cpu_seconds: 0.0,
            peak_memory_bytes: 0,
        };
        let cluster = [
            entry(2, Some("b")),
            entry(0, Some("a")),
            entry(1, Some("a")),
            entry(0, Some("a")),
        ];
        assert_eq!(
            lane_labels(&cluster, 3),
            ["a / slot 0", "a / slot 1", "b / slot 0"]
        );
        let local = [entry(0, None), entry(1, None)];
        assert!(lane_labels(&local, 2).is_empty());
    }
}
