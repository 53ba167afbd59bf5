//! What each stage of a finished job did on the cluster ([`job_stage_metrics`]), as
//! spate's [`StageMetrics`], for `--metrics` and job reports.
//!
//! The scheduler answers Ballista's `get_job_metrics` call with, per finished stage, its
//! operators (the stage's plan, root first, each with its name and its one-line
//! description) and the metrics their tasks reported, per partition. Of these, a stage's
//! figures are:
//! - operators: their names, root first, without the shuffle writer at the root (as spate's
//!   executor names them);
//! - inputs: the stages its shuffle readers read, which their descriptions name
//!   (`ShuffleReaderExec: upstream_stage: 2, ...`; `UnresolvedShuffleExec: stage=2, ...`
//!   in a plan not yet resolved). No other answer of the scheduler's gRPC service carries
//!   the job's stage graph;
//! - output: `result` for the stage no other stage reads; else what its shuffle writer
//!   does: `hash shuffle to N partitions` (the sort-based writer, with its partitioning),
//!   `range shuffle`, or `pass-through` (each task writes its partitions as they are);
//! - rows out: the root operator's (the stage's shuffle writer) output rows;
//! - bytes read: the scans' `bytes_scanned`; operator spill: every operator's spilled
//!   bytes and spill files; splits: join partitions grace hash joins split
//!   (`grace_splits`);
//! - tasks, executors, shuffle bytes, time: the figures spate's executors add to each
//!   task's root metrics ([`crate::task_figures`]): tasks are counted per executor, the
//!   stage's time runs from its first task's start to its last task's end, its task time
//!   is the sum of its tasks' run times;
//! - the task timeline: each task (named by its first partition, where its figures are)
//!   with its executor, start, end and rows. Times count from the job's first task's start
//!   (the executors' clocks, in milliseconds). Each executor's tasks are packed into lanes,
//!   a task taking its executor's lowest lane free when it starts, and the lanes of the
//!   executors follow each other by name. A retried task's figures replace those of the
//!   attempt before, so each task shows as attempt 1.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ballista_core::serde::protobuf::operator_metric::Metric;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    GetJobMetricsParams, JobStageMetrics, OperatorMetric, OperatorWithMetrics,
};
use spate_executor::{StageMetrics, TaskMetrics};
use tonic::transport::Endpoint;

use crate::task_figures::{EXECUTOR_PREFIX, SHUFFLE_BYTES, TASK_END_MS, TASK_ROWS, TASK_START_MS};

/// The figures of each finished stage of job `job_id`, asked of the scheduler at
/// `endpoint` (`http://HOST:PORT`); the error says why they could not be had.
pub(crate) async fn job_stage_metrics(
    endpoint: &str,
    job_id: &str,
) -> std::result::Result<Vec<StageMetrics>, String> {
    let channel = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let answer = SchedulerGrpcClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .get_job_metrics(GetJobMetricsParams {
            job_id: job_id.to_string(),
        })
        .await
        .map_err(|status| status.message().to_string())?;
    Ok(job_metrics(&answer.into_inner().stages))
}

/// The figures of a job's stages, with where their output went and the timeline of
/// their tasks; see the module doc.
fn job_metrics(stages: &[JobStageMetrics]) -> Vec<StageMetrics> {
    let mut ran = Vec::new();
    let mut figures: Vec<StageMetrics> = stages
        .iter()
        .enumerate()
        .map(|(index, stage)| {
            let (figures, tasks) = stage_metrics(stage);
            ran.extend(tasks.into_iter().map(|task| (index, task)));
            figures
        })
        .collect();
    let read: BTreeSet<usize> = figures.iter().flat_map(|s| s.inputs.clone()).collect();
    for (stage, figures) in stages.iter().zip(&mut figures) {
        figures.output = output(stage.operators.first(), read.contains(&figures.stage));
    }
    add_timeline(&mut figures, ran);
    figures
}

