//! [`Autoscaler`]: when to start and stop executors, from the scheduler's load.
//!
//! # Policy
//! Each observation of the load ([`ClusterLoad`], about twice a second) is compared with
//! the executors the provider runs:
//! 1. **Up.** While tasks wait (`pending > 0`) in every observation for
//!    [`ScalingPolicy::scale_up_after`], and fewer than `max` executors run, start one.
//!    The next start waits until that one has joined the scheduler (or 30 s passed),
//!    and until tasks have again waited `scale_up_after`: one executor at a time, each
//!    sized by what is still waiting once the last one took its share.
//! 2. **Down.** An executor that runs no task and holds no shuffle output a running job
//!    still reads is idle; one idle for [`ScalingPolicy::scale_down_after`] while no task
//!    waits is stopped, the most recently started first, while more than `min` run.
//! 3. **Floor.** Fewer than `min` running (one exited) starts one at once.
//!
//! The decisions are pure functions of the observations and the time, so the policy is
//! unit-tested here without processes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::cluster_load::ClusterLoad;

/// How long a started executor may take to join before another may be started.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The bounds and thresholds of autoscaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingPolicy {
    /// Executors kept running when idle (at least 1).
    pub min: usize,
    /// Executors at most.
    pub max: usize,
    /// How long tasks must wait before an executor is added. Default 1 s.
    pub scale_up_after: Duration,
    /// How long an executor must be idle before it is stopped. Default 30 s.
    pub scale_down_after: Duration,
}

impl ScalingPolicy {
    /// The default `scale_up_after`.
    pub const DEFAULT_SCALE_UP_AFTER: Duration = Duration::from_secs(1);
    /// The default `scale_down_after`.
    pub const DEFAULT_SCALE_DOWN_AFTER: Duration = Duration::from_secs(30);
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Start an executor with this id, because `pending` tasks wait (or to reach `min`).
    Start { id: String, pending: usize },
    /// Stop this executor, idle for `idle`, after it ran `tasks` tasks.
    Stop {
        id: String,
        idle: Duration,
        tasks: usize,
    },
}

/// The autoscaler's memory between observations; see the module doc.
#[derive(Debug)]
pub(crate) struct Autoscaler {
    policy: ScalingPolicy,
    /// Since when tasks have waited in every observation.
    waiting_since: Option<Instant>,
    /// Since when each executor has been idle.
    idle_since: HashMap<String, Instant>,
    /// The executor started last and when, until it joins.
    joining: Option<(String, Instant)>,
    /// Executors started so far (names the next one).
    started: usize,
}

impl Autoscaler {
    pub fn new(policy: ScalingPolicy) -> Self {
        Autoscaler {
            policy,
            waiting_since: None,
            idle_since: HashMap::new(),
            joining: None,
            started: 0,
        }
    }

    /// The id for the next executor started (`executor-1`, `executor-2`, ...).
    pub fn next_id(&mut self) -> String {
        self.started += 1;
        format!("executor-{}", self.started)
    }

    /// What to do given `load`, observed at `now`, and the executors the provider runs
    /// (`running`, in the order they were started).
    pub fn decide(
        &mut self,
        load: &ClusterLoad,
        now: Instant,
        running: &[String],
    ) -> Vec<Decision> {
        if let Some((id, at)) = &self.joining
            && (load.executors.iter().any(|e| &e.id == id) || now - *at > JOIN_TIMEOUT)
        {
            // Tasks that still wait must wait again, now that it took its share.
            self.joining = None;
            self.waiting_since = None;
        }
        if running.len() < self.policy.min {
            return self.start(now, load.pending_tasks);
        }
        if load.pending_tasks == 0 {
            self.waiting_since = None;
        } else {
            let since = *self.waiting_since.get_or_insert(now);
            if now - since >= self.policy.scale_up_after
                && self.joining.is_none()
                && running.len() < self.policy.max
            {
                self.waiting_since = Some(now);
                return self.start(now, load.pending_tasks);
            }
        }
        self.track_idle(load, now);
        if load.pending_tasks > 0 || running.len() <= self.policy.min {
            return Vec::new();
        }
        let stop = running.iter().rev().find_map(|id| {
            let idle = now - *self.idle_since.get(id)?;
            (idle >= self.policy.scale_down_after).then(|| (id.clone(), idle))
        });
        match stop {
            Some((id, idle)) => {
                self.idle_since.remove(&id);
                let tasks = load
                    .executors
                    .iter()
                    .find(|e| e.id == id)
                    .map_or(0, |e| e.finished_tasks);
                vec![Decision::Stop { id, idle, tasks }]
            }
            None => Vec::new(),
        }
    }

    fn start(&mut self, now: Instant, pending: usize) -> Vec<Decision> {
        let id = self.next_id();
        self.joining = Some((id.clone(), now));
        vec![Decision::Start { id, pending }]
    }

