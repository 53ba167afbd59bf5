//! Query results out: as a table for people, as CSV/JSON/NDJSON for programs, or into a
//! file whose format is told from its name (Parquet included).

mod result_format;

pub(crate) use result_format::format_table;
pub use result_format::{ResultFormat, string_rows, write_result, write_result_file};