/// One stage's figures, and its tasks as they ran; see the module doc.
fn stage_metrics(stage: &JobStageMetrics) -> (StageMetrics, Vec<RanTask>) {
    let mut figures = StageMetrics {
        stage: stage.stage_id as usize,
        operators: operator_names(&stage.operators),
        inputs: input_stages(&stage.operators),
        ..StageMetrics::default()
    };
    for operator in &stage.operators {
        for metric in operator.metrics.iter().filter_map(|m| m.metric.as_ref()) {
            match metric {
                Metric::SpilledBytes(bytes) => figures.operator_spilled_bytes += bytes,
                Metric::SpillCount(files) => figures.operator_spill_files += files,
                Metric::Count(count) if count.name == "bytes_scanned" => {
                    figures.input_bytes += count.value
                }
                Metric::Count(count) if count.name == "grace_splits" => {
                    figures.join_splits += count.value
                }
                _ => {}
            }
        }
    }
    let tasks = match stage.operators.first() {
        Some(root) => add_task_figures(&mut figures, &root.metrics),
        None => Vec::new(),
    };
    (figures, tasks)
}

/// The names of a stage's operators, root first, without the shuffle writer at its root.
fn operator_names(operators: &[OperatorWithMetrics]) -> Vec<String> {
    let writer_at_root = operators
        .first()
        .is_some_and(|root| root.operator_type.ends_with("ShuffleWriterExec"));
    operators
        .iter()
        .skip(usize::from(writer_at_root))
        .map(|operator| operator.operator_type.clone())
        .collect()
}

/// The stages a stage's shuffle readers read, in plan order, each once.
fn input_stages(operators: &[OperatorWithMetrics]) -> Vec<usize> {
    let mut inputs = Vec::new();
    for operator in operators {
        let named = match operator.operator_type.as_str() {
            "ShuffleReaderExec" | "RangeShuffleReaderExec" => "upstream_stage: ",
            "UnresolvedShuffleExec" => "stage=",
            _ => continue,
        };
        let stage = operator
            .operator_desc
            .split_once(named)
            .and_then(|(_, rest)| leading_number(rest));
        if let Some(stage) = stage.filter(|s| !inputs.contains(s)) {
            inputs.push(stage);
        }
    }
    inputs
}

/// The number `text` starts with.
fn leading_number(text: &str) -> Option<usize> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// Where a stage's output went: `result` when no other stage `read` it, else what the
/// shuffle writer at its `root` does.
fn output(root: Option<&OperatorWithMetrics>, read: bool) -> String {
    if !read {
        return "result".to_string();
    }
    let root = root.map(|r| (r.operator_type.as_str(), r.operator_desc.as_str()));
    match root {
        // `SortShuffleWriterExec: partitioning=Hash([k@0], 8)`.
        Some(("SortShuffleWriterExec", desc)) => desc
            .strip_suffix(')')
            .and_then(|d| d.rsplit_once(", "))
            .and_then(|(_, n)| n.parse::<usize>().ok())
            .map_or("hash shuffle".to_string(), |n| {
                format!("hash shuffle to {n} partitions")
            }),
        Some(("RangeShuffleWriterExec", _)) => "range shuffle".to_string(),
        Some(("ShuffleWriterExec", _)) => "pass-through".to_string(),
        _ => "shuffle".to_string(),
    }
}

/// A task as spate's executors report it ([`crate::task_figures`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RanTask {
    /// Its first partition.
    partition: usize,
    executor: String,
    /// Its start and end, in milliseconds since the Unix epoch.
    start_ms: u64,
    end_ms: u64,
    rows: u64,
}

/// What the root operator reported for one partition.
#[derive(Debug, Default)]
struct PartitionFigures {
    executor: Option<String>,
    start_ms: Option<u64>,
    end_ms: Option<u64>,
    /// The root's output rows of this partition.
    rows: u64,
    /// The rows of the task whose first partition this is.
    task_rows: Option<u64>,
}

