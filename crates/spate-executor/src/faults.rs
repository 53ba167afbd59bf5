//! Fault injection: task attempts that fail and shuffle blocks that get corrupted on
//! purpose, so tests (and users checking their own pipelines) see queries survive them.
//!
//! # Algorithm
//! Every decision is a pure function of the seed and of what it is about, never of
//! timing: a 64-bit mix (SplitMix64's finalizer, applied to each number in turn) of
//! `(seed, kind, stage, task, attempt[, partition, block])` is read as a number in
//! `[0, 1)` and the fault happens when it is below the configured fraction. The seed is
//! first mixed with the query's *shape* (its operators' names and partition counts, not
//! its paths or literals, [`FaultInjection::for_plan`]), so that different queries of a
//! session see different faults (else the unlucky task that fails on every attempt for
//! one seed would fail every query with that many stages). So, for a given seed and
//! plan, the same attempts fail and the same blocks are corrupted on every run, whatever
//! the thread count or the order tasks finish in, and a fraction `f` of *attempts*
//! fails: a retry (a new attempt number) draws again.
//!
//! A task fails the query when all its `task_retries + 1` attempts fail: with
//! `f = 0.2` and 3 retries, one task in 625 (`0.2^4`); at `f = 0.1`, one in 10,000. The
//! tests use fixed seeds, so they pass or fail the same way every time.
//!
//! - **Task failures** fire when an attempt has produced all its output and before it
//!   is committed (the map output stored, the result batches kept): the most work a
//!   failure can waste, and the attempt has read (taken) its shuffle input, which is
//!   what a retry must cope with. A task of a stage with coupled partitions (which runs
//!   again as a whole stage, see [`crate::retry`]) draws with its stage's run number in
//!   place of its attempt number, since how many of its attempts a rerun made void
//!   depends on timing; tasks that write are never made to fail.
//! - **Shuffle corruption** applies to each block of a finished map output, a block
//!   being one reduce partition's rows in memory or one spilled segment: a spilled
//!   segment gets bytes flipped on disk after its checksum was recorded, so the reader's
//!   checksum check is what finds it; rows held in memory have no bytes of their own to
//!   flip (checksumming them on every read would cost CPU for nothing in-process), so an
//!   in-memory block is *lost* instead, as it would be with its executor. Either way the
//!   reader reports the map output lost and [`crate::lineage`] runs the map task again.
//!   The output of a stage with coupled partitions is never damaged: one of its map
//!   tasks cannot run again alone.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use datafusion::error::{DataFusionError, Result};

use crate::error::ExecutorError;
use crate::shuffle::MapOutput;
use crate::stage::StageId;

/// A fraction in `[0, 1]`, of task attempts or of shuffle blocks.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Fraction(f64);

impl Eq for Fraction {}

impl Fraction {
    /// `value` if it lies in `[0, 1]`; `None` otherwise (also for NaN).
    pub fn new(value: f64) -> Option<Self> {
        (0.0..=1.0).contains(&value).then_some(Fraction(value))
    }

    /// The fraction as a number.
    pub fn get(self) -> f64 {
        self.0
    }

    /// Parses a number in `[0, 1]` (such as `0.2`); the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a number"))?;
        Fraction::new(value).ok_or_else(|| format!("{text} is not between 0 and 1"))
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// A fraction is a DataFusion setting (`spate.inject_task_failures = 0.2`).
datafusion::common::config_field!(Fraction, value => Fraction::parse(value)
    .map_err(|reason| DataFusionError::Configuration(
        format!("expected a fraction between 0 and 1 ({reason})")))?);

/// Which faults to inject; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultInjection {
    /// The fraction of task attempts that fail.
    pub task_failures: Fraction,
    /// The fraction of shuffle blocks that are corrupted (spilled) or lost (in memory).
    pub shuffle_corruption: Fraction,
    /// Decides which attempts and blocks; the same seed gives the same faults.
    pub seed: u64,
}

const TASK: u64 = 1;
const BLOCK: u64 = 2;
const STAGE_RUN: u64 = 3;

impl FaultInjection {
    /// The faults for running `plan`: the seed mixed with the plan's shape (see the
    /// module doc).
    pub(crate) fn for_plan(self, plan: &Arc<dyn ExecutionPlan>) -> Self {
        let mut shape = vec![self.seed];
        let _ = plan.apply(|node| {
            // FNV-1a of the name: stable across runs and builds.
            let name = node.name().bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
            });
            shape.push(name);
            shape.push(node.output_partitioning().partition_count() as u64);
            Ok(TreeNodeRecursion::Continue)
        });
        FaultInjection {
            seed: (unit(&shape) * (1u64 << 53) as f64) as u64,
            ..self
        }
    }

    /// Whether attempt `attempt` of task `task` of `stage` fails.
    pub(crate) fn fails_task(&self, stage: StageId, task: usize, attempt: u32) -> bool {
        let draw = unit(&[
            self.seed,
            TASK,
            stage.0 as u64,
            task as u64,
            u64::from(attempt),
        ]);
        draw < self.task_failures.get()
    }

    /// The task that fails in run `run` of a stage whose `tasks` tasks must all succeed
    /// in one run (coupled partitions, see `retry`), if any: the run fails with the
    /// probability an attempt does, and then in one task. Drawing per task instead would
    /// fail a run of n tasks with probability 1 - (1 - p)^n, and a wide stage would use
    /// up its reruns on injected failures alone.
    pub(crate) fn fails_stage_run(&self, stage: StageId, run: u32, tasks: usize) -> Option<usize> {
        let key = [self.seed, STAGE_RUN, stage.0 as u64, u64::from(run)];
        if unit(&key) >= self.task_failures.get() {
            return None;
        }
        let pick = unit(&[self.seed, STAGE_RUN, stage.0 as u64, u64::from(run), 1]);
        Some(((pick * tasks as f64) as usize).min(tasks.saturating_sub(1)))
    }

    /// Whether block `block` of `partition`, written by attempt `attempt` of map task
    /// `task` of `stage`, is corrupted.
    pub(crate) fn corrupts_block(
        &self,
        (stage, task, attempt): (StageId, usize, u32),
        partition: usize,
        block: usize,
    ) -> bool {
        let draw = unit(&[
            self.seed,
            BLOCK,
            stage.0 as u64,
            task as u64,
            u64::from(attempt),
            partition as u64,
            block as u64,
        ]);
        draw < self.shuffle_corruption.get()
    }
}

