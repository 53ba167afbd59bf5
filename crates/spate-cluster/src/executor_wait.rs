//! Jobs that find no executor fail after a bounded wait ([`fail_jobs_without_executors`]).
//!
//! Ballista fails the running jobs itself when the last executor is lost and none comes
//! back within a grace period (spate sets it to the same wait), but a job submitted to a
//! scheduler no executor ever joined waits for one forever. This watchdog runs in the
//! scheduler: once a second it counts the live executors; while there are none, it
//! notes since when each running job has been without one, and fails those that waited
//! [`FaultSettings::executor_wait`](crate::FaultSettings) with a message saying so.
//!
//! Failing a job takes two steps, because the public parts of Ballista's scheduler offer
//! no "fail this job" event: the job's execution graph is failed with the message and
//! saved to the scheduler's job state, which tells the client waiting on the job (its
//! status stream gets the failed status, with the message); five seconds later the job
//! is cancelled, which clears it from the scheduler's active jobs (its status then reads
//! "Cancelled" to anyone who asks again, but the client has its answer by then).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballista_core::JobId;
use ballista_core::serde::protobuf::job_status;
use ballista_scheduler::cluster::JobState;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::cluster_load::live_executors;

/// How often the watchdog looks.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a failed job stays in the active jobs before it is cancelled.
const CLEAR_AFTER: Duration = Duration::from_secs(5);

/// Runs until the process ends; see the module doc. `job_state` is the scheduler's job state;
/// `hint` tells how to start an executor for this scheduler.
pub(crate) async fn fail_jobs_without_executors(
    server: SchedulerServer<LogicalPlanNode, PhysicalPlanNode>,
    job_state: Arc<dyn JobState>,
    wait: Duration,
    executor_timeout: Duration,
    hint: String,
) {
    let state = Arc::clone(&server.state);
    let mut waiting: HashMap<JobId, Instant> = HashMap::new();
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    loop {
        ticker.tick().await;
        if !live_executors(&state, executor_timeout).await.is_empty() {
            waiting.clear();
            continue;
        }
        let jobs = state.task_manager.get_running_job_cache();
        waiting.retain(|job, _| jobs.contains_key(job));
        for (job_id, info) in jobs.iter() {
            let since = *waiting.entry(job_id.clone()).or_insert_with(Instant::now);
            if since.elapsed() < wait {
                continue;
            }
            let mut graph = info.execution_graph.write().await;
            if !matches!(graph.status().status, Some(job_status::Status::Running(_))) {
                continue;
            }
            let message = format!(
                "no executor registered with the scheduler within {} s ({hint})",
                wait.as_secs()
            );
            log::warn!("failing job {job_id}: {message}");
            graph.abort_running(message);
            if let Err(e) = job_state.save_job(job_id, &graph).await {
                log::warn!("cannot tell the client of job {job_id} that it failed: {e}");
            }
            drop(graph);
            let server = server.clone();
            let job_id = job_id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(CLEAR_AFTER).await;
                if let Err(e) = server.cancel_job(job_id.clone()).await {
                    log::warn!("cannot clear failed job {job_id}: {e}");
                }
            });
        }
    }
}
