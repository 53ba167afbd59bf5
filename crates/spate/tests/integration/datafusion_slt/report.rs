//! Outcomes per record, the counts, the report, and the known differences.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

/// Records that pass under DataFusion's executor and fail under spate's, on purpose or
/// until fixed: `file:line  reason` per line, `#` comments.
pub const KNOWN_DIFFERENCES: &str = "testdata/datafusion-slt-known-differences.txt";

/// How a record went under one executor.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed,
    /// A query that timed out, and passed when run again: what the first run was doing
    /// when it was stopped.
    PassedAfterTimeout(String),
    Failed(String),
    /// Not run: an `onlyif`/`skipif` condition excludes the DataFusion engine.
    Skipped,
}

impl Outcome {
    fn passed(&self) -> bool {
        matches!(self, Outcome::Passed | Outcome::PassedAfterTimeout(_))
    }

    fn message(&self) -> &str {
        match self {
            Outcome::Failed(message) | Outcome::PassedAfterTimeout(message) => message,
            _ => "",
        }
    }
}

/// A statement or query and how it went under both executors.
pub struct RecordRun {
    /// `file:line`, or `file>included:line` for a record of an included file.
    pub key: String,
    /// It prints a plan: run, not compared.
    pub plan: bool,
    pub datafusion: Outcome,
    pub spate: Outcome,
}

impl RecordRun {
    fn ran(&self) -> bool {
        !matches!(self.datafusion, Outcome::Skipped) && !matches!(self.spate, Outcome::Skipped)
    }

    fn compared(&self) -> bool {
        self.ran() && !self.plan
    }

    fn differs(&self) -> bool {
        self.compared() && self.datafusion.passed() && !self.spate.passed()
    }

    fn timed_out_once(&self) -> bool {
        [&self.datafusion, &self.spate]
            .iter()
            .any(|o| matches!(o, Outcome::PassedAfterTimeout(_)))
    }
}

/// One file's records.
pub struct FileRun {
    pub name: String,
    pub records: Vec<RecordRun>,
    /// Why the file could not be parsed.
    pub error: Option<String>,
    pub elapsed: Duration,
}

impl FileRun {
    pub fn unparsable(name: String, error: String) -> Self {
        FileRun {
            name,
            records: Vec::new(),
            error: Some(error),
            elapsed: Duration::ZERO,
        }
    }
}

