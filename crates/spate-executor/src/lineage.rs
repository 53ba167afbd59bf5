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
//!   being lost, which more attempts will not change.
//! - **Coupled stages.** When the lost output's stage, or a released stage upstream that
//!   must run again, has coupled partitions (see `retry::has_coupled_partitions`: the
//!   last probe partition to finish emits the unmatched build rows, so which task's
//!   output holds them depends on timing), one task of it cannot run again alone. The
//!   recomputation is then *whole*: every task of the lost output's stage runs again
//!   too (its outputs are all discarded first), each coupled stage among the levels on
//!   a fresh plan instance. A whole recomputation covers every output of its stage: a
//!   reader finding any of them missing waits for it. Since the new outputs may split
//!   the rows among map tasks differently from the old ones that readers already
//!   consumed, the stage of the task that found the loss must run again whole as well
//!   ([`Found::Whole`]; the caller stops and restarts it). A recompute task that itself
//!   finds a lost output of a coupled chain still fails the query.
//!
//! Re-running a map task gives the same rows per reduce partition when its plan is
//! deterministic: always for hash shuffles of the same rows; a round-robin shuffle deals
//! batches in the order its input gives them, which is the same for scans but may differ
//! for a shuffle input read in another order. That is assumed here, as Spark assumed it
//! before it learnt to re-run whole "indeterminate" stages.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::execution_plan::reset_plan_states;

use crate::planner::StageGraph;
use crate::retry::has_coupled_partitions;
use crate::shuffle::ShuffleStore;
use crate::stage::StageId;

/// A task: its stage and its index.
pub(crate) type TaskId = (StageId, usize);

/// What a task that found a lost map output must do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Queue these tasks now: the task itself when the output was written again since
    /// it read it, the first tasks of the recomputation it started, or none when it
    /// waits for a recomputation.
    Queue(Vec<TaskId>),
    /// A whole recomputation started (or waits for one running before it), whose first
    /// tasks these are: the stage of the task that found the loss must run again whole.
    Whole(Vec<TaskId>),
}

