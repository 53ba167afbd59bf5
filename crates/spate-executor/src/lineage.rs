//! Lineage: running map tasks again when their output is lost.
//!
//! A reader that finds a map output missing, or one of its blocks corrupt (a spilled
//! segment whose checksum does not match), fails with
//! [`crate::ExecutorError::MapOutputLost`]. The query does not fail, and neither does the
//! whole stage run again: only the map task that wrote the output does, and then the
//! reader, which does not count it as one of its failures.
//!
//! # Algorithm
//! - A map task's inputs are usually gone by the time its output is read (a stage's
//!   inputs are released when it is done), so recomputing map task `m` of stage `I`
//!   means first recomputing **every** task of each input stage of `I` that has been
//!   released, and of theirs, transitively, down to stages still held or scans. These
//!   form *levels*, in stage order (a topological order): all tasks of each released
//!   ancestor, then `(I, m)`. Released stages are opened again in the store, and
//!   released again when the recomputation is over.
//! - Recomputations run one at a time, as a stack: a recompute task that itself finds a
//!   lost output pushes a nested recomputation and waits for it; a lost output found by
//!   an ordinary task waits in a queue if one is already running. The tasks that found a
//!   lost output are *parked* on its recomputation and queued again when it is done.
//!   Meanwhile every other task keeps running.
//! - A reader that read an older output of the same map task than the one now stored
//!   (the map task ran again since) is simply queued again.
//! - A map task recomputed more than `limit` times fails the query: its outputs keep
//!   being lost, which more attempts will not change. So does a lost output whose
//!   recomputation would run a stage with coupled partitions (see
//!   `retry::has_coupled_partitions`) task by task.
//!
//! Re-running a map task gives the same rows per reduce partition when its plan is
//! deterministic: always for hash shuffles of the same rows; a round-robin shuffle deals
//! batches in the order its input gives them, which is the same for scans but may differ
//! for a shuffle input read in another order. That is assumed here, as Spark assumed it
//! before it learnt to re-run whole "indeterminate" stages.

use std::collections::{BTreeSet, HashMap, VecDeque};

use datafusion::error::{DataFusionError, Result};

use crate::planner::StageGraph;
use crate::shuffle::ShuffleStore;
use crate::stage::StageId;

/// A task: its stage and its index.
pub(crate) type TaskId = (StageId, usize);

/// One recomputation; see the module doc.
#[derive(Debug)]
struct Recompute {
    /// The map output being recomputed.
    lost: TaskId,
    /// Stages to run, in order, each with its tasks.
    levels: Vec<(StageId, Vec<usize>)>,
    /// The level running.
    level: usize,
    /// Its tasks not finished yet.
    remaining: usize,
    /// Stages opened again for it, released when it is over.
    reopened: Vec<StageId>,
    /// Tasks waiting for it.
    parked: Vec<TaskId>,
}

/// The lost map outputs of a query and their recomputation; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct Lineage {
    stack: Vec<Recompute>,
    pending: VecDeque<(TaskId, Vec<TaskId>)>,
    recomputed: HashMap<TaskId, usize>,
    limit: usize,
}

impl Lineage {
    /// A map task may be recomputed at most `limit` times.
    pub fn new(limit: usize) -> Self {
        Lineage {
            limit,
            ..Lineage::default()
        }
    }

    /// Task `failed` found map output `lost`, written by attempt `attempt` (0 if it was
    /// missing); returns the tasks to queue now. `recompute` says whether `failed` is a
    /// recompute task itself. Fails when `lost` was recomputed too often.
    pub fn lost(
        &mut self,
        failed: TaskId,
        (lost, attempt): (TaskId, u32),
        recompute: bool,
        graph: &StageGraph,
        store: &ShuffleStore,
    ) -> Result<Vec<TaskId>> {
        if store
            .output_attempt(lost.0, lost.1)
            .is_some_and(|a| a > attempt)
        {
            // It ran again since this reader took its snapshot.
            return Ok(vec![failed]);
        }
        if let Some(r) = self.stack.iter_mut().find(|r| r.lost == lost) {
            r.parked.push(failed);
            return Ok(Vec::new());
        }
        if let Some((_, parked)) = self.pending.iter_mut().find(|(l, _)| *l == lost) {
            parked.push(failed);
            return Ok(Vec::new());
        }
        let count = self.recomputed.entry(lost).or_insert(0);
        *count += 1;
        if *count > self.limit {
            return Err(DataFusionError::Execution(format!(
                "the output of map task {} of stage {} was lost {} times",
                lost.1, lost.0, count
            )));
        }
        if self.stack.is_empty() || recompute {
            Ok(self.start(lost, vec![failed], graph, store))
        } else {
            self.pending.push_back((lost, vec![failed]));
            Ok(Vec::new())
        }
    }

    /// A recompute task finished; returns the tasks to queue now.
    pub fn finished(&mut self, graph: &StageGraph, store: &ShuffleStore) -> Vec<TaskId> {
        let Some(top) = self.stack.last_mut() else {
            return Vec::new();
        };
        top.remaining = top.remaining.saturating_sub(1);
        if top.remaining > 0 {
            return Vec::new();
        }
        top.level += 1;
        if let Some((stage, tasks)) = top.levels.get(top.level) {
            top.remaining = tasks.len();
            return tasks.iter().map(|t| (*stage, *t)).collect();
        }
        let Some(done) = self.stack.pop() else {
            return Vec::new();
        };
        for stage in &done.reopened {
            store.release(*stage);
        }
        let mut queue = done.parked;
        if self.stack.is_empty()
            && let Some((lost, parked)) = self.pending.pop_front()
        {
            queue.extend(self.start(lost, parked, graph, store));
        }
        queue
    }

    /// Starts recomputing `lost`; returns the tasks of its first level.
    fn start(
        &mut self,
        lost: TaskId,
        parked: Vec<TaskId>,
        graph: &StageGraph,
        store: &ShuffleStore,
    ) -> Vec<TaskId> {
        let mut released = BTreeSet::new();
        let mut walk: Vec<StageId> = graph.stages[lost.0.0].inputs.clone();
        while let Some(stage) = walk.pop() {
            if !store.has_stage(stage) && released.insert(stage) {
                walk.extend(graph.stages[stage.0].inputs.iter().copied());
            }
        }
        let mut levels: Vec<(StageId, Vec<usize>)> = released
            .iter()
            .map(|s| (*s, (0..graph.stages[s.0].tasks()).collect()))
            .filter(|(_, tasks): &(StageId, Vec<usize>)| !tasks.is_empty())
            .collect();
        levels.push((lost.0, vec![lost.1]));
        for stage in &released {
            store.open(*stage, graph.stages[stage.0].tasks());
        }
        store.discard(lost.0, lost.1);
        let (stage, tasks) = &levels[0];
        let first = tasks.iter().map(|t| (*stage, *t)).collect::<Vec<_>>();
        self.stack.push(Recompute {
            lost,
            remaining: first.len(),
            levels,
            level: 0,
            reopened: released.into_iter().collect(),
            parked,
        });
        first
    }
}