/// What an injected task failure is drawn for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Draw {
    /// This attempt of the task.
    Attempt(u32),
    /// This run (counted from 0) of a stage of `tasks` coupled tasks.
    StageRun { run: u32, tasks: usize },
}

/// Fails task `task` of `stage` if `faults` say so for `draw`.
pub(crate) fn inject_task_failure(
    faults: Option<&FaultInjection>,
    stage: StageId,
    task: usize,
    draw: Draw,
) -> Result<()> {
    let fails = |f: &FaultInjection| match draw {
        Draw::Attempt(attempt) => f.fails_task(stage, task, attempt),
        Draw::StageRun { run, tasks } => f.fails_stage_run(stage, run, tasks) == Some(task),
    };
    let attempt = match draw {
        Draw::Attempt(attempt) => attempt,
        Draw::StageRun { run, .. } => run + 1,
    };
    match faults {
        Some(f) if fails(f) => Err(DataFusionError::External(Box::new(
            ExecutorError::InjectedFailure {
                stage,
                task,
                attempt,
            },
        ))),
        _ => Ok(()),
    }
}

/// Corrupts the blocks of `output` (written by attempt `attempt` of its map task in
/// `stage`) that `faults` say: flips bytes of spilled segments on disk, loses rows held
/// in memory. Returns how many blocks.
pub(crate) fn damage(faults: &FaultInjection, output: &MapOutput, stage: StageId) -> Result<u64> {
    if faults.shuffle_corruption.get() <= 0.0 {
        return Ok(0);
    }
    let id = (stage, output.task, output.attempt);
    let mut damaged = 0;
    for (slot, partition) in output.slots().enumerate() {
        if faults.corrupts_block(id, partition, 0) && output.lose(partition) {
            damaged += 1;
        }
        if let Some(spill) = &output.spill {
            for segment in 0..spill.segments(slot) {
                if faults.corrupts_block(id, partition, segment + 1) {
                    spill.corrupt(slot, segment)?;
                    damaged += 1;
                }
            }
        }
    }
    Ok(damaged)
}

/// A number in `[0, 1)` from `words`, well mixed.
fn unit(words: &[u64]) -> f64 {
    let hash = words
        .iter()
        .fold(0x9E37_79B9_7F4A_7C15_u64, |h, &w| mix(h ^ mix(w)));
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse_only_within_zero_and_one() {
        assert_eq!(Fraction::parse("0.2").map(Fraction::get), Ok(0.2));
        assert_eq!(Fraction::parse(" 1 ").map(Fraction::get), Ok(1.0));
        assert!(Fraction::parse("abc").is_err());
        assert!(Fraction::parse("1.5").is_err());
        assert!(Fraction::parse("-0.1").is_err());
        assert!(Fraction::parse("NaN").is_err());
    }

    #[test]
    fn about_the_configured_fraction_of_attempts_fail_and_the_same_ones_every_time() {
        let faults = FaultInjection {
            task_failures: Fraction(0.2),
            shuffle_corruption: Fraction(0.0),
            seed: 7,
        };
        let failed: Vec<bool> = (0..10_000)
            .map(|i| faults.fails_task(StageId(i % 7), i, 1 + (i % 3) as u32))
            .collect();
        let count = failed.iter().filter(|f| **f).count();
        assert!((1800..2200).contains(&count), "{count} of 10000 failed");
        let again: Vec<bool> = (0..10_000)
            .map(|i| faults.fails_task(StageId(i % 7), i, 1 + (i % 3) as u32))
            .collect();
        assert_eq!(failed, again);
        assert!(!(0..100).any(|i| faults.corrupts_block((StageId(0), i, 1), 0, 0)));
    }

    #[test]
    fn a_retry_draws_again() {
        let faults = FaultInjection {
            task_failures: Fraction(0.5),
            shuffle_corruption: Fraction(0.5),
            seed: 1,
        };
        let attempts: Vec<bool> = (1..40)
            .map(|a| faults.fails_task(StageId(0), 0, a))
            .collect();
        assert!(attempts.contains(&true) && attempts.contains(&false));
    }

    #[test]
    fn a_coupled_stage_run_fails_as_often_as_an_attempt_in_one_task() {
        let faults = FaultInjection {
            task_failures: Fraction(0.2),
            shuffle_corruption: Fraction(0.0),
            seed: 3,
        };
        let victims: Vec<Option<usize>> = (0..5_000)
            .map(|run| faults.fails_stage_run(StageId(run as usize % 5), run, 7))
            .collect();
        let failed = victims.iter().filter(|v| v.is_some()).count();
        assert!(
            (900..1100).contains(&failed),
            "{failed} of 5000 runs failed"
        );
        assert!(victims.iter().flatten().all(|task| *task < 7));
        let tasks: std::collections::BTreeSet<usize> = victims.iter().flatten().copied().collect();
        assert_eq!(tasks.len(), 7, "every task is sometimes the one that fails");
    }
}
