//! The benchmark report: per query and contender, the reported time (median or best of the
//! timed runs), the ratio to the fastest, the worker process's peak resident set, and for
//! spate and DataFusion their memory pool's peak and spills; geometric means over the
//! queries every contender finished; as JSON and markdown.

use serde::Serialize;

use crate::runner::RunOptions;

/// Which of a contender's timed runs the report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Statistic {
    Median,
    Best,
}

/// One executor's runs of one query.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutorRun {
    pub executor: String,
    pub statistic: Statistic,
    pub seconds: Vec<f64>,
    pub median_seconds: Option<f64>,
    pub best_seconds: Option<f64>,
    /// The median or the best, as `statistic` says.
    pub reported_seconds: Option<f64>,
    /// Whether the contender has a memory pool (spate and DataFusion); the two fields
    /// below are zero for the others.
    pub pooled: bool,
    pub peak_memory_bytes: u64,
    pub spilled_bytes: u64,
    /// The worker process's peak resident set (VmHWM) over this query's runs.
    pub peak_rss_bytes: Option<u64>,
    /// The worker's resident set once started, before the query's first run.
    pub start_rss_bytes: Option<u64>,
    pub error: Option<String>,
}

impl ExecutorRun {
    pub fn new(executor: &str, statistic: Statistic, pooled: bool) -> Self {
        ExecutorRun {
            executor: executor.to_string(),
            statistic,
            seconds: Vec::new(),
            median_seconds: None,
            best_seconds: None,
            reported_seconds: None,
            pooled,
            peak_memory_bytes: 0,
            spilled_bytes: 0,
            peak_rss_bytes: None,
            start_rss_bytes: None,
            error: None,
        }
    }

    pub fn record(&mut self, seconds: f64, peak_memory: u64, spilled: u64) {
        self.seconds.push(seconds);
        self.peak_memory_bytes = self.peak_memory_bytes.max(peak_memory);
        self.spilled_bytes = self.spilled_bytes.max(spilled);
        let mut sorted = self.seconds.clone();
        sorted.sort_by(f64::total_cmp);
        self.median_seconds = sorted.get(sorted.len() / 2).copied();
        self.best_seconds = sorted.first().copied();
        self.reported_seconds = match self.statistic {
            Statistic::Median => self.median_seconds,
            Statistic::Best => self.best_seconds,
        };
    }

    /// The reported time of a run that did not fail.
    fn finished(&self) -> Option<f64> {
        self.reported_seconds.filter(|_| self.error.is_none())
    }

    fn cell(&self) -> String {
        match (&self.error, self.reported_seconds) {
            (Some(_), _) => "failed".into(),
            (None, Some(s)) => format!("{s:.3}"),
            (None, None) => "-".into(),
        }
    }
}

/// One query under every executor.
#[derive(Debug, Clone, Serialize)]
pub struct QueryReport {
    pub query: u32,
    pub runs: Vec<ExecutorRun>,
    /// First executor's reported time over the second's.
    pub ratio: Option<f64>,
    /// Per executor, its reported time over the fastest one's (of those that finished).
    pub to_fastest: Vec<Option<f64>>,
    pub mismatch: Option<String>,
}

impl QueryReport {
    pub fn new(query: u32, runs: Vec<ExecutorRun>, mismatch: Option<String>) -> Self {
        let ratio = match (
            runs.first().and_then(ExecutorRun::finished),
            runs.get(1).and_then(ExecutorRun::finished),
        ) {
            (Some(a), Some(b)) if b > 0.0 && runs.iter().all(|r| r.error.is_none()) => Some(a / b),
            _ => None,
        };
        let to_fastest = to_fastest(runs.iter().map(ExecutorRun::finished));
        QueryReport {
            query,
            runs,
            ratio,
            to_fastest,
            mismatch,
        }
    }

    pub fn one_line(&self) -> String {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|r| match &r.error {
                Some(e) => format!("{} failed: {e}", r.executor),
                None => format!("{} {}s", r.executor, r.cell()),
            })
            .collect();
        let check = match &self.mismatch {
            Some(m) => format!("  MISMATCH {m}"),
            None => String::new(),
        };
        format!("q{:02}  {}{check}", self.query, runs.join("  "))
    }

    /// The table row: times, the first executor's over the second's, ratios to the
    /// fastest, peak RSS, pool peaks, spills, whether the rows agree.
    fn cells(&self) -> Vec<String> {
        let pooled = || self.runs.iter().filter(|r| r.pooled);
        let mut cells = vec![format!("q{:02}", self.query)];
        cells.extend(self.runs.iter().map(ExecutorRun::cell));
        cells.push(ratio_cell(self.ratio));
        cells.extend(self.to_fastest.iter().map(|r| ratio_cell(*r)));
        cells.extend(
            self.runs
                .iter()
                .map(|r| r.peak_rss_bytes.map_or("-".into(), mib)),
        );
        cells.extend(pooled().map(|r| mib(r.peak_memory_bytes)));
        cells.extend(pooled().map(|r| mib(r.spilled_bytes)));
        cells.push(
            match (&self.mismatch, self.runs.iter().any(|r| r.error.is_some())) {
                (Some(_), _) => "NO".into(),
                (None, true) => "-".into(),
                (None, false) => "yes".into(),
            },
        );
        cells
    }
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub data: String,
    pub threads: usize,
    pub memory_limit: Option<String>,
    pub warmup: usize,
    pub iterations: usize,
    pub machine: String,
    /// Per executor, the engine and version its worker named.
    pub engines: Vec<(String, String)>,
    pub queries: Vec<QueryReport>,
    /// Per executor, the geometric mean of reported times over the queries all executors
    /// finished.
    pub geomean_seconds: Vec<(String, f64)>,
    /// Per executor, its geometric mean over the smallest one.
    pub geomean_to_fastest: Vec<(String, f64)>,
    pub geomean_ratio: Option<f64>,
}

