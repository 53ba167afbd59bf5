//! [`ClusterLoad`]: what a scheduler's executors are doing, read from the scheduler's own
//! state ([`LoadObserver`]), and its one-line text form, which `spate cluster scheduler
//! --report-load` prints for `spate cluster up` to scale executors by.
//!
//! The line is `spate-load pending=P jobs=J` followed by one `executor=ID/SLOTS/RUNNING/
//! FINISHED/HOLDS` token per live executor: its task slots, the tasks it runs now, the
//! tasks it has finished (counted from the jobs the scheduler tracks, so tasks of jobs
//! that ended between two observations may be missed), and whether it holds shuffle
//! output a running job still reads (1) or not (0).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ballista_core::JobId;
use ballista_core::serde::protobuf::task_status;
use ballista_scheduler::state::SchedulerState;
use ballista_scheduler::state::execution_stage::ExecutionStage;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::error::ClusterError;

/// The prefix of a load line.
const PREFIX: &str = "spate-load";

/// One executor's share of the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorLoad {
    /// The executor's id.
    pub id: String,
    /// Its task slots.
    pub slots: u32,
    /// Tasks it runs now.
    pub running_tasks: usize,
    /// Tasks it has finished (see the module doc).
    pub finished_tasks: usize,
    /// Whether a running job still reads shuffle output it wrote.
    pub holds_output: bool,
}

/// The scheduler's queue and its live executors at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterLoad {
    /// Tasks ready to run that no executor has taken yet.
    pub pending_tasks: usize,
    /// Jobs running.
    pub running_jobs: usize,
    /// The executors whose heartbeats are recent.
    pub executors: Vec<ExecutorLoad>,
}

impl fmt::Display for ClusterLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} pending={} jobs={}",
            self.pending_tasks, self.running_jobs
        )?;
        for e in &self.executors {
            write!(
                f,
                " executor={}/{}/{}/{}/{}",
                e.id,
                e.slots,
                e.running_tasks,
                e.finished_tasks,
                u8::from(e.holds_output)
            )?;
        }
        Ok(())
    }
}

impl FromStr for ClusterLoad {
    type Err = ClusterError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ClusterError::InvalidAddress {
            what: "load line",
            value: line.to_string(),
            reason: reason.to_string(),
        };
        let mut tokens = line.split_whitespace();
        if tokens.next() != Some(PREFIX) {
            return Err(bad("not a load line"));
        }
        let mut load = ClusterLoad::default();
        for token in tokens {
            let (key, value) = token.split_once('=').ok_or_else(|| bad("no '='"))?;
            match key {
                "pending" => load.pending_tasks = value.parse().map_err(|_| bad("pending"))?,
                "jobs" => load.running_jobs = value.parse().map_err(|_| bad("jobs"))?,
                "executor" => load
                    .executors
                    .push(parse_executor(value).ok_or_else(|| bad("executor"))?),
                _ => return Err(bad("unknown key")),
            }
        }
        Ok(load)
    }
}

/// `ID/SLOTS/RUNNING/FINISHED/HOLDS`; the id may not hold `/`, so it is split from the end.
fn parse_executor(value: &str) -> Option<ExecutorLoad> {
    let mut fields = value.rsplitn(5, '/');
    let holds = fields.next()?;
    let finished = fields.next()?.parse().ok()?;
    let running = fields.next()?.parse().ok()?;
    let slots = fields.next()?.parse().ok()?;
    let id = fields.next()?.to_string();
    Some(ExecutorLoad {
        id,
        slots,
        running_tasks: running,
        finished_tasks: finished,
        holds_output: holds == "1",
    })
}

/// Reads a [`ClusterLoad`] from a scheduler's state, and keeps the finished-task counts
/// of the jobs that have ended.
pub struct LoadObserver {
    state: Arc<SchedulerState<LogicalPlanNode, PhysicalPlanNode>>,
    executor_timeout: Duration,
    /// Finished tasks per executor of the jobs running at the last observation.
    by_job: HashMap<JobId, HashMap<String, usize>>,
    /// Finished tasks per executor of the jobs that have ended.
    ended: HashMap<String, usize>,
}