/// Adds the root operator's rows and the figures spate's executors add to it; returns
/// the tasks those figures describe.
fn add_task_figures(figures: &mut StageMetrics, root: &[OperatorMetric]) -> Vec<RanTask> {
    let mut executors: BTreeMap<String, u64> = BTreeMap::new();
    let mut partitions: BTreeMap<u32, PartitionFigures> = BTreeMap::new();
    for entry in root {
        let partition = partitions.entry(entry.partition.unwrap_or(0)).or_default();
        match &entry.metric {
            Some(Metric::OutputRows(rows)) => {
                figures.output_rows += rows;
                partition.rows += rows;
            }
            Some(Metric::Count(count)) => {
                if let Some(id) = count.name.strip_prefix(EXECUTOR_PREFIX) {
                    *executors.entry(id.to_string()).or_default() += count.value;
                    partition.executor = Some(id.to_string());
                } else if count.name == SHUFFLE_BYTES {
                    figures.shuffle_file_bytes += count.value;
                } else if count.name == TASK_ROWS {
                    partition.task_rows = Some(count.value);
                }
            }
            Some(Metric::Gauge(gauge)) if gauge.name == TASK_START_MS => {
                partition.start_ms = Some(gauge.value);
            }
            Some(Metric::Gauge(gauge)) if gauge.name == TASK_END_MS => {
                partition.end_ms = Some(gauge.value);
            }
            _ => {}
        }
    }
    figures.tasks = executors.values().sum::<u64>() as usize;
    figures.executors = executors.into_iter().collect();
    let spans: Vec<(u64, u64)> = partitions
        .values()
        .filter(|p| p.start_ms.is_some() || p.end_ms.is_some())
        .map(|p| (p.start_ms.unwrap_or(0), p.end_ms.unwrap_or(0)))
        .collect();
    let ran = |(start, end): &(u64, u64)| Duration::from_millis(end.saturating_sub(*start));
    figures.task_time = spans.iter().map(ran).sum();
    let first = spans.iter().map(|(start, _)| *start).min();
    let last = spans.iter().map(|(_, end)| *end).max();
    if let (Some(first), Some(last)) = (first, last) {
        figures.elapsed = ran(&(first, last));
    }
    partitions
        .into_iter()
        .filter_map(|(partition, p)| {
            Some(RanTask {
                partition: partition as usize,
                executor: p.executor?,
                start_ms: p.start_ms?,
                end_ms: p.end_ms?,
                rows: p.task_rows.unwrap_or(p.rows),
            })
        })
        .collect()
}