/// The known differences: key to reason.
pub fn known_differences(path: &Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((key, reason)) => (key.to_string(), reason.trim().to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect()
}

/// The counts of a run.
pub struct Summary {
    files_run: usize,
    files_unparsable: usize,
    skipped: Vec<(String, String)>,
    condition_skipped: usize,
    records_run: usize,
    plans: usize,
    compared: usize,
    passed_datafusion: usize,
    passed_spate: usize,
    passed_both: usize,
    failed_both: usize,
    differences: usize,
    known: usize,
    spate_only: usize,
    timed_out_once: usize,
    stale: Vec<String>,
    elapsed: Duration,
    setup: String,
}

impl Summary {
    pub fn new(
        runs: &[FileRun],
        skipped: Vec<(String, String)>,
        known: &HashMap<String, String>,
        elapsed: Duration,
        setup: String,
    ) -> Self {
        let records = || runs.iter().flat_map(|run| &run.records);
        let compared = || records().filter(|r| r.compared());
        let count = |f: &dyn Fn(&RecordRun) -> bool| compared().filter(|r| f(r)).count();
        let mut stale: Vec<String> = known
            .keys()
            .filter(|key| !records().any(|r| &r.key == *key && r.differs()))
            .cloned()
            .collect();
        stale.sort();
        Summary {
            files_run: runs.iter().filter(|r| r.error.is_none()).count(),
            files_unparsable: runs.iter().filter(|r| r.error.is_some()).count(),
            skipped,
            condition_skipped: records().filter(|r| !r.ran()).count(),
            records_run: records().filter(|r| r.ran()).count(),
            plans: records().filter(|r| r.ran() && r.plan).count(),
            compared: compared().count(),
            passed_datafusion: count(&|r| r.datafusion.passed()),
            passed_spate: count(&|r| r.spate.passed()),
            passed_both: count(&|r| r.datafusion.passed() && r.spate.passed()),
            failed_both: count(&|r| !r.datafusion.passed() && !r.spate.passed()),
            differences: count(&|r| r.differs()),
            known: count(&|r| r.differs() && known.contains_key(&r.key)),
            spate_only: count(&|r| !r.datafusion.passed() && r.spate.passed()),
            timed_out_once: records().filter(|r| r.timed_out_once()).count(),
            stale,
            elapsed,
            setup,
        }
    }

    /// The counts, a few lines.
    pub fn counts(&self) -> String {
        format!(
            "DataFusion sqllogictest files under {} ({:.0?}):\n\
             \x20 files: {} run, {} skipped, {} unparsable\n\
             \x20 records: {} run ({} more skipped by onlyif/skipif), {} print plans (not compared), {} compared\n\
             \x20 passed: {} under DataFusion's executor, {} under spate's, {} under both, {} under neither\n\
             \x20 differences (pass under DataFusion's, fail under spate's): {} ({} known), {} the other way round\n\
             \x20 queries that timed out once and passed when run again: {}",
            self.setup,
            self.elapsed,
            self.files_run,
            self.skipped.len(),
            self.files_unparsable,
            self.records_run,
            self.condition_skipped,
            self.plans,
            self.compared,
            self.passed_datafusion,
            self.passed_spate,
            self.passed_both,
            self.failed_both,
            self.differences,
            self.known,
            self.spate_only,
            self.timed_out_once,
        )
    }

    /// The differences not in the known list, with spate's failure.
    pub fn unexpected_differences(
        &self,
        runs: &[FileRun],
        known: &HashMap<String, String>,
    ) -> Vec<String> {
        runs.iter()
            .flat_map(|run| &run.records)
            .filter(|r| r.differs() && !known.contains_key(&r.key))
            .map(|r| format!("{}\n{}", r.key, indent(r.spate.message(), 40)))
            .collect()
    }

    /// Everything: counts, skipped files, differences, the other way round, records that
    /// failed under both (by file), and the slowest files.
    pub fn report(&self, runs: &[FileRun]) -> String {
        let mut out = self.counts();
        out.push_str("\n\n== skipped files\n");
        let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (file, reason) in &self.skipped {
            by_reason.entry(reason).or_default().push(file);
        }
        for (reason, files) in by_reason {
            let _ = writeln!(out, "{} files: {reason}", files.len());
        }
        out.push_str("\n== unparsable files\n");
        for run in runs {
            if let Some(error) = &run.error {
                let _ = writeln!(out, "{}: {error}", run.name);
            }
        }
        out.push_str("\n== known differences that did not differ\n");
        for key in &self.stale {
            let _ = writeln!(out, "{key}");
        }
        let records = || runs.iter().flat_map(|run| &run.records);
        out.push_str("\n== pass under DataFusion's executor, fail under spate's\n");
        for r in records().filter(|r| r.differs()) {
            let _ = writeln!(out, "{}\n{}", r.key, indent(r.spate.message(), 60));
        }
        out.push_str("\n== pass under spate's executor, fail under DataFusion's\n");
        for r in records().filter(|r| r.compared() && r.spate.passed() && !r.datafusion.passed()) {
            let _ = writeln!(out, "{}\n{}", r.key, indent(r.datafusion.message(), 60));
        }
        out.push_str("\n== timed out once, passed when run again\n");
        for r in records().filter(|r| r.timed_out_once()) {
            for (executor, outcome) in [("DataFusion's", &r.datafusion), ("spate's", &r.spate)] {
                if let Outcome::PassedAfterTimeout(first) = outcome {
                    let _ = writeln!(
                        out,
                        "{} under {executor} executor\n{}",
                        r.key,
                        indent(first, 20)
                    );
                }
            }
        }
        out.push_str("\n== fail under both, per file\n");
        for run in runs {
            let failed: Vec<&RecordRun> = run
                .records
                .iter()
                .filter(|r| r.compared() && !r.datafusion.passed() && !r.spate.passed())
                .collect();
            if !failed.is_empty() {
                let _ = writeln!(
                    out,
                    "{}: {} of {}, first: {}\n{}",
                    run.name,
                    failed.len(),
                    run.records.len(),
                    failed[0].key,
                    indent(failed[0].datafusion.message(), 8)
                );
            }
        }
        out.push_str("\n== slowest files (both executors at once)\n");
        let mut slow: Vec<&FileRun> = runs.iter().collect();
        slow.sort_by_key(|run| std::cmp::Reverse(run.elapsed));
        for run in slow.iter().take(25) {
            let _ = writeln!(out, "{:>8.1?}  {}", run.elapsed, run.name);
        }
        out
    }
}

/// The first `lines` lines of `text`, indented.
fn indent(text: &str, lines: usize) -> String {
    text.lines()
        .take(lines)
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
