//! Counts per file, totals per group and folder as markdown and JSON, and the committed
//! baseline of passing queries per file that a run must not fall below.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::compare::{Cause, Outcome};

/// The outcomes of one input file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FileResult {
    /// `3.5` or `4.0`.
    pub suite: String,
    /// `core` or `spark-only` (3.5), `all` (4.0).
    pub group: String,
    /// The input file, relative to `inputs/`.
    pub file: String,
    /// Queries in the stored results.
    pub queries: usize,
    /// Whether splitting the input gave the stored results' queries.
    pub aligned: bool,
    /// Queries per cause (passes under `pass`).
    pub causes: BTreeMap<Cause, usize>,
    /// The failed queries, with their details.
    pub failures: Vec<Outcome>,
}

impl FileResult {
    pub(crate) fn new(suite: &str, group: &str, file: &str) -> Self {
        FileResult {
            suite: suite.into(),
            group: group.into(),
            file: file.into(),
            queries: 0,
            aligned: true,
            causes: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, outcome: &Outcome) {
        *self.causes.entry(outcome.cause).or_default() += 1;
        if outcome.cause != Cause::Pass {
            self.failures.push(outcome.clone());
        }
    }

    /// Queries with no outcome (the worker died or hung) count under `cause`.
    pub(crate) fn fill(&mut self, cause: Cause) {
        let seen: usize = self.causes.values().sum();
        if self.queries > seen {
            *self.causes.entry(cause).or_default() += self.queries - seen;
        }
    }

    pub(crate) fn passed(&self) -> usize {
        self.count(Cause::Pass)
    }

    fn count(&self, cause: Cause) -> usize {
        self.causes.get(&cause).copied().unwrap_or(0)
    }

    /// The folder under `inputs/` (`(top)` for files directly in it).
    fn folder(&self) -> &str {
        self.file.rsplit_once('/').map_or("(top)", |(dir, _)| dir)
    }
}

/// Sums of several files.
#[derive(Default)]
struct Sum {
    files: usize,
    queries: usize,
    causes: BTreeMap<Cause, usize>,
}

impl Sum {
    fn add(&mut self, file: &FileResult) {
        self.files += 1;
        self.queries += file.queries;
        for (cause, n) in &file.causes {
            *self.causes.entry(*cause).or_default() += n;
        }
    }

    fn row(&self, label: &str) -> String {
        let passed = self.causes.get(&Cause::Pass).copied().unwrap_or(0);
        let percent = if self.queries == 0 {
            0.0
        } else {
            100.0 * passed as f64 / self.queries as f64
        };
        let causes: Vec<String> = Cause::FAILURES
            .iter()
            .map(|c| self.causes.get(c).copied().unwrap_or(0).to_string())
            .collect();
        format!(
            "| {label} | {} | {} | {passed} | {percent:.1}% | {} |\n",
            self.files,
            self.queries,
            causes.join(" | ")
        )
    }
}

fn header(first: &str) -> String {
    let causes: Vec<&str> = Cause::FAILURES.iter().map(|c| c.label()).collect();
    let rule = vec!["---:"; causes.len() + 4].join("|");
    format!(
        "| {first} | files | queries | passed | % | {} |\n|---|{rule}|\n",
        causes.join(" | ")
    )
}

/// The totals per suite and group: the summary printed after a run.
pub(crate) fn totals_markdown(results: &[FileResult]) -> String {
    let mut groups: BTreeMap<String, Sum> = BTreeMap::new();
    for file in results {
        groups
            .entry(format!("{} {}", file.suite, file.group))
            .or_default()
            .add(file);
    }
    let mut text = header("suite");
    for (label, sum) in &groups {
        text.push_str(&sum.row(label));
    }
    text
}

/// Totals, then a table per folder, then one row per file.
pub(crate) fn full_markdown(results: &[FileResult]) -> String {
    let mut folders: BTreeMap<String, Sum> = BTreeMap::new();
    for file in results {
        folders
            .entry(format!("{} {} {}", file.suite, file.group, file.folder()))
            .or_default()
            .add(file);
    }
    let mut text = format!(
        "## Totals\n\n{}\n## Per folder\n\n",
        totals_markdown(results)
    );
    text.push_str(&header("suite, group, folder"));
    for (label, sum) in &folders {
        text.push_str(&sum.row(label));
    }
    text.push_str("\n## Per file\n\n");
    text.push_str(&header("file"));
    for file in results {
        let mut sum = Sum::default();
        sum.add(file);
        let aligned = if file.aligned { "" } else { " (split differs)" };
        text.push_str(&sum.row(&format!("{} {}{aligned}", file.suite, file.file)));
    }
    text
}

/// Passing queries per file, per suite: `{"3.5": {"group-by.sql": 12}}`.
pub(crate) type Baseline = BTreeMap<String, BTreeMap<String, usize>>;

pub(crate) fn read_baseline(path: &Path) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("bad baseline {}: {e}", path.display()))
}

/// The baseline with this run's counts in place of the old ones.
pub(crate) fn updated_baseline(mut baseline: Baseline, results: &[FileResult]) -> Baseline {
    for file in results {
        baseline
            .entry(file.suite.clone())
            .or_default()
            .insert(file.file.clone(), file.passed());
    }
    baseline
}

/// What a run did against the baseline: files that lost passing queries, and files that
/// gained some.
pub(crate) fn against_baseline(
    baseline: &Baseline,
    results: &[FileResult],
) -> (Vec<String>, Vec<String>) {
    let (mut worse, mut better) = (Vec::new(), Vec::new());
    for file in results {
        let Some(before) = baseline.get(&file.suite).and_then(|s| s.get(&file.file)) else {
            better.push(format!(
                "{} {}: new, {} passing",
                file.suite,
                file.file,
                file.passed()
            ));
            continue;
        };
        let now = file.passed();
        let line = format!("{} {}: {before} -> {now} passing", file.suite, file.file);
        if now < *before {
            worse.push(line);
        } else if now > *before {
            better.push(line);
        }
    }
    (worse, better)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(file: &str, passed: usize, failed: usize) -> FileResult {
        let mut r = FileResult::new("3.5", "core", file);
        r.queries = passed + failed;
        r.causes.insert(Cause::Pass, passed);
        r.fill(Cause::Crash);
        r
    }

    #[test]
    fn a_file_below_its_baseline_is_a_regression() {
        let results = [
            result("a.sql", 3, 2),
            result("b.sql", 5, 0),
            result("c.sql", 1, 0),
        ];
        let mut baseline = Baseline::new();
        baseline
            .entry("3.5".into())
            .or_default()
            .insert("a.sql".into(), 4);
        baseline
            .entry("3.5".into())
            .or_default()
            .insert("b.sql".into(), 4);
        let (worse, better) = against_baseline(&baseline, &results);
        assert_eq!(worse, ["3.5 a.sql: 4 -> 3 passing"]);
        assert_eq!(better.len(), 2, "{better:?}");
        let updated = updated_baseline(baseline, &results);
        assert_eq!(updated["3.5"]["a.sql"], 3);
        assert_eq!(against_baseline(&updated, &results).0.len(), 0);
        assert!(full_markdown(&results).contains("| 3.5 core | 3 | 11 | 9 | 81.8% |"));
    }
}
