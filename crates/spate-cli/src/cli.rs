//! The command line, as clap definitions. Flags here are a contract users script against:
//! rename nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  spate run sql/cymbal/daily.sql --data testdata/cymbal --param run_date=2026-11-23
  spate sql \"select count(*) from lineitem\" --data ./tpch
  echo \"select 42\" | spate sql - --format json
  spate sql \"select * from sales\" --table sales=./sales/ --output top.parquet
  spate demo generate --transactions 10000000 --days 30 --out ./cymbal
  spate cluster up --executors 2        (prints df://127.0.0.1:50050)
  spate run daily.sql --data ./cymbal --cluster df://127.0.0.1:50050
  spate shell --data testdata/cymbal        (or `spate` alone, on a terminal)

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
    /// An interactive SQL shell: line editing, history, Tab completion, meta-commands
    /// (.tables, .describe TABLE, .report FILE, .help). Also `spate` alone on a terminal.
    #[command(after_help = SHELL_KEYS)]
    Shell {
        #[command(flatten)]
        options: QueryOptions,
    },
    /// The Cymbal Superstore demo data set.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// Run statements on a cluster of machines (Apache DataFusion Ballista): start a
    /// scheduler, executors, or both here; then give `run`/`sql` `--cluster df://HOST:PORT`.
    #[command(after_help = CLUSTER_EXAMPLES)]
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

const SHELL_KEYS: &str = "\
Statements end with ';' and may span lines. Tab completes keywords, tables and columns;
Up/Down and Ctrl-R search the history, kept in $SPATE_HISTORY (default
$XDG_STATE_HOME/spate/history or ~/.local/state/spate/history; empty: none). Ctrl-C
clears the line, or cancels the running statement; Ctrl-D or .quit leaves.";

const CLUSTER_EXAMPLES: &str = "\
Examples:
  on one machine, to try it:
    spate cluster up --executors 2
    spate cluster up --min-executors 1 --max-executors 4     (scaled by the load)
  on several machines:
    spate cluster scheduler --bind 0.0.0.0:50050                 (on host sched-1)
    spate cluster executor --scheduler sched-1:50050 --memory-limit 8GiB   (on each worker)
    spate run job.sql --data /shared/data --cluster df://sched-1:50050

Executors read and write files at the paths the client names: give every machine the
same files (a shared file system). See docs/cluster.md.";

const UP_POLICY: &str = "\
Autoscaling (--min-executors A --max-executors B): the scheduler reports its waiting
tasks and what each executor runs twice a second. While tasks wait (for
--scale-up-after), one more executor starts, up to B; the next waits until it joined.
An executor that runs nothing and holds no shuffle output of a running job is idle; one
idle for --scale-down-after while nothing waits is stopped (SIGTERM), down to A. The
defaults need no tuning.";

/// `spate cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a scheduler until Ctrl-C: clients send it statements, executors register with
    /// it. Prints the URL for --cluster on standard output.
    Scheduler {
        /// Where to listen (0.0.0.0: every interface; port 0: a free port).
        #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
        bind: String,
        #[command(flatten)]
        faults: FaultArgs,
        /// Stop when the parent process dies (set by `spate cluster up`).
        #[arg(long, hide = true)]
        watch_parent: bool,
        /// Print the scheduler's load (waiting tasks, executors) on standard output twice
        /// a second (set by `spate cluster up` to scale executors).
        #[arg(long, hide = true)]
        report_load: bool,
    },
    /// Run an executor until Ctrl-C: it registers with the scheduler, runs tasks and
    /// serves their output to other executors and to clients (Arrow Flight).
    Executor(ExecutorArgs),
    /// Start a scheduler and executors on this machine, as child processes, and print the
    /// URL for --cluster; Ctrl-C stops them all.
    #[command(after_help = UP_POLICY)]
    Up {
        /// Where the scheduler listens (port 0: a free port); executors listen on free
        /// ports of the same host.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        bind: String,
        /// How many executors, always (default 2; or scale with --min/--max-executors).
        #[arg(long, value_name = "N", conflicts_with_all = ["min_executors", "max_executors"])]
        executors: Option<usize>,
        #[command(flatten)]
        scaling: ScalingArgs,
        /// Tasks each executor runs at once (default: all cores, each).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// The memory limit of each executor, e.g. 1GiB.
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        #[command(flatten)]
        faults: FaultArgs,
    },
}