/// Gives each stage its tasks (`ran`: each with the index of its stage), on the lanes of
/// their executors, and its start; see the module doc.
fn add_timeline(stages: &mut [StageMetrics], mut ran: Vec<(usize, RanTask)>) {
    let Some(first) = ran.iter().map(|(_, task)| task.start_ms).min() else {
        return;
    };
    let since_first = |ms: u64| Duration::from_millis(ms.saturating_sub(first));
    ran.sort_by(|(a_stage, a), (b_stage, b)| {
        (&a.executor, a.start_ms, a.end_ms, a_stage, a.partition).cmp(&(
            &b.executor,
            b.start_ms,
            b.end_ms,
            b_stage,
            b.partition,
        ))
    });
    // The lanes of the executors before this one, and when each lane of this one is free.
    let mut offset = 0;
    let mut free_at: Vec<u64> = Vec::new();
    let mut executor: Option<String> = None;
    for (stage, task) in ran {
        if executor.as_ref() != Some(&task.executor) {
            offset += free_at.len();
            free_at.clear();
            executor = Some(task.executor.clone());
        }
        let lane = match free_at.iter().position(|free| *free <= task.start_ms) {
            Some(lane) => lane,
            None => {
                free_at.push(0);
                free_at.len() - 1
            }
        };
        free_at[lane] = task.end_ms.max(task.start_ms);
        let (started, ended) = (since_first(task.start_ms), since_first(free_at[lane]));
        stages[stage].task_metrics.push(TaskMetrics {
            task: task.partition,
            attempt: 1,
            lane: offset + lane,
            executor: Some(task.executor),
            started,
            ended,
            output_rows: task.rows,
            wall_time: ended - started,
            ..TaskMetrics::default()
        });
    }
    for stage in stages {
        stage.task_metrics.sort_by_key(|t| (t.ended, t.task));
        stage.attempts = stage.task_metrics.len() as u64;
        if let Some(started) = stage.task_metrics.iter().map(|t| t.started).min() {
            stage.started = started;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ballista_core::JobId;
    use ballista_core::execution_plans::sort_shuffle::SortShuffleConfig;
    use ballista_core::execution_plans::{
        ShuffleReaderExec, ShuffleWriterExec, SortShuffleWriterExec, UnresolvedShuffleExec,
    };
    use ballista_core::serde::protobuf::{NamedCount, NamedGauge};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::{ExecutionPlan, Partitioning, displayable};

    use super::*;

    fn metric(partition: u32, metric: Metric) -> OperatorMetric {
        OperatorMetric {
            partition: Some(partition),
            metric: Some(metric),
        }
    }

    fn count(name: &str, value: u64) -> Metric {
        Metric::Count(NamedCount {
            name: name.into(),
            value,
        })
    }

    fn gauge(name: &str, value: u64) -> Metric {
        Metric::Gauge(NamedGauge {
            name: name.into(),
            value,
        })
    }

    /// The root metrics of a task of one partition that produced 10 rows.
    fn task(partition: u32, executor: &str, start: u64, end: u64) -> Vec<OperatorMetric> {
        vec![
            metric(partition, Metric::OutputRows(10)),
            metric(partition, count(&format!("{EXECUTOR_PREFIX}{executor}"), 1)),
            metric(partition, gauge(TASK_START_MS, start)),
            metric(partition, gauge(TASK_END_MS, end)),
            metric(partition, count(SHUFFLE_BYTES, 100)),
        ]
    }

    /// An operator named `name`, described as `desc`, at `depth`.
    fn operator(
        depth: u32,
        name: &str,
        desc: &str,
        metrics: Vec<OperatorMetric>,
    ) -> OperatorWithMetrics {
        OperatorWithMetrics {
            depth,
            operator_type: name.into(),
            operator_desc: desc.into(),
            metrics,
        }
    }

    /// `plan` at `depth`, named and described as the scheduler does.
    fn ballista_operator(
        depth: u32,
        plan: &dyn ExecutionPlan,
        metrics: Vec<OperatorMetric>,
    ) -> OperatorWithMetrics {
        let desc = displayable(plan).one_line().to_string();
        operator(depth, plan.name(), desc.trim(), metrics)
    }

    #[test]
    fn a_stage_of_three_tasks_on_two_executors() {
        let mut root = task(0, "b", 1_000, 1_500);
        root.extend(task(1, "a", 1_100, 1_300));
        root.extend(task(2, "b", 1_500, 2_000));
        let scan = vec![
            metric(0, count("bytes_scanned", 4_000)),
            metric(1, Metric::SpilledBytes(64)),
            metric(1, Metric::SpillCount(1)),
            metric(1, count("grace_splits", 2)),
        ];
        let stage = JobStageMetrics {
            stage_id: 3,
            partitions: 3,
            operators: vec![
                operator(0, "ShuffleWriterExec", "", root),
                operator(1, "DataSourceExec", "", scan),
            ],
        };
        let (figures, tasks) = stage_metrics(&stage);
        assert_eq!(figures.stage, 3);
        assert_eq!(figures.tasks, 3);
        assert_eq!(figures.output_rows, 30);
        assert_eq!(figures.shuffle_file_bytes, 300);
        assert_eq!(figures.input_bytes, 4_000);
        assert_eq!(
            (figures.operator_spilled_bytes, figures.operator_spill_files),
            (64, 1)
        );
        assert_eq!(figures.join_splits, 2);
        assert_eq!(figures.executors, vec![("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(figures.elapsed, Duration::from_millis(1_000));
        assert_eq!(figures.task_time, Duration::from_millis(1_200));
        assert_eq!(figures.operators, ["DataSourceExec"], "the writer left out");
        assert_eq!(tasks.len(), 3);
        assert_eq!(
            tasks[1],
            RanTask {
                partition: 1,
                executor: "a".into(),
                start_ms: 1_100,
                end_ms: 1_300,
                rows: 10
            }
        );
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]))
    }

    fn hash(partitions: usize) -> Partitioning {
        Partitioning::Hash(vec![col("k", &schema()).unwrap()], partitions)
    }

    /// Stage 1 hash-shuffles a scan to 4 partitions; stage 2 writes a scan's partitions
    /// as they are; stage 3 joins them (stage 2's reader still unresolved) and aggregates,
    /// and nothing reads it. Executor `a` runs two tasks at once in stage 3, `b` two at
    /// once in stage 1; a task of `a` starts when its other one ends.
    fn job() -> Vec<JobStageMetrics> {
        let job = JobId::new("job");
        let scan: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(schema()).with_partitions(4));
        let hashed = SortShuffleWriterExec::try_new(
            job.clone(),
            1,
            Arc::clone(&scan),
            String::new(),
            hash(4),
            SortShuffleConfig::default(),
        )
        .unwrap();
        let as_is =
            ShuffleWriterExec::try_new(job.clone(), 2, Arc::clone(&scan), String::new()).unwrap();
        let reader = ShuffleReaderExec::try_new(1, vec![Vec::new(); 4], schema(), hash(4)).unwrap();
        let unresolved = UnresolvedShuffleExec::new(2, schema(), hash(4));
        let result =
            ShuffleWriterExec::try_new(job, 3, Arc::new(reader.clone()), String::new()).unwrap();
        let tasks = |list: &[(u32, &str, u64, u64)]| -> Vec<OperatorMetric> {
            list.iter()
                .flat_map(|(p, e, start, end)| task(*p, e, *start, *end))
                .collect()
        };
        let mut stage_1_root = tasks(&[
            (0, "b", 1_000, 1_500),
            (1, "a", 1_100, 1_300),
            (2, "b", 1_200, 2_000),
            (3, "a", 1_300, 1_400),
        ]);
        // A task of two partitions: its rows are the count spate's executor adds.
        stage_1_root.push(metric(1, count(TASK_ROWS, 25)));
        let stage_3_root = tasks(&[(0, "a", 2_000, 2_500), (1, "a", 2_100, 2_400)]);
        vec![
            JobStageMetrics {
                stage_id: 1,
                partitions: 4,
                operators: vec![
                    ballista_operator(0, &hashed, stage_1_root),
                    ballista_operator(1, scan.as_ref(), Vec::new()),
                ],
            },
            JobStageMetrics {
                stage_id: 2,
                partitions: 1,
                operators: vec![
                    ballista_operator(0, &as_is, tasks(&[(0, "b", 1_500, 1_700)])),
                    ballista_operator(1, scan.as_ref(), Vec::new()),
                ],
            },
            JobStageMetrics {
                stage_id: 3,
                partitions: 2,
                operators: vec![
                    ballista_operator(0, &result, stage_3_root),
                    operator(1, "AggregateExec", "AggregateExec: mode=Single", Vec::new()),
                    operator(
                        2,
                        "HashJoinExec",
                        "HashJoinExec: mode=Partitioned",
                        Vec::new(),
                    ),
                    ballista_operator(3, &reader, Vec::new()),
                    ballista_operator(3, &unresolved, Vec::new()),
                ],
            },
        ]
    }

    #[test]
    fn a_job_has_its_stage_graph_and_its_tasks_on_lanes_per_executor() {
        let stages = job_metrics(&job());
        let operators: Vec<&[String]> = stages.iter().map(|s| s.operators.as_slice()).collect();
        assert_eq!(
            operators,
            [
                &["EmptyExec"][..],
                &["EmptyExec"],
                &[
                    "AggregateExec",
                    "HashJoinExec",
                    "ShuffleReaderExec",
                    "UnresolvedShuffleExec"
                ]
            ]
        );
        let inputs: Vec<&[usize]> = stages.iter().map(|s| s.inputs.as_slice()).collect();
        assert_eq!(inputs, [&[][..], &[], &[1, 2]]);
        let outputs: Vec<&str> = stages.iter().map(|s| s.output.as_str()).collect();
        assert_eq!(
            outputs,
            ["hash shuffle to 4 partitions", "pass-through", "result"]
        );

        // (stage, task, executor, lane, start ms, end ms, rows), in the order each
        // stage's tasks ended; `a`'s two lanes come before `b`'s.
        let mut timeline = Vec::new();
        for stage in &stages {
            for t in &stage.task_metrics {
                assert_eq!(t.attempt, 1);
                assert_eq!(t.wall_time, t.ended - t.started);
                timeline.push((
                    stage.stage,
                    t.task,
                    t.executor.clone().unwrap(),
                    t.lane,
                    t.started.as_millis(),
                    t.ended.as_millis(),
                    t.output_rows,
                ));
            }
        }
        let row = |stage, task, executor: &str, lane, start, end, rows| {
            (stage, task, executor.to_string(), lane, start, end, rows)
        };
        assert_eq!(
            timeline,
            [
                row(1, 1, "a", 0, 100, 300, 25),
                row(1, 3, "a", 0, 300, 400, 10),
                row(1, 0, "b", 2, 0, 500, 10),
                row(1, 2, "b", 3, 200, 1_000, 10),
                row(2, 0, "b", 2, 500, 700, 10),
                row(3, 1, "a", 1, 1_100, 1_400, 10),
                row(3, 0, "a", 0, 1_000, 1_500, 10),
            ]
        );
        let started: Vec<u128> = stages.iter().map(|s| s.started.as_millis()).collect();
        assert_eq!(started, [0, 500, 1_000]);
        assert_eq!(stages[0].attempts, 4);
    }
}
