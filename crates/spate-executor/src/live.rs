//! [`LiveProgress`]: where the running query's stages stand, for progress displays.
//!
//! The scheduler's driver writes a fresh list of [`StageProgress`] after every task it
//! launches and every task that comes back; a display reads [`LiveProgress::stages`] on
//! its own clock, from any thread. When a task fails the query, the driver leaves the
//! figures of its stages as they stood ([`LiveProgress::failed`]), so that the failed run
//! can be reported. Nothing is tracked unless a caller hands one to
//! [`crate::Executor::with_progress`].

use std::sync::Mutex;

use crate::metrics::QueryMetrics;

/// Where one stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagePhase {
    /// Some input stage is not done yet (or it is runnable but none of its tasks started).
    Waiting,
    /// Its tasks run (including a stage stopping under a `LIMIT`, running again, or
    /// recomputing a lost output).
    Running,
    /// All its tasks are back, or it failed.
    Done,
}

/// One stage of the running query, as of the latest scheduler event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageProgress {
    /// The stage's id (as in `EXPLAIN` and the job report).
    pub stage: usize,
    /// Its tasks as known now: adaptive reads may change the count when the stage
    /// starts, and a split scan adds one.
    pub tasks: usize,
    /// Its tasks back (succeeded, skipped or stopped under a `LIMIT`) in its current run.
    pub done: usize,
    /// Its task attempts running now.
    pub running: usize,
    /// Where it stands.
    pub phase: StagePhase,
    /// Rows its finished tasks produced.
    pub rows: u64,
}

/// The stages of the running query, shared between the executor and a display. See the
/// module doc.
#[derive(Debug, Default)]
pub struct LiveProgress {
    stages: Mutex<Vec<StageProgress>>,
    failed: Mutex<Option<QueryMetrics>>,
}

impl LiveProgress {
    /// An empty progress: no stages.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stages as of the latest scheduler event, by stage id; empty before the query
    /// starts or after [`LiveProgress::clear`]. Stages absorbed into another by a
    /// broadcast switch are left out (they never run).
    pub fn stages(&self) -> Vec<StageProgress> {
        self.stages
            .lock()
            .map(|stages| stages.clone())
            .unwrap_or_default()
    }

    /// Forgets the stages, and a failed query's figures (a new query is about to run).
    pub fn clear(&self) {
        self.set(Vec::new());
        self.clear_failed();
    }

    /// Forgets a failed query's figures, keeping the stages.
    pub fn clear_failed(&self) {
        if let Ok(mut failed) = self.failed.lock() {
            *failed = None;
        }
    }

    /// When the latest query failed, the figures of its stages that became runnable as
    /// they stood: each ends done, failed or cancelled ([`crate::StageEnd`]). `None` when
    /// it did not fail (or has not ended).
    pub fn failed(&self) -> Option<QueryMetrics> {
        self.failed.lock().ok().and_then(|failed| failed.clone())
    }

    /// Keeps `figures`, those of a query that failed.
    pub(crate) fn set_failed(&self, figures: QueryMetrics) {
        if let Ok(mut failed) = self.failed.lock() {
            *failed = Some(figures);
        }
    }

    /// Replaces the stages with `stages`.
    pub(crate) fn set(&self, stages: Vec<StageProgress>) {
        if let Ok(mut current) = self.stages.lock() {
            *current = stages;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_clear_are_seen_by_readers() {
        let live = LiveProgress::new();
        assert!(live.stages().is_empty());
        let stage = StageProgress {
            stage: 1,
            tasks: 4,
            done: 1,
            running: 2,
            phase: StagePhase::Running,
            rows: 10,
        };
        live.set(vec![stage]);
        assert_eq!(live.stages(), vec![stage]);
        live.clear();
        assert!(live.stages().is_empty());
    }
}