    /// Notes which executors are idle since when; busy or gone ones are forgotten.
    fn track_idle(&mut self, load: &ClusterLoad, now: Instant) {
        let mut idle = HashMap::new();
        for executor in &load.executors {
            if executor.running_tasks == 0 && !executor.holds_output {
                let since = self.idle_since.get(&executor.id).copied().unwrap_or(now);
                idle.insert(executor.id.clone(), since);
            }
        }
        self.idle_since = idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_load::ExecutorLoad;

    fn executor(id: &str, running: usize, holds: bool) -> ExecutorLoad {
        ExecutorLoad {
            id: id.into(),
            slots: 1,
            running_tasks: running,
            finished_tasks: 3,
            holds_output: holds,
        }
    }

    fn load(pending: usize, executors: Vec<ExecutorLoad>) -> ClusterLoad {
        ClusterLoad {
            pending_tasks: pending,
            running_jobs: usize::from(pending > 0),
            executors,
        }
    }

    fn policy() -> ScalingPolicy {
        ScalingPolicy {
            min: 1,
            max: 3,
            scale_up_after: Duration::from_secs(1),
            scale_down_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn waiting_tasks_add_one_executor_at_a_time_up_to_the_maximum() {
        let mut scaler = Autoscaler::new(policy());
        // `cluster up` names the executors it starts first, too.
        assert_eq!(scaler.next_id(), "executor-1");
        let t0 = Instant::now();
        let one = vec!["executor-1".to_string()];
        let busy = load(5, vec![executor("executor-1", 1, false)]);
        assert!(
            scaler.decide(&busy, t0, &one).is_empty(),
            "not waited long enough"
        );
        let started = scaler.decide(&busy, t0 + Duration::from_millis(1200), &one);
        let Some(Decision::Start { id, pending: 5 }) = started.first() else {
            panic!("{started:?}")
        };
        let two = vec!["executor-1".to_string(), id.clone()];
        // Until it joins, no other start.
        assert!(
            scaler
                .decide(&busy, t0 + Duration::from_secs(5), &two)
                .is_empty()
        );
        let joined = load(
            4,
            vec![executor("executor-1", 1, false), executor(id, 1, false)],
        );
        assert!(
            scaler
                .decide(&joined, t0 + Duration::from_secs(6), &two)
                .is_empty()
        );
        let third = scaler.decide(&joined, t0 + Duration::from_secs(7), &two);
        assert!(
            matches!(third.first(), Some(Decision::Start { .. })),
            "{third:?}"
        );
        let three = vec![two[0].clone(), two[1].clone(), "executor-9".into()];
        assert!(
            scaler
                .decide(&joined, t0 + Duration::from_secs(20), &three)
                .is_empty()
        );
    }

    #[test]
    fn idle_executors_stop_after_the_threshold_down_to_the_minimum() {
        let mut scaler = Autoscaler::new(policy());
        let t0 = Instant::now();
        let running = vec!["executor-1".to_string(), "executor-2".to_string()];
        let idle = load(
            0,
            vec![
                executor("executor-1", 0, false),
                executor("executor-2", 0, false),
            ],
        );
        assert!(scaler.decide(&idle, t0, &running).is_empty());
        assert!(
            scaler
                .decide(&idle, t0 + Duration::from_secs(9), &running)
                .is_empty()
        );
        let stop = scaler.decide(&idle, t0 + Duration::from_secs(10), &running);
        assert_eq!(
            stop,
            vec![Decision::Stop {
                id: "executor-2".into(),
                idle: Duration::from_secs(10),
                tasks: 3
            }]
        );
        let one = vec!["executor-1".to_string()];
        assert!(
            scaler
                .decide(&idle, t0 + Duration::from_secs(30), &one)
                .is_empty()
        );
    }

    #[test]
    fn an_executor_holding_shuffle_output_or_running_tasks_is_not_idle() {
        let mut scaler = Autoscaler::new(policy());
        let t0 = Instant::now();
        let running = vec!["executor-1".to_string(), "executor-2".to_string()];
        let held = load(
            0,
            vec![
                executor("executor-1", 1, false),
                executor("executor-2", 0, true),
            ],
        );
        assert!(scaler.decide(&held, t0, &running).is_empty());
        assert!(
            scaler
                .decide(&held, t0 + Duration::from_secs(60), &running)
                .is_empty()
        );
        // Released: idle from now on, not from before.
        let free = load(
            0,
            vec![
                executor("executor-1", 1, false),
                executor("executor-2", 0, false),
            ],
        );
        assert!(
            scaler
                .decide(&free, t0 + Duration::from_secs(61), &running)
                .is_empty()
        );
        let stop = scaler.decide(&free, t0 + Duration::from_secs(71), &running);
        assert!(matches!(stop.first(), Some(Decision::Stop { id, .. }) if id == "executor-2"));
    }

    #[test]
    fn below_the_minimum_an_executor_starts_at_once() {
        let mut scaler = Autoscaler::new(policy());
        let started = scaler.decide(&load(0, vec![]), Instant::now(), &[]);
        assert_eq!(
            started,
            vec![Decision::Start {
                id: "executor-1".into(),
                pending: 0
            }]
        );
    }
}
