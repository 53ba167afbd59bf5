//! Dynamic work rebalancing of scans: an idle worker takes half of a running scan task's
//! unread work.
//!
//! # Algorithm
//! When a stage that scans files becomes runnable, [`Rebalancer::prepare`] checks that
//! its tasks can be divided at run time ([`scan::splittable_scan`]: one Parquet or CSV
//! scan whose partition `i` is the stage's task `i`, no order to keep, no `LIMIT`, no
//! join whose partitions depend on each other, output into a shuffle or an unordered
//! gather). If so, each task's files are cut into **work units** of about
//! [`unit_bytes`]: byte ranges, which DataFusion's readers turn into whole row groups (a
//! Parquet row group belongs to the range holding its first page; a CSV line to the
//! range it starts in), and whole files where a format cannot be read by range
//! (compressed files, CSV with newlines in values). The stage's scan is wrapped in a
//! [`UnitScanExec`](scan::UnitScanExec), which reads its task's units one after the
//! other, claiming each only when it starts it.
//!
//! The scheduler asks [`Rebalancer::split`] whenever a worker is free and no task is
//! queued. The running task with the most unclaimed units (at least two) keeps the
//! first half; the second half becomes a new task of the same stage, which the idle
//! worker runs. It executes the same plan partition as the task it came from (so every
//! operator above the scan sees a partition it knows) and writes a map output of its
//! own. A task split this way can be split again, so one file twenty times bigger than
//! the others is spread over every worker instead of finishing on one.
//!
//! # Retries
//! A task's units live here, outside its attempts: an attempt reads the units its task
//! holds when it starts (the ones already read by a failed attempt are read again), and
//! a split only ever takes units no attempt has claimed. So a retried or recomputed task
//! reads exactly what it read before, minus what it gave away, and every unit is read
//! by exactly one task's output.

mod scan;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::datasource::physical_plan::FileGroup;
use datafusion::error::Result;
use parking_lot::Mutex;

use crate::stage::{Stage, StageId};

/// Work units per task a scan aims for, so a split has something to hand over.
const UNITS_PER_TASK: u64 = 8;
/// The smallest work unit: below it, opening a unit costs more than rebalancing gains.
const MIN_UNIT_BYTES: u64 = 8 * 1024 * 1024;
/// The largest work unit.
const MAX_UNIT_BYTES: u64 = 128 * 1024 * 1024;

/// The size of a work unit for a scan of `total` bytes on `threads` workers: about
/// [`UNITS_PER_TASK`] units per worker, between 8 and 128 MiB.
pub(crate) fn unit_bytes(total: u64, threads: usize) -> u64 {
    (total / (threads.max(1) as u64 * UNITS_PER_TASK)).clamp(MIN_UNIT_BYTES, MAX_UNIT_BYTES)
}

/// The work units one task reads, in order, and how many its current attempt claimed.
#[derive(Debug)]
pub(crate) struct TaskUnits {
    /// The partition of the stage's plan the task executes.
    partition: usize,
    state: Mutex<Assignment>,
}

#[derive(Debug)]
struct Assignment {
    units: Vec<FileGroup>,
    claimed: usize,
}

impl TaskUnits {
    fn new(partition: usize, units: Vec<FileGroup>) -> Self {
        TaskUnits {
            partition,
            state: Mutex::new(Assignment { units, claimed: 0 }),
        }
    }

    /// A new attempt starts: it reads the task's units from the first.
    pub(crate) fn restart(&self) {
        self.state.lock().claimed = 0;
    }

    /// The next unit for the running attempt, now claimed; `None` when it has read all.
    pub(crate) fn claim(&self) -> Option<FileGroup> {
        let mut state = self.state.lock();
        let unit = state.units.get(state.claimed).cloned()?;
        state.claimed += 1;
        Some(unit)
    }

    /// Units not claimed yet.
    fn unclaimed(&self) -> usize {
        let state = self.state.lock();
        state.units.len() - state.claimed
    }

    /// Gives away the second half of the unclaimed units, if there are at least two.
    fn split_off(&self) -> Option<Vec<FileGroup>> {
        let mut state = self.state.lock();
        let unclaimed = state.units.len() - state.claimed;
        if unclaimed < 2 {
            return None;
        }
        let keep = state.claimed + unclaimed.div_ceil(2);
        Some(state.units.split_off(keep))
    }
}

/// The work units of every task of the stages whose scans are rebalanced.
#[derive(Debug, Default)]
pub(crate) struct Rebalancer {
    /// Per stage, per task (index = task), its units.
    stages: HashMap<StageId, Vec<Arc<TaskUnits>>>,
}

impl Rebalancer {
    /// If `stage`'s scan can be rebalanced, wraps it in a
    /// [`UnitScanExec`](scan::UnitScanExec) and cuts each task's files into units for
    /// `threads` workers.
    pub(crate) fn prepare(&mut self, stage: &mut Stage, threads: usize) -> Result<()> {
        let Some((plan, units)) = scan::splittable_scan(stage, threads)? else {
            return Ok(());
        };
        stage.set_body(plan);
        let tasks = units
            .into_iter()
            .enumerate()
            .map(|(partition, units)| Arc::new(TaskUnits::new(partition, units)))
            .collect();
        self.stages.insert(stage.id, tasks);
        Ok(())
    }