/// One recomputation; see the module doc.
#[derive(Debug)]
struct Recompute {
    /// The map output being recomputed.
    lost: TaskId,
    /// Every task of `lost`'s stage runs again (a coupled chain).
    whole: bool,
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

/// A recomputation waiting for the one running to end.
#[derive(Debug)]
struct Pending {
    lost: TaskId,
    whole: bool,
    parked: Vec<TaskId>,
}

/// Whether a recomputation of `lost` (whole or not) writes `output` again.
fn covers((lost, whole): (TaskId, bool), output: TaskId) -> bool {
    lost == output || (whole && lost.0 == output.0)
}

/// The lost map outputs of a query and their recomputation; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct Lineage {
    stack: Vec<Recompute>,
    pending: VecDeque<Pending>,
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
    /// missing); returns what it must do. `recompute` says whether `failed` is a
    /// recompute task itself. Fails when `lost` was recomputed too often, or when a
    /// recompute task finds an output of a coupled chain lost.
    pub fn lost(
        &mut self,
        failed: TaskId,
        (lost, attempt): (TaskId, u32),
        recompute: bool,
        graph: &mut StageGraph,
        store: &ShuffleStore,
    ) -> Result<Found> {
        if store
            .output_attempt(lost.0, lost.1)
            .is_some_and(|a| a > attempt)
        {
            // It ran again since this reader took its snapshot.
            return Ok(Found::Queue(vec![failed]));
        }
        if let Some(r) = self
            .stack
            .iter_mut()
            .find(|r| covers((r.lost, r.whole), lost))
        {
            r.parked.push(failed);
            return Ok(Found::Queue(Vec::new()));
        }
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| covers((p.lost, p.whole), lost))
        {
            p.parked.push(failed);
            return Ok(Found::Queue(Vec::new()));
        }
        let whole = runs_coupled_stage(graph, store, lost.0);
        if whole && recompute {
            return Err(DataFusionError::Execution(format!(
                "the output of map task {} of stage {} was lost while recomputing another, \
                 and its recomputation would run a stage with coupled partitions",
                lost.1, lost.0
            )));
        }
        let count = self.recomputed.entry(lost).or_insert(0);
        *count += 1;
        if *count > self.limit {
            return Err(DataFusionError::Execution(format!(
                "the output of map task {} of stage {} was lost {} times",
                lost.1, lost.0, count
            )));
        }
        // A whole recomputation restarts the failed task's stage: it is not parked.
        let parked = if whole { Vec::new() } else { vec![failed] };
        let first = if self.stack.is_empty() || recompute {
            self.start(
                Pending {
                    lost,
                    whole,
                    parked,
                },
                graph,
                store,
            )?
        } else {
            self.pending.push_back(Pending {
                lost,
                whole,
                parked,
            });
            Vec::new()
        };
        Ok(if whole {
            Found::Whole(first)
        } else {
            Found::Queue(first)
        })
    }

    /// A recompute task finished; returns the tasks to queue now.
    pub fn finished(
        &mut self,
        graph: &mut StageGraph,
        store: &ShuffleStore,
    ) -> Result<Vec<TaskId>> {
        let Some(top) = self.stack.last_mut() else {
            return Ok(Vec::new());
        };
        top.remaining = top.remaining.saturating_sub(1);
        if top.remaining > 0 {
            return Ok(Vec::new());
        }
        top.level += 1;
        if let Some((stage, tasks)) = top.levels.get(top.level) {
            top.remaining = tasks.len();
            return Ok(tasks.iter().map(|t| (*stage, *t)).collect());
        }
        let Some(done) = self.stack.pop() else {
            return Ok(Vec::new());
        };
        for stage in &done.reopened {
            store.release(*stage);
        }
        let mut queue = done.parked;
        if self.stack.is_empty()
            && let Some(next) = self.pending.pop_front()
        {
            queue.extend(self.start(next, graph, store)?);
        }
        Ok(queue)
    }

    /// Starts recomputing `next.lost`; returns the tasks of its first level.
    fn start(
        &mut self,
        next: Pending,
        graph: &mut StageGraph,
        store: &ShuffleStore,
    ) -> Result<Vec<TaskId>> {
        let Pending {
            lost,
            whole,
            parked,
        } = next;
        let released = released_ancestors(graph, store, lost.0);
        let mut levels: Vec<(StageId, Vec<usize>)> = released
            .iter()
            .map(|s| (*s, (0..graph.stages[s.0].tasks()).collect()))
            .filter(|(_, tasks): &(StageId, Vec<usize>)| !tasks.is_empty())
            .collect();
        for stage in &released {
            store.open(*stage, graph.stages[stage.0].tasks());
        }
        if whole {
            let tasks = graph.stages[lost.0.0].tasks();
            levels.push((lost.0, (0..tasks).collect()));
            store.open(lost.0, tasks);
            for (stage, _) in &levels {
                let stage = &mut graph.stages[stage.0];
                if has_coupled_partitions(&stage.plan) {
                    stage.plan = reset_plan_states(Arc::clone(&stage.plan))?;
                }
            }
        } else {
            levels.push((lost.0, vec![lost.1]));
            store.discard(lost.0, lost.1);
        }
        let (stage, tasks) = &levels[0];
        let first = tasks.iter().map(|t| (*stage, *t)).collect::<Vec<_>>();
        self.stack.push(Recompute {
            lost,
            whole,
            remaining: first.len(),
            levels,
            level: 0,
            reopened: released.into_iter().collect(),
            parked,
        });
        Ok(first)
    }
}

/// The stages upstream of `stage` whose outputs were released (and theirs,
/// transitively), which recomputing a map task of `stage` runs again, in stage order.
fn released_ancestors(
    graph: &StageGraph,
    store: &ShuffleStore,
    stage: StageId,
) -> BTreeSet<StageId> {
    let mut released = BTreeSet::new();
    let mut walk: Vec<StageId> = graph.stages[stage.0].inputs.clone();
    while let Some(stage) = walk.pop() {
        if !store.has_stage(stage) && released.insert(stage) {
            walk.extend(graph.stages[stage.0].inputs.iter().copied());
        }
    }
    released
}

/// Whether recomputing a map task of `stage` would run a stage with coupled partitions:
/// `stage` itself or a released stage upstream that would run again.
pub(crate) fn runs_coupled_stage(graph: &StageGraph, store: &ShuffleStore, stage: StageId) -> bool {
    std::iter::once(stage)
        .chain(released_ancestors(graph, store, stage))
        .any(|s| has_coupled_partitions(&graph.stages[s.0].plan))
}
