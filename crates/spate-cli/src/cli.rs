//! The command line, as clap definitions. Flags here are a contract users script against:
//! rename nothing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  spate run sql/cymbal/daily.sql --data testdata/cymbal --param run_date=2026-11-23
  spate sql \"select count(*) from lineitem\" --data ./tpch
  echo \"select 42\" | spate sql - --format json
  spate sql \"select * from sales\" --table sales=./sales/ --output top.parquet
  spate demo generate --transactions 10000000 --days 30 --out ./cymbal

Exit codes: 0 success, 1 a statement failed, 2 the command line is wrong.";

/// spate: run SQL over Parquet, CSV and JSON files, Spark-style, on one machine.
#[derive(Debug, Parser)]
#[command(name = "spate", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every statement of each SQL file in order.
    #[command(after_help = EXAMPLES)]
    Run {
        /// SQL files to run, in order.
        #[arg(required = true, value_name = "FILE.sql")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: QueryOptions,
    },
    /// Run SQL given on the command line, or `-` to read it from standard input.
    #[command(after_help = EXAMPLES)]
    Sql {
        /// The SQL text (one or more statements), or `-` for standard input.
        #[arg(value_name = "QUERY")]
        query: String,
        #[command(flatten)]
        options: QueryOptions,
    },
    /// Show how queries run: the logical and physical plans and spate's stages. DDL in the
    /// SQL (CREATE VIEW, CREATE EXTERNAL TABLE) runs so that later statements resolve;
    /// queries and writes are only explained.
    #[command(after_help = EXAMPLES)]
    Explain {
        /// The SQL text, a .sql file, or `-` for standard input.
        #[arg(value_name = "QUERY|FILE")]
        query: String,
        #[command(flatten)]
        options: QueryOptions,
    },
    /// The Cymbal Superstore demo data set.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Generate Cymbal Superstore data (deterministic for a given seed).
    Generate {
        /// Number of transactions (rows of the fact table).
        #[arg(long, default_value_t = 100_000)]
        transactions: u64,
        /// Number of days the transactions span (one `day=` partition each).
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// The first day, YYYY-MM-DD.
        #[arg(long, default_value = "2026-11-17")]
        start_date: String,
        /// Random seed; the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A boxed table (the default on a terminal).
    Table,
    /// CSV with a header line (the default otherwise).
    Csv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// Options shared by `run`, `sql` and `explain`.
#[derive(Debug, Clone, Args)]
pub struct QueryOptions {
    /// Register every file or subdirectory of DIR (a local path or a URL such as
    /// s3://bucket/warehouse/) as a table named after it.
    #[arg(long, value_name = "DIR|URL")]
    pub data: Vec<PathBuf>,
    /// Register PATH (file, directory or partitioned tree) as table NAME.
    #[arg(long = "table", value_name = "NAME=PATH")]
    pub tables: Vec<String>,
    /// A value for ${NAME} in the SQL.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// How to print results.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the query's result to PATH (format from the extension: .csv, .json,
    /// .ndjson, .parquet) instead of printing it.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The most memory queries may use before spilling, e.g. 512MiB or 2GiB
    /// (default: 70% of available memory).
    #[arg(long, value_name = "SIZE", env = "SPATE_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", env = "SPATE_THREADS")]
    pub threads: Option<usize>,
    /// Reduce partitions of every shuffle (default: chosen from the plan).
    #[arg(long, value_name = "N", env = "SPATE_SHUFFLE_PARTITIONS")]
    pub shuffle_partitions: Option<usize>,
    /// Re-plan from the sizes stages actually produce: on (default) or off. On, a
    /// partitioned join whose build side turns out small becomes a broadcast join.
    #[arg(long, value_name = "on|off", env = "SPATE_ADAPTIVE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub adaptive: Option<bool>,
    /// Retries of a failed task before the query fails (default 3; 0: none). Errors no
    /// retry can fix (SQL, types, arithmetic, a missing path) fail at once.
    #[arg(long, value_name = "N", env = "SPATE_TASK_RETRIES")]
    pub task_retries: Option<usize>,
    /// Fault injection: the fraction of task attempts to fail, e.g. 0.2 (default: the
    /// SPATE_INJECT_TASK_FAILURES environment variable, else 0).
    #[arg(long, value_name = "FRACTION")]
    pub inject_task_failures: Option<String>,
    /// Fault injection: the fraction of shuffle blocks to corrupt, e.g. 0.05 (default:
    /// SPATE_INJECT_SHUFFLE_CORRUPTION, else 0).
    #[arg(long, value_name = "FRACTION")]
    pub inject_shuffle_corruption: Option<String>,
    /// Fault injection: the seed that picks which attempts and blocks (default:
    /// SPATE_INJECT_SEED, else 0).
    #[arg(long, value_name = "N")]
    pub inject_seed: Option<String>,
    /// After each statement, print what it took on standard error: time, peak memory,
    /// spills, and per stage tasks, rows, shuffle bytes in memory and spilled.
    #[arg(long)]
    pub metrics: bool,
    /// Which executor runs queries: spate (default) or datafusion.
    #[arg(long, value_name = "NAME", env = "SPATE_EXECUTOR")]
    pub executor: Option<String>,
    /// Object-store settings per URL prefix (endpoints, regions, credentials, retries,
    /// timeouts, max concurrent requests); default: spate.toml in the working directory,
    /// when there is one.
    #[arg(long, value_name = "PATH", env = "SPATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print only results: no statement reports, no progress.
    #[arg(long, short)]
    pub quiet: bool,
    /// Set by `spate explain`: explain queries and writes instead of running them.
    #[arg(skip)]
    pub explain: bool,
}
