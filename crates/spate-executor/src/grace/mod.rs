//! Grace hash join: a partitioned hash join whose build side does not fit in memory is
//! run in pieces, split again by a second hash and joined bucket by bucket.
//!
//! - [`GraceHashJoinExec`] wraps DataFusion's `HashJoinExec` and decides per partition,
//!   at run time, whether to run it as it is or in pieces; its doc has the algorithm.
//! - `bucket_splitter` splits one input into buckets on disk by a seeded hash.
//! - `bucket_exec` serves one bucket as a leaf, so the rebuilt join runs unchanged.
//!
//! Joins that fit run exactly as DataFusion runs them: the cost of the grace path is paid
//! only by the partitions that need it, which is why the executor does not switch joins
//! to sort-merge (several times slower on joins that fit).

mod bucket_exec;
mod bucket_splitter;
mod grace_hash_join;

pub use grace_hash_join::{GraceHashJoinExec, MAX_DEPTH};

#[cfg(test)]
mod tests;
