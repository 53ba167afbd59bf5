//! What each stage did.

use std::fmt;
use std::time::Duration;

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
    /// Wall time from its first task's start to its last task's end.
    pub elapsed: Duration,
}

impl StageMetrics {
    pub(crate) fn new(stage: StageId, tasks: usize) -> Self {
        StageMetrics {
            stage: stage.0,
            tasks,
            ..StageMetrics::default()
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
    /// Bytes spilled by all shuffles.
    pub fn spilled_bytes(&self) -> u64 {
        self.stages.iter().map(|s| s.spilled_bytes).sum()
    }

    /// Spill files written by all shuffles.
    pub fn spill_files(&self) -> u64 {
        self.stages.iter().map(|s| s.spill_files).sum()
    }
}

impl fmt::Display for QueryMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>5} {:>6} {:>12} {:>14} {:>14} {:>6} {:>10}",
            "stage", "tasks", "rows out", "shuffle mem", "spilled", "files", "time"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "{:>5} {:>6} {:>12} {:>14} {:>14} {:>6} {:>9.3}s",
                s.stage,
                s.tasks,
                s.output_rows,
                s.shuffle_memory_bytes,
                s.spilled_bytes,
                s.spill_files,
                s.elapsed.as_secs_f64()
            )?;
        }
        Ok(())
    }
}