impl LoadObserver {
    pub(crate) fn new(
        state: Arc<SchedulerState<LogicalPlanNode, PhysicalPlanNode>>,
        executor_timeout: Duration,
    ) -> Self {
        LoadObserver {
            state,
            executor_timeout,
            by_job: HashMap::new(),
            ended: HashMap::new(),
        }
    }

    /// The load now.
    pub async fn observe(&mut self) -> ClusterLoad {
        let mut load = ClusterLoad::default();
        let mut running: HashMap<String, usize> = HashMap::new();
        let mut holding: HashSet<String> = HashSet::new();
        let mut by_job = HashMap::new();
        let jobs = self.state.task_manager.get_running_job_cache();
        for (job_id, info) in jobs.iter() {
            let graph = info.execution_graph.read().await;
            load.running_jobs += 1;
            load.pending_tasks += graph.available_tasks();
            for task in graph.running_tasks() {
                *running.entry(task.executor_id).or_default() += 1;
            }
            let mut finished: HashMap<String, usize> = HashMap::new();
            for stage in graph.stages().values() {
                let tasks = match stage {
                    ExecutionStage::Running(stage) => &stage.task_infos,
                    ExecutionStage::Successful(stage) => &stage.task_infos,
                    _ => continue,
                };
                for task in tasks {
                    if let task_status::Status::Successful(done) = &task.task_status {
                        *finished.entry(done.executor_id.clone()).or_default() += 1;
                        holding.insert(done.executor_id.clone());
                    }
                }
            }
            by_job.insert(job_id.clone(), finished);
        }
        for (job_id, finished) in self.by_job.drain() {
            if !by_job.contains_key(&job_id) {
                for (executor, n) in finished {
                    *self.ended.entry(executor).or_default() += n;
                }
            }
        }
        self.by_job = by_job;
        for (id, slots) in live_executors(&self.state, self.executor_timeout).await {
            let finished = self.ended.get(&id).copied().unwrap_or(0)
                + self
                    .by_job
                    .values()
                    .filter_map(|counts| counts.get(&id))
                    .sum::<usize>();
            load.executors.push(ExecutorLoad {
                running_tasks: running.get(&id).copied().unwrap_or(0),
                holds_output: holding.contains(&id),
                finished_tasks: finished,
                slots,
                id,
            });
        }
        load.executors.sort_by(|a, b| a.id.cmp(&b.id));
        load
    }
}

/// The executors heard from within `timeout`, with their task slots.
pub(crate) async fn live_executors(
    state: &SchedulerState<LogicalPlanNode, PhysicalPlanNode>,
    timeout: Duration,
) -> Vec<(String, u32)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let executors = state
        .executor_manager
        .get_executors_state()
        .await
        .unwrap_or_default();
    executors
        .into_iter()
        .filter(|(_, heartbeat, _)| heartbeat.is_some_and(|at| now.saturating_sub(at) < timeout))
        .map(|(metadata, _, _)| (metadata.id, metadata.specification.vcores))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_line_reads_back() {
        let load = ClusterLoad {
            pending_tasks: 3,
            running_jobs: 1,
            executors: vec![
                ExecutorLoad {
                    id: "executor-1".into(),
                    slots: 2,
                    running_tasks: 2,
                    finished_tasks: 7,
                    holds_output: true,
                },
                ExecutorLoad {
                    id: "3f2a-b".into(),
                    slots: 1,
                    running_tasks: 0,
                    finished_tasks: 0,
                    holds_output: false,
                },
            ],
        };
        let line = load.to_string();
        assert_eq!(
            line,
            "spate-load pending=3 jobs=1 executor=executor-1/2/2/7/1 executor=3f2a-b/1/0/0/0"
        );
        assert_eq!(line.parse::<ClusterLoad>().ok(), Some(load));
        assert!("df://127.0.0.1:1".parse::<ClusterLoad>().is_err());
        assert!("spate-load pending=x".parse::<ClusterLoad>().is_err());
    }
}