impl Report {
    pub fn new(options: &RunOptions, threads: usize) -> Self {
        Report {
            data: options.data.display().to_string(),
            threads,
            memory_limit: options.memory_limit.clone(),
            warmup: options.warmup,
            iterations: options.iterations,
            machine: machine(),
            engines: Vec::new(),
            queries: Vec::new(),
            geomean_seconds: Vec::new(),
            geomean_to_fastest: Vec::new(),
            geomean_ratio: None,
        }
    }

    fn executors(&self) -> Vec<&ExecutorRun> {
        self.queries
            .first()
            .map(|q| q.runs.iter().collect())
            .unwrap_or_default()
    }

    pub fn finish(&mut self) {
        let finished: Vec<&QueryReport> = self
            .queries
            .iter()
            .filter(|q| q.runs.iter().all(|r| r.finished().is_some()))
            .collect();
        let names: Vec<String> = self
            .executors()
            .iter()
            .map(|r| r.executor.clone())
            .collect();
        let geomeans: Vec<Option<f64>> = (0..names.len())
            .map(|i| geomean(finished.iter().filter_map(|q| q.runs[i].reported_seconds)))
            .collect();
        let ratios = to_fastest(geomeans.iter().copied());
        self.geomean_seconds = named(&names, &geomeans);
        self.geomean_to_fastest = named(&names, &ratios);
        self.geomean_ratio = geomean(finished.iter().filter_map(|q| q.ratio));
    }

    pub fn json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| e.to_string())
    }

    pub fn markdown(&self) -> String {
        let executors = self.executors();
        let mut out = self.heading();
        let mut header = vec!["query".to_string()];
        header.extend(executors.iter().map(|r| format!("{} (s)", r.executor)));
        header.push("ratio".into());
        header.extend(
            executors
                .iter()
                .map(|r| format!("{} / fastest", r.executor)),
        );
        header.extend(executors.iter().map(|r| format!("{} RSS MiB", r.executor)));
        let pooled = || executors.iter().filter(|r| r.pooled);
        header.extend(pooled().map(|r| format!("{} peak MiB", r.executor)));
        header.extend(pooled().map(|r| format!("{} spilled MiB", r.executor)));
        header.push("same rows".into());
        out.push_str(&format!(
            "| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for q in &self.queries {
            out.push_str(&format!("| {} |\n", q.cells().join(" | ")));
        }
        let find = |list: &[(String, f64)], name: &str| {
            list.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
        };
        let mut cells = vec!["geomean".to_string()];
        cells.extend(executors.iter().map(|r| {
            find(&self.geomean_seconds, &r.executor).map_or("-".into(), |g| format!("{g:.3}"))
        }));
        cells.push(ratio_cell(self.geomean_ratio));
        cells.extend(
            executors
                .iter()
                .map(|r| ratio_cell(find(&self.geomean_to_fastest, &r.executor))),
        );
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        out.push_str(&self.notes());
        out
    }

    /// What was run, how it was timed, on what.
    fn heading(&self) -> String {
        let by = |statistic: Statistic| {
            let names: Vec<&str> = self
                .executors()
                .iter()
                .filter(|r| r.statistic == statistic)
                .map(|r| r.executor.as_str())
                .collect();
            names.join(", ")
        };
        let (median, best) = (by(Statistic::Median), by(Statistic::Best));
        let n = self.iterations;
        let timing = if best.is_empty() {
            format!("median of {n} runs")
        } else if median.is_empty() {
            format!("best of {n} runs")
        } else {
            format!("median of {n} runs ({median}), best of {n} ({best})")
        };
        let engines: Vec<&str> = self.engines.iter().map(|(_, v)| v.as_str()).collect();
        format!(
            "Data `{}`, {} threads, memory limit {}, {timing} after {} warm-up run(s); {}; {}\n\n",
            self.data,
            self.threads,
            self.memory_limit.as_deref().unwrap_or("default"),
            self.warmup,
            engines.join(", "),
            self.machine
        )
    }

    /// Under the table: the largest peak RSS per executor, then every failure and every
    /// difference in rows.
    fn notes(&self) -> String {
        let mut out = String::new();
        let largest: Vec<String> = self
            .executors()
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let peak = self
                    .queries
                    .iter()
                    .filter_map(|q| q.runs[i].peak_rss_bytes)
                    .max()?;
                Some(format!("{} {} MiB", r.executor, mib(peak)))
            })
            .collect();
        if !largest.is_empty() {
            out.push_str(&format!("\nLargest peak RSS: {}\n", largest.join(", ")));
        }
        for q in &self.queries {
            for r in &q.runs {
                if let Some(e) = &r.error {
                    out.push_str(&format!("\nq{:02} under {}: {e}\n", q.query, r.executor));
                }
            }
            if let Some(m) = &q.mismatch {
                out.push_str(&format!("\nq{:02} rows differ: {m}\n", q.query));
            }
        }
        out
    }
}

