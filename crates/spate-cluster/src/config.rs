//! The settings of cluster mode that decide how fast faults are noticed and how long work
//! waits for executors, with their defaults. The scheduler applies them
//! ([`crate::Scheduler`]); `spate cluster scheduler` and `spate cluster up` take them as
//! flags.
//!
//! # How a lost executor is noticed
//! Executors are pull-based: each asks the scheduler for work at least every 5 s while
//! all its task slots are busy, and every 50 ms while it has a free slot; every request
//! is a heartbeat. The scheduler checks every [`EXPIRE_CHECK_INTERVAL`] for executors
//! whose last heartbeat is older than [`FaultSettings::executor_timeout`] and drops them:
//! their running tasks go back to the queue and the shuffle output they held is
//! recomputed (the stages that wrote it run again for the lost partitions). A SIGKILLed
//! executor is so dropped within `executor_timeout` + 2 s (heartbeats are recorded in
//! whole seconds), often sooner: a task that cannot fetch its shuffle input from it
//! fails at once, and the scheduler reruns the stage that wrote that input.

use std::time::Duration;

/// How often the scheduler looks for executors whose heartbeats stopped.
pub const EXPIRE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Attempts of one task before its job fails (Ballista's default).
pub const TASK_MAX_ATTEMPTS: usize = 4;

/// Attempts of one stage (reruns after lost shuffle input) before its job fails.
pub const STAGE_MAX_ATTEMPTS: usize = 4;

/// Fault detection and waiting; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSettings {
    /// An executor not heard from for this long is dropped; its tasks and shuffle output
    /// are recomputed elsewhere. Longer than the 5 s an executor with every slot busy
    /// may go without asking for work. Default 8 s.
    pub executor_timeout: Duration,
    /// A job that finds no executor at all (none ever joined, or every one was lost)
    /// fails after waiting this long for one. Default 60 s.
    pub executor_wait: Duration,
}

impl FaultSettings {
    /// The default executor timeout.
    pub const DEFAULT_EXECUTOR_TIMEOUT: Duration = Duration::from_secs(8);
    /// The default wait for an executor.
    pub const DEFAULT_EXECUTOR_WAIT: Duration = Duration::from_secs(60);
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            executor_timeout: Self::DEFAULT_EXECUTOR_TIMEOUT,
            executor_wait: Self::DEFAULT_EXECUTOR_WAIT,
        }
    }
}
