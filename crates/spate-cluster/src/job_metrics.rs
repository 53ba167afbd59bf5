//! What each stage of a finished job did on the cluster ([`job_stage_metrics`]), as
//! spate's [`StageMetrics`], for `--metrics`.
//!
//! The scheduler answers Ballista's `get_job_metrics` call with, per finished stage, its
//! operators (the stage's plan, root first) and the metrics their tasks reported, per
//! partition. Of these, a stage's figures are:
//! - rows out: the root operator's (the stage's shuffle writer) output rows;
//! - bytes read: the scans' `bytes_scanned`; operator spill: every operator's spilled
//!   bytes and spill files; splits: join partitions grace hash joins split
//!   (`grace_splits`);
//! - tasks, executors, shuffle bytes, time: the figures spate's executors add to each
//!   task's root metrics ([`crate::task_figures`]): tasks are counted per executor, the
//!   stage's time runs from its first task's start to its last task's end, its task time
//!   is the sum of its tasks' run times.

use std::collections::BTreeMap;
use std::time::Duration;

use ballista_core::serde::protobuf::operator_metric::Metric;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{GetJobMetricsParams, JobStageMetrics, OperatorMetric};
use spate_executor::StageMetrics;
use tonic::transport::Endpoint;

use crate::task_figures::{EXECUTOR_PREFIX, SHUFFLE_BYTES, TASK_END_MS, TASK_START_MS};

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
    Ok(answer
        .into_inner()
        .stages
        .iter()
        .map(stage_metrics)
        .collect())
}

/// One stage's figures; see the module doc.
fn stage_metrics(stage: &JobStageMetrics) -> StageMetrics {
    let mut figures = StageMetrics {
        stage: stage.stage_id as usize,
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
    if let Some(root) = stage.operators.first() {
        add_task_figures(&mut figures, &root.metrics);
    }
    figures
}

/// Adds the root operator's rows and the figures spate's executors add to it.
fn add_task_figures(figures: &mut StageMetrics, root: &[OperatorMetric]) {
    let mut executors: BTreeMap<String, u64> = BTreeMap::new();
    // Per partition (the task's first): its start and end.
    let mut spans: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for entry in root {
        let partition = entry.partition.unwrap_or(0);
        match &entry.metric {
            Some(Metric::OutputRows(rows)) => figures.output_rows += rows,
            Some(Metric::Count(count)) => {
                if let Some(id) = count.name.strip_prefix(EXECUTOR_PREFIX) {
                    *executors.entry(id.to_string()).or_default() += count.value;
                } else if count.name == SHUFFLE_BYTES {
                    figures.shuffle_file_bytes += count.value;
                }
            }
            Some(Metric::Gauge(gauge)) if gauge.name == TASK_START_MS => {
                spans.entry(partition).or_default().0 = gauge.value;
            }
            Some(Metric::Gauge(gauge)) if gauge.name == TASK_END_MS => {
                spans.entry(partition).or_default().1 = gauge.value;
            }
            _ => {}
        }
    }
    figures.tasks = executors.values().sum::<u64>() as usize;
    figures.executors = executors.into_iter().collect();
    let ran = |(start, end): &(u64, u64)| Duration::from_millis(end.saturating_sub(*start));
    figures.task_time = spans.values().map(ran).sum();
    let first = spans.values().map(|(start, _)| *start).min();
    let last = spans.values().map(|(_, end)| *end).max();
    if let (Some(first), Some(last)) = (first, last) {
        figures.elapsed = ran(&(first, last));
    }
}

#[cfg(test)]
mod tests {
    use ballista_core::serde::protobuf::{NamedCount, NamedGauge, OperatorWithMetrics};

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

    fn task(partition: u32, executor: &str, start: u64, end: u64) -> Vec<OperatorMetric> {
        vec![
            metric(partition, Metric::OutputRows(10)),
            metric(partition, count(&format!("{EXECUTOR_PREFIX}{executor}"), 1)),
            metric(partition, gauge(TASK_START_MS, start)),
            metric(partition, gauge(TASK_END_MS, end)),
            metric(partition, count(SHUFFLE_BYTES, 100)),
        ]
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
        let operator = |depth, metrics| OperatorWithMetrics {
            depth,
            operator_type: String::new(),
            operator_desc: String::new(),
            metrics,
        };
        let stage = JobStageMetrics {
            stage_id: 3,
            partitions: 3,
            operators: vec![operator(0, root), operator(1, scan)],
        };
        let figures = stage_metrics(&stage);
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
    }
}