/// Each value over the smallest positive one.
fn to_fastest(values: impl Iterator<Item = Option<f64>> + Clone) -> Vec<Option<f64>> {
    let fastest = values
        .clone()
        .flatten()
        .filter(|v| *v > 0.0)
        .min_by(f64::total_cmp);
    values.map(|v| Some(v? / fastest?)).collect()
}

fn named(names: &[String], values: &[Option<f64>]) -> Vec<(String, f64)> {
    names
        .iter()
        .zip(values)
        .filter_map(|(n, v)| Some((n.clone(), (*v)?)))
        .collect()
}

fn ratio_cell(ratio: Option<f64>) -> String {
    ratio.map_or("-".into(), |r| format!("{r:.2}"))
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1024.0 * 1024.0))
}

fn geomean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .filter(|v| *v > 0.0)
        .fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("unknown memory".into(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    format!("{cores} cores, {memory}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, statistic: Statistic, seconds: &[f64], rss_mib: u64) -> ExecutorRun {
        let mut run = ExecutorRun::new(name, statistic, statistic == Statistic::Median);
        for s in seconds {
            run.record(*s, 10 << 20, 0);
        }
        run.peak_rss_bytes = Some(rss_mib << 20);
        run
    }

    #[test]
    fn medians_bests_ratios_and_geomeans() {
        let a = run("spate", Statistic::Median, &[3.0, 1.0, 2.0], 100);
        let b = run("datafusion", Statistic::Median, &[6.0, 2.0, 4.0], 100);
        let c = run("duckdb", Statistic::Best, &[3.0, 1.0, 2.0], 100);
        assert_eq!(a.median_seconds, Some(2.0));
        assert_eq!(c.reported_seconds, Some(1.0));
        let q = QueryReport::new(1, vec![a, b, c], None);
        assert_eq!(q.ratio, Some(0.5));
        assert_eq!(q.to_fastest, [Some(2.0), Some(4.0), Some(1.0)]);
        assert!((geomean([1.0, 4.0].into_iter()).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_table_has_a_column_per_contender_and_names_failures() {
        let mut failed = run("polars", Statistic::Best, &[], 300);
        failed.error = Some("SQLInterfaceError: unsupported".into());
        let mut report = Report {
            data: "/data/sf1".into(),
            threads: 2,
            memory_limit: None,
            warmup: 1,
            iterations: 3,
            machine: "2 cores, 23 GiB".into(),
            engines: vec![("spate".into(), "spate 0.1.0".into())],
            queries: vec![
                QueryReport::new(
                    1,
                    vec![
                        run("spate", Statistic::Median, &[1.0], 200),
                        run("duckdb", Statistic::Best, &[4.0], 400),
                        run("polars", Statistic::Best, &[2.0], 300),
                    ],
                    None,
                ),
                QueryReport::new(
                    2,
                    vec![
                        run("spate", Statistic::Median, &[9.0], 900),
                        run("duckdb", Statistic::Best, &[1.0], 100),
                        failed,
                    ],
                    Some("duckdb: row 0: a vs b".into()),
                ),
            ],
            geomean_seconds: Vec::new(),
            geomean_to_fastest: Vec::new(),
            geomean_ratio: None,
        };
        report.finish();
        let text = report.markdown();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("median of 3 runs (spate), best of 3 (duckdb, polars)"),
            "{text}"
        );
        let expected = [
            "| query | spate (s) | duckdb (s) | polars (s) | ratio | spate / fastest \
             | duckdb / fastest | polars / fastest | spate RSS MiB | duckdb RSS MiB \
             | polars RSS MiB | spate peak MiB | spate spilled MiB | same rows |",
            "| q01 | 1.000 | 4.000 | 2.000 | 0.25 | 1.00 | 4.00 | 2.00 | 200 | 400 | 300 | 10 | 0 \
             | yes |",
            "| q02 | 9.000 | 1.000 | failed | - | 9.00 | 1.00 | - | 900 | 100 | 300 | 10 | 0 | NO |",
            "| geomean | 1.000 | 4.000 | 2.000 | 0.25 | 1.00 | 4.00 | 2.00 |",
        ];
        for line in expected {
            assert!(lines.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains("Largest peak RSS: spate 900 MiB, duckdb 400 MiB, polars 300 MiB"));
        assert!(text.contains("q02 under polars: SQLInterfaceError: unsupported"));
        assert!(text.contains("q02 rows differ: duckdb: row 0: a vs b"));
    }
}