/// How a scheduler notices lost executors and how long jobs wait for one.
#[derive(Debug, Clone, Args)]
pub struct FaultArgs {
    /// Drop an executor not heard from for this long: its running tasks and the shuffle
    /// output it held are recomputed on the others. Executors with every slot busy still
    /// check in every 5 s, so at least 6s. A killed executor is noticed within this
    /// plus 2 s.
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = duration)]
    pub executor_timeout: Duration,
    /// Fail a job that finds no executor at all (none joined, or all were lost) after
    /// waiting this long for one.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub executor_wait: Duration,
}

/// Autoscaling of `spate cluster up`: executors are added while tasks wait and removed
/// when idle, between the two bounds.
#[derive(Debug, Clone, Args)]
pub struct ScalingArgs {
    /// Scale executors by the load, keeping at least this many (at least 1).
    #[arg(long, value_name = "A", requires = "max_executors")]
    pub min_executors: Option<usize>,
    /// Scale executors by the load, up to this many.
    #[arg(long, value_name = "B", requires = "min_executors")]
    pub max_executors: Option<usize>,
    /// Start another executor when tasks have waited this long (one at a time, each once
    /// the previous one joined).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    pub scale_up_after: Duration,
    /// Stop an executor that ran no task and held no shuffle output of a running job for
    /// this long, while no task waits (SIGTERM: it finishes what it runs).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub scale_down_after: Duration,
}

/// Parses `500ms`, `8s`, `2m` or a number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration such as 500ms, 8s or 2m, got '{text}'"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        other => return Err(format!("unknown unit '{other}' (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
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

/// The flags of `spate cluster executor`.
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler's address. The executor waits for it to answer.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Tasks run at once (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The memory the executor's tasks may use together before spilling, e.g. 4GiB
    /// (default: a share of this machine's memory).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Where shuffle output and spill files go (default: a temporary directory, removed
    /// when the executor stops).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Where to serve Arrow Flight to other executors and clients (port 0: a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:0")]
    pub bind: String,
    /// Stop when the parent process dies (set by `spate cluster up`).
    #[arg(long, hide = true)]
    pub watch_parent: bool,
    /// The id to register under (set by `spate cluster up`; default: a random one).
    #[arg(long, hide = true)]
    pub id: Option<String>,
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

