//! The benchmark report: per query and executor, the median time, peak memory and spills;
//! geometric means over the queries every executor finished; as JSON and markdown.

use serde::Serialize;

use crate::runner::RunOptions;

/// One executor's runs of one query.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutorRun {
    pub executor: String,
    pub seconds: Vec<f64>,
    pub median_seconds: Option<f64>,
    pub peak_memory_bytes: u64,
    pub spilled_bytes: u64,
    pub error: Option<String>,
}

impl ExecutorRun {
    pub fn new(executor: &str) -> Self {
        ExecutorRun {
            executor: executor.to_string(),
            seconds: Vec::new(),
            median_seconds: None,
            peak_memory_bytes: 0,
            spilled_bytes: 0,
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
    }

    fn cell(&self) -> String {
        match (&self.error, self.median_seconds) {
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
    /// First executor's median over the second's.
    pub ratio: Option<f64>,
    pub mismatch: Option<String>,
}

impl QueryReport {
    pub fn new(query: u32, runs: Vec<ExecutorRun>, mismatch: Option<String>) -> Self {
        let ratio = match (
            runs.first().and_then(|r| r.median_seconds),
            runs.get(1).and_then(|r| r.median_seconds),
        ) {
            (Some(a), Some(b)) if b > 0.0 && runs.iter().all(|r| r.error.is_none()) => Some(a / b),
            _ => None,
        };
        QueryReport {
            query,
            runs,
            ratio,
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
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub data: String,
    pub threads: usize,
    pub memory_limit: Option<String>,
    pub iterations: usize,
    pub machine: String,
    pub queries: Vec<QueryReport>,
    /// Per executor, the geometric mean of medians over the queries all executors finished.
    pub geomean_seconds: Vec<(String, f64)>,
    pub geomean_ratio: Option<f64>,
}

impl Report {
    pub fn new(options: &RunOptions, threads: usize) -> Self {
        Report {
            data: options.data.display().to_string(),
            threads,
            memory_limit: options.memory_limit.clone(),
            iterations: options.iterations,
            machine: machine(),
            queries: Vec::new(),
            geomean_seconds: Vec::new(),
            geomean_ratio: None,
        }
    }

    pub fn finish(&mut self) {
        let finished: Vec<&QueryReport> = self
            .queries
            .iter()
            .filter(|q| {
                q.runs
                    .iter()
                    .all(|r| r.median_seconds.is_some() && r.error.is_none())
            })
            .collect();
        let executors: Vec<String> = self
            .queries
            .first()
            .map(|q| q.runs.iter().map(|r| r.executor.clone()).collect())
            .unwrap_or_default();
        self.geomean_seconds = executors
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                geomean(finished.iter().filter_map(|q| q.runs[i].median_seconds))
                    .map(|g| (name.clone(), g))
            })
            .collect();
        self.geomean_ratio = geomean(finished.iter().filter_map(|q| q.ratio));
    }

    pub fn json(&self) -> Result<String, String> {
        serde_json::to_string_pretty(self).map_err(|e| e.to_string())
    }

    pub fn markdown(&self) -> String {
        let executors: Vec<String> = self
            .queries
            .first()
            .map(|q| q.runs.iter().map(|r| r.executor.clone()).collect())
            .unwrap_or_default();
        let mut out = format!(
            "Data `{}`, {} threads, memory limit {}, median of {} runs; {}\n\n",
            self.data,
            self.threads,
            self.memory_limit.as_deref().unwrap_or("default"),
            self.iterations,
            self.machine
        );
        let mut header = vec!["query".to_string()];
        header.extend(executors.iter().map(|e| format!("{e} (s)")));
        header.push("ratio".into());
        header.extend(executors.iter().map(|e| format!("{e} peak MiB")));
        header.extend(executors.iter().map(|e| format!("{e} spilled MiB")));
        header.push("same rows".into());
        out.push_str(&format!(
            "| {} |\n|{}\n",
            header.join(" | "),
            "---|".repeat(header.len())
        ));
        for q in &self.queries {
            let mut cells = vec![format!("q{:02}", q.query)];
            cells.extend(q.runs.iter().map(ExecutorRun::cell));
            cells.push(q.ratio.map_or("-".into(), |r| format!("{r:.2}")));
            cells.extend(q.runs.iter().map(|r| mib(r.peak_memory_bytes)));
            cells.extend(q.runs.iter().map(|r| mib(r.spilled_bytes)));
            cells.push(
                match (&q.mismatch, q.runs.iter().any(|r| r.error.is_some())) {
                    (Some(_), _) => "NO".into(),
                    (None, true) => "-".into(),
                    (None, false) => "yes".into(),
                },
            );
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        let mut cells = vec!["geomean".to_string()];
        cells.extend(executors.iter().map(|e| {
            self.geomean_seconds
                .iter()
                .find(|(n, _)| n == e)
                .map_or("-".into(), |(_, g)| format!("{g:.3}"))
        }));
        cells.push(self.geomean_ratio.map_or("-".into(), |r| format!("{r:.2}")));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
        for q in &self.queries {
            for r in &q.runs {
                if let Some(e) = &r.error {
                    out.push_str(&format!("\nq{:02} under {}: {e}\n", q.query, r.executor));
                }
            }
        }
        out
    }
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

    #[test]
    fn medians_ratios_and_geomeans() {
        let mut a = ExecutorRun::new("spate");
        let mut b = ExecutorRun::new("datafusion");
        for s in [3.0, 1.0, 2.0] {
            a.record(s, 10, 0);
            b.record(s * 2.0, 5, 1);
        }
        assert_eq!(a.median_seconds, Some(2.0));
        let q = QueryReport::new(1, vec![a, b], None);
        assert_eq!(q.ratio, Some(0.5));
        assert!((geomean([1.0, 4.0].into_iter()).unwrap() - 2.0).abs() < 1e-12);
    }
}