    /// The units of `task` of `stage`, if its scan is rebalanced.
    pub(crate) fn units(&self, stage: StageId, task: usize) -> Option<Arc<TaskUnits>> {
        self.stages.get(&stage)?.get(task).cloned()
    }

    /// Splits the running task (of `running`) with the most unclaimed units, at least
    /// two: the second half becomes a new task of its stage. Returns the stage, the new
    /// task's number (the stage's task count so far) and the plan partition it executes.
    pub(crate) fn split(
        &mut self,
        running: impl IntoIterator<Item = (StageId, usize)>,
    ) -> Option<(StageId, usize, usize)> {
        let (stage, victim) = running
            .into_iter()
            .filter_map(|(stage, task)| {
                let units = self.units(stage, task)?;
                let unclaimed = units.unclaimed();
                (unclaimed >= 2).then_some((unclaimed, stage, units))
            })
            .max_by_key(|(unclaimed, stage, units)| (*unclaimed, *stage, units.partition))
            .map(|(_, stage, units)| (stage, units))?;
        let given = victim.split_off()?;
        let tasks = self.stages.get_mut(&stage)?;
        let new_task = tasks.len();
        tasks.push(Arc::new(TaskUnits::new(victim.partition, given)));
        Some((stage, new_task, victim.partition))
    }

    /// A rebalancer whose `stage` has one task per entry of `units`, holding that many
    /// work units (one small file each), none claimed: for tests of the scheduler.
    #[cfg(test)]
    pub(crate) fn with_units(stage: StageId, units: &[usize]) -> Self {
        use datafusion::datasource::listing::PartitionedFile;
        let tasks = units
            .iter()
            .enumerate()
            .map(|(partition, n)| {
                let files = (0..*n)
                    .map(|i| {
                        FileGroup::new(vec![PartitionedFile::new(format!("{partition}-{i}"), 10)])
                    })
                    .collect();
                Arc::new(TaskUnits::new(partition, files))
            })
            .collect();
        Rebalancer {
            stages: HashMap::from([(stage, tasks)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::datasource::listing::PartitionedFile;

    use super::*;

    fn units(n: usize) -> Vec<FileGroup> {
        (0..n)
            .map(|i| FileGroup::new(vec![PartitionedFile::new(format!("f{i}"), 10)]))
            .collect()
    }

    fn names(groups: &[FileGroup]) -> Vec<String> {
        groups
            .iter()
            .flat_map(|g| g.iter().map(|f| f.object_meta.location.to_string()))
            .collect()
    }

    #[test]
    fn a_split_takes_the_second_half_of_what_is_unclaimed() {
        let task = TaskUnits::new(0, units(5));
        assert!(task.claim().is_some());
        let given = task.split_off().expect("4 unclaimed units split");
        assert_eq!(names(&given), ["f3", "f4"]);
        let mut read = Vec::new();
        while let Some(unit) = task.claim() {
            read.extend(names(std::slice::from_ref(&unit)));
        }
        assert_eq!(read, ["f1", "f2"]);
        assert!(task.split_off().is_none(), "nothing left to give");
    }

    #[test]
    fn a_new_attempt_reads_what_its_task_still_holds() {
        let task = TaskUnits::new(0, units(4));
        task.claim();
        task.claim();
        task.claim();
        assert!(
            task.split_off().is_none(),
            "one unit left to give is no split"
        );
        task.restart();
        let mut read = Vec::new();
        while let Some(unit) = task.claim() {
            read.extend(names(std::slice::from_ref(&unit)));
        }
        assert_eq!(read, ["f0", "f1", "f2", "f3"]);
    }

    #[test]
    fn the_task_with_most_unclaimed_units_is_split() {
        let stage = StageId(3);
        let mut rebalancer = Rebalancer::default();
        rebalancer.stages.insert(
            stage,
            vec![
                Arc::new(TaskUnits::new(0, units(3))),
                Arc::new(TaskUnits::new(1, units(6))),
            ],
        );
        let split = rebalancer.split([(stage, 0), (stage, 1)]);
        assert_eq!(split, Some((stage, 2, 1)));
        let new = rebalancer.units(stage, 2).expect("the new task's units");
        assert_eq!(new.partition, 1);
        assert_eq!(new.unclaimed(), 3);
        // Task 0 now has the most (3 against 3 and 3: the tie goes to the higher
        // partition, any is right); a task not running is never split.
        assert_eq!(rebalancer.split([(StageId(9), 0)]), None);
    }

    #[test]
    fn units_scale_with_the_scan_between_bounds() {
        assert_eq!(unit_bytes(0, 2), MIN_UNIT_BYTES);
        assert_eq!(unit_bytes(1 << 30, 2), 64 * 1024 * 1024);
        assert_eq!(unit_bytes(1 << 40, 2), MAX_UNIT_BYTES);
    }
}