/// Options shared by `run`, `sql`, `explain` and `shell`.
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
    /// (default: 70% of available memory). Sets spate.memory_limit.
    #[arg(long, value_name = "SIZE", env = "SPATE_MEMORY_LIMIT")]
    pub memory_limit: Option<String>,
    /// Worker threads (default: all cores). Sets spate.threads.
    #[arg(long, value_name = "N", env = "SPATE_THREADS")]
    pub threads: Option<String>,
    /// Reduce partitions of every shuffle (default: chosen from the plan). Sets
    /// spate.shuffle_partitions.
    #[arg(long, value_name = "N", env = "SPATE_SHUFFLE_PARTITIONS")]
    pub shuffle_partitions: Option<String>,
    /// Re-plan from the sizes stages actually produce: on (default) or off. On, a
    /// partitioned join whose build side turns out small becomes a broadcast join. Sets
    /// spate.adaptive.
    #[arg(long, value_name = "on|off", env = "SPATE_ADAPTIVE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub adaptive: Option<bool>,
    /// Retries of a failed task before the query fails (default 3; 0: none). Errors no
    /// retry can fix (SQL, types, arithmetic, a missing path) fail at once. Sets
    /// spate.task_retries.
    #[arg(long, value_name = "N", env = "SPATE_TASK_RETRIES")]
    pub task_retries: Option<String>,
    /// Fault injection, for testing: the fraction of task attempts to fail, e.g. 0.2
    /// (default 0). Sets spate.inject_task_failures.
    #[arg(long, value_name = "FRACTION")]
    pub inject_task_failures: Option<String>,
    /// Fault injection, for testing: the fraction of shuffle blocks to corrupt, e.g. 0.05
    /// (default 0). Sets spate.inject_shuffle_corruption.
    #[arg(long, value_name = "FRACTION")]
    pub inject_shuffle_corruption: Option<String>,
    /// Fault injection, for testing: the seed that picks which attempts and blocks
    /// (default 0). Sets spate.inject_seed.
    #[arg(long, value_name = "N")]
    pub inject_seed: Option<String>,
    /// After each statement, print what it took on standard error: time, peak memory,
    /// spills, and per stage tasks, rows, shuffle bytes in memory and spilled.
    #[arg(long)]
    pub metrics: bool,
    /// Which executor runs queries: spate (default) or datafusion. Sets spate.executor.
    #[arg(long, value_name = "NAME", env = "SPATE_EXECUTOR")]
    pub executor: Option<String>,
    /// The SQL dialect of the statements: datafusion (default) or spark (Spark SQL's
    /// parser, temporary views, Spark's function names). Sets spate.dialect.
    #[arg(long, value_name = "spark|datafusion", env = "SPATE_DIALECT")]
    pub dialect: Option<String>,
    /// Run the statements on the cluster whose scheduler listens at URL
    /// (df://HOST:PORT; see `spate cluster`). Tables are resolved here; the cluster
    /// reads and writes the files at the same paths. --threads sets the partitions of the
    /// plan; spate's own executor options (shuffle partitions, adaptive, retries, fault
    /// injection) do not apply, and --executor is ignored.
    #[arg(long, value_name = "URL")]
    pub cluster: Option<String>,
    /// Settings (its [spate] and [datafusion] tables; flags win over them) and
    /// object-store settings per URL prefix (endpoints, regions, credentials, retries,
    /// timeouts, max concurrent requests); default: spate.toml in the working directory,
    /// when there is one.
    #[arg(long, value_name = "PATH", env = "SPATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Write a job report of the run to PATH: one self-contained HTML page with each
    /// statement's stage graph, task timeline, stage table and cost (docs/report.md).
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Write the job report of the run to PATH as JSON (its schema is in
    /// docs/report.md).
    #[arg(long = "report-json", value_name = "PATH")]
    pub report_json: Option<PathBuf>,
    /// Print only results: no statement reports, no progress.
    #[arg(long, short)]
    pub quiet: bool,
    /// Set by `spate explain`: explain queries and writes instead of running them.
    #[arg(skip)]
    pub explain: bool,
}

impl QueryOptions {
    /// The flags that are settings, as (flag, key, value) for those given: the one place
    /// that maps flags to `spate.*` keys. `--executor` is left out when `--cluster`
    /// chooses the executor.
    pub fn settings(&self) -> Vec<(&'static str, &'static str, String)> {
        let adaptive = self.adaptive.map(|on| on.to_string());
        let executor = self.executor.clone().filter(|_| self.cluster.is_none());
        [
            ("--memory-limit", "spate.memory_limit", &self.memory_limit),
            ("--threads", "spate.threads", &self.threads),
            (
                "--shuffle-partitions",
                "spate.shuffle_partitions",
                &self.shuffle_partitions,
            ),
            ("--adaptive", "spate.adaptive", &adaptive),
            ("--task-retries", "spate.task_retries", &self.task_retries),
            (
                "--inject-task-failures",
                "spate.inject_task_failures",
                &self.inject_task_failures,
            ),
            (
                "--inject-shuffle-corruption",
                "spate.inject_shuffle_corruption",
                &self.inject_shuffle_corruption,
            ),
            ("--inject-seed", "spate.inject_seed", &self.inject_seed),
            ("--executor", "spate.executor", &executor),
            ("--dialect", "spate.dialect", &self.dialect),
        ]
        .into_iter()
        .filter_map(|(flag, key, value)| value.clone().map(|v| (flag, key, v)))
        .collect()
    }
}
