//! The shuffle: map tasks' output, split into reduce partitions, held in memory while the
//! memory pool grants it and spilled to disk when it does not.
//!
//! ```text
//!  map task 0 ──► partitions [p0 p1 p2 ...] ─┐  memory: batches per partition
//!  map task 1 ──► partitions [p0 p1 p2 ...] ─┼─►         (reserved in the pool)
//!  map task 2 ──► partitions [p0 p1 p2 ...] ─┘  spill:  one file per map task
//!                                                       [seg p0][seg p2][seg p0]...
//!                                                       index: p -> [(offset, len), ...]
//!  reduce task p reads partition p of every map output: memory first, then its segments.
//! ```
//!
//! A spill writes every partition the map task holds, each as a self-contained,
//! LZ4-compressed Arrow IPC stream segment appended to the task's one spill file, and records
//! the segments in the index, so a shuffle with M map and N reduce tasks has at most M
//! files, never M×N. Spill files come from DataFusion's `DiskManager` and are deleted when
//! the query's shuffle store is dropped: at the end, on error and on cancellation.

mod reader;
mod store;
mod writer;

pub use reader::{ReadSpec, ShuffleReaderExec};
pub(crate) use store::ShuffleReservation;
pub use store::{HeldMemory, MapOutput, ShuffleStore};
pub use writer::ShuffleWriterExec;
