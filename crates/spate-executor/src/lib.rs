//! # spate-executor
//!
//! Runs an optimized DataFusion physical plan as **stages of tasks joined by shuffles**.
//!
//! ```text
//!   DataFusion plan                   stages
//!   SortPreservingMergeExec           stage 2 (1 task): SortPreservingMerge
//!     SortExec                                   └─ ShuffleReader(stage 1, pass-through)
//!       AggregateExec (final)         stage 1 (N tasks): ShuffleWriter(pass-through)
//!         RepartitionExec (hash) ─cut─►          └─ Sort ─ Aggregate(final)
//!           AggregateExec (partial)                 └─ ShuffleReader(stage 0, hash)
//!             DataSourceExec          stage 0 (M tasks): ShuffleWriter(hash)
//!                                                └─ Aggregate(partial) ─ scan
//! ```
//!
//! - [`planner`] cuts the plan at its exchanges: every hash or round-robin
//!   `RepartitionExec` becomes a shuffle, and the input of a `CoalescePartitionsExec` or
//!   `SortPreservingMergeExec` becomes a stage whose task `i` feeds reduce partition `i`.
//!   A map stage's root is its sink, a [`ShuffleWriterExec`](shuffle::ShuffleWriterExec).
//! - [`shuffle`] holds map outputs in memory while the memory pool grants it and spills
//!   them to Arrow IPC files (one per map task, with an offsets index) when it does not.
//! - [`grace`] runs a partitioned hash join whose build side does not fit in pieces.
//! - `sizing` picks shuffle partitions, shuffle memory and the join budget per query.
//! - [`adaptive`] re-plans from real sizes: a partitioned join whose build side turns out
//!   small becomes a broadcast join, and a stage's shuffle reads are coalesced, sliced
//!   where a join partition is skewed, and skipped where a join makes nothing of them.
//! - [`rebalance`] cuts scans into work units: a worker with nothing queued takes half
//!   the unread units of the running scan task with the most.
//! - [`scheduler`] runs each stage's tasks on a bounded pool of workers once the stages it
//!   reads are done. A failed task runs again as a fresh attempt when a retry can help
//!   ([`retry`]), or its whole stage does when the stage's partitions share state (a
//!   collect-left join returning build-side rows); a lost or corrupt map output makes its
//!   map task run again ([`lineage`]); any other error cancels everything. [`faults`]
//!   injects failures to test this. [`live`] tells a progress display where the running
//!   query's stages stand.
//!
//! A task is one output partition of a stage, executed with DataFusion's own operators.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod adaptive;
mod batch_memory;
mod config;
mod error;
mod executor;
mod faults;
pub mod grace;
mod lineage;
pub mod live;
mod metrics;
pub mod planner;
mod rebalance;
mod retry;
mod scheduler;
pub mod shuffle;
mod sizing;
mod spill_file;
mod stage;
mod task_usage;

pub use adaptive::ReadDecision;
pub use config::{DEFAULT_TASK_RETRIES, ExecutorConfig};
pub use error::ExecutorError;
pub use executor::{Executor, QueryOutput, configure_session};
pub use faults::{FaultInjection, Fraction};
pub use live::{LiveProgress, StagePhase, StageProgress};
pub use metrics::{
    OperatorFigures, QueryMetrics, StageEnd, StageMetrics, TaskMetrics, TaskOutcome,
};
pub use sizing::Sizing;
pub use stage::{StageId, StageOutputKind, StageState};
