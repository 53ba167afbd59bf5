//! Running a stage graph: one queue of runnable tasks, `threads` workers.
//!
//! The scheduler is two parts:
//! - [`QueryRun`](query_run::QueryRun), a state machine that takes every decision and
//!   does no I/O: no runtime, no clock (times come in with the events). It is told that
//!   a task finished or failed, answers with [`Action`](query_run::Action)s (stop these
//!   attempts), and hands out the next task to start. It owns the stage graph, the
//!   state of every stage ([`crate::stage::StageState`]), the queue, the retry and
//!   lineage bookkeeping, and the shuffle store's bookkeeping (which stages' outputs are
//!   open, released, or empty because a `LIMIT` skipped them).
//! - [`run_graph`] (`driver`), a thin async loop that spawns the tasks the state machine
//!   hands out, aborts those it names, and feeds each task's end back as an event.
//!
//! So every order of events can be replayed in a unit test (`tests`), without SQL,
//! threads or timing.
//!
//! # Algorithm
//! Every stage starts `Waiting`. A stage whose input stages are all finished becomes
//! `Runnable` and all its tasks join one queue, ordered by stage id, then task (stage ids
//! are a topological order, so upstream work goes first). Up to `threads` tasks run at
//! once; whenever one finishes, the next queued task starts, whatever stage it belongs
//! to, so independent stages (the two inputs of a join) run side by side and no worker
//! idles at the tail of a stage while other work is ready. A worker free with nothing
//! queued takes half the unread scan of a running task ([`crate::rebalance`]).
//!
//! A stage under a `LIMIT` without order stops early: once its finished tasks have the
//! rows the limit needs it is `Limited`, its queued tasks are skipped and its running
//! ones stopped (aborted), each leaving an empty output; one that finished before the
//! stop reached it keeps its output.
//!
//! When a stage's last task finishes it is `Done`, the shuffle outputs it read are
//! released, the broadcast candidates whose build side it is are decided from its real
//! output size ([`crate::adaptive`]; a switched join's probe stage is `Absorbed`), and the
//! stages waiting on it are checked. A map task runs its stage's sink, a
//! [`ShuffleWriterExec`](crate::shuffle::ShuffleWriterExec), whose output the driver puts
//! into the shuffle store; the result stage's tasks return their batches, which are put
//! back into partition order.
//!
//! A failed task goes to [`crate::retry`]: it is queued again as a fresh attempt (with a
//! fresh copy of its stage's plan, since operators keep state between the partitions of
//! one plan), or a lost map output it read is recomputed first ([`crate::lineage`]; the
//! stage that wrote it is `Recomputing` while those tasks run), or its whole stage runs
//! again (below), or the query fails: the running tasks are aborted (`SpawnedTask` aborts
//! on drop) and the shuffle store, with its spill files, is dropped with the query.
//!
//! A stage whose partitions are coupled (they share state in one plan instance, see
//! [`crate::retry::has_coupled_partitions`]) cannot run one task again: when one of its
//! tasks fails after it started, the whole stage runs again. Each stage counts its
//! *runs*; an attempt belongs to the run it started in. A rerun starts a new run at
//! once (the stage is `Rerunning`), which makes every attempt of the old one void: those
//! queued are taken off the queue, those running are aborted and, whatever they return,
//! ignored. Once the last of them is back (none can write into the store after that),
//! the stage's map outputs are discarded (or, for the result stage, the batches it
//! returned so far, which the caller only gets when the query is done), its plan is
//! replaced by a fresh instance (`reset_plan_states`), which all its tasks of the new run
//! share, and every task is queued as a new attempt; the stage is `Running` again.
//! Within a run, a task of such a stage is queued at most once at a time (a
//! recomputation it waited for may hand it back after a rerun queued it already), so no
//! partition runs twice on one instance.

mod driver;
mod query_run;
mod stage_ops;
#[cfg(test)]
mod tests;

pub(crate) use driver::run_graph;
pub(crate) use query_run::RunOptions;
