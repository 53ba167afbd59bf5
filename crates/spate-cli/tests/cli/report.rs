//! `--report` and `--report-json`: the report of a real run over the Cymbal sample holds
//! every stage and task attempt with figures that agree with the run, and the HTML page,
//! loaded in headless Chromium, draws every one of them without a script error.
//!
//! Chromium is optional here; with `SPATE_REQUIRE_CHROMIUM=1` (as `scripts/test.sh` sets
//! it) a missing Chromium fails the test instead of skipping the browser check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::{assert_error, cymbal, repo, run, spate};

/// A join and an aggregation: scan stages, a shuffle, a result stage.
pub(crate) const SQL: &str = "select s.region, count(*) as n, sum(t.quantity) as units \
    from transactions t join stores s on s.store_id = t.store_id \
    group by s.region order by s.region";

const THREADS: usize = 3;

#[test]
fn a_report_holds_every_stage_and_task_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let threads = THREADS.to_string();
    let data = cymbal();
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "sql",
        SQL,
        "--data",
        data.to_str().unwrap(),
        "--threads",
        &threads,
        "--format",
        "csv",
        // Failed attempts, retried: they must be in the timeline too.
        "--inject-task-failures",
        "0.15",
        "--inject-seed",
        "3",
        "--report",
        "job.html",
        "--report-json",
        "job.json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let printed_rows = stdout.lines().count() as u64 - 1;
    assert!(printed_rows > 1, "{stdout}");
    let report = read_report(&dir.path().join("job.json"));
    assert_eq!(report["format"], "spate-report");
    assert_eq!(report["version"], 1);
    let statements = report["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["output_rows"].as_u64(), Some(printed_rows));
    check_statement(statement, THREADS);
    let failed = tasks(statement)
        .filter(|t| t["outcome"] == "failed")
        .count();
    assert!(failed > 0, "the injected failures are in the timeline");
    assert!(tasks(statement).any(|t| t["retried"] == true));
    check_cost(&report, statement);
    check_page(&dir.path().join("job.html"), &report);
}

#[test]
fn a_script_reports_each_statement_and_its_stages_only_when_it_ran_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "create view big as select value % 7 as k from range(50000);\n\
         select k, count(*) as n from big group by k order by k;\n",
    )
    .unwrap();
    // Rates from spate.toml's [spate.report] table.
    std::fs::write(
        dir.path().join("spate.toml"),
        "[spate.report]\nvcpu_hour = 1.5\ngb_read = 0.25\ncurrency = \"EUR\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(spate(dir.path()).args([
        "run",
        "job.sql",
        "--threads",
        "2",
        "--report-json",
        "job.json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report = read_report(&dir.path().join("job.json"));
    let statements = report["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[0]["kind"], "CreateView");
    assert_eq!(statements[0]["stages"].as_array().unwrap().len(), 0);
    assert_eq!(statements[1]["line"], 2);
    assert_eq!(statements[1]["output_rows"], 7);
    check_statement(&statements[1], THREADS);
    let rates = &report["rates"];
    assert_eq!(
        (&rates["vcpu_hour"], &rates["gb_read"], &rates["currency"]),
        (&Value::from(1.5), &Value::from(0.25), &Value::from("EUR"))
    );
    assert_eq!(
        rates["gib_hour"], 0.006,
        "the rates not set keep their default"
    );
    let cost = &statements[1]["cost"];
    let cpu_price = f(&cost["cpu_seconds"]) / 3600.0 * 1.5;
    assert!((f(&cost["cpu_price"]) - cpu_price).abs() < 1e-12, "{cost}");
    assert!(!dir.path().join("job.html").exists(), "only what was asked");
}

#[test]
fn a_failed_run_writes_a_report_that_ends_with_the_failed_statement() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("job.sql"),
        "select count(*) as n from range(1000);\n\
         select k, sum(1 / (k - 900)) as s from \
         (select value % 997 as k from range(200000)) group by k;\n",
    )
    .unwrap();
    let result = run(spate(dir.path()).args([
        "run",
        "job.sql",
        "--threads",
        "2",
        "--shuffle-partitions",
        "3",
        "--format",
        "csv",
        "--report",
        "job.html",
        "--report-json",
        "job.json",
    ]));
    assert_eq!(result.0, 1, "{}", result.2);
    assert!(result.2.contains("Divide by zero"), "{}", result.2);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("job.json")).unwrap())
            .unwrap();
    let statements = report["statements"].as_array().unwrap();
    assert_eq!(
        statements.len(),
        2,
        "the statement done, then the one that failed"
    );
    assert_eq!(statements[0]["error"], Value::Null);
    let failed = &statements[1];
    assert_eq!(
        (&failed["kind"], &failed["line"]),
        (&Value::from("Failed"), &Value::from(2))
    );
    assert!(
        failed["error"].as_str().unwrap().contains("Divide by zero"),
        "{failed}"
    );
    let ends: Vec<&str> = stages(failed).map(|s| s["end"].as_str().unwrap()).collect();
    assert!(ends.contains(&"failed"), "{ends:?}");
    assert!(
        ends.iter()
            .all(|e| ["done", "failed", "cancelled"].contains(e)),
        "{ends:?}"
    );
    for stage in stages(failed).filter(|s| s["end"] == "failed") {
        assert!(
            tasks(failed).any(|t| t["stage"] == stage["id"] && t["outcome"] == "failed"),
            "the attempt that failed is on the timeline: {failed}"
        );
    }
    assert!(
        f(&failed["cost"]["cpu_seconds"]) > 0.0,
        "the failed run's work is priced"
    );
    let page = dir.path().join("job.html");
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("id=\"report-data\"")
    );
    if let Some(browser) = chromium() {
        check_drawn(&browser, &page, &report);
    }
}

/// The Cymbal daily pipeline and a query over the week, with task failures forced and
/// more workers than scan partitions (idle workers split the running scans), and TPC-H
/// Q9 at SF 0.1: every
/// statement's stages and attempts are in the report, and Chromium draws them all.
#[test]
fn reports_of_the_cymbal_pipeline_and_tpch_q9_are_drawn_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = cymbal();
    std::fs::write(
        dir.path().join("splits.sql"),
        "SET datafusion.execution.target_partitions = 2;\n\
         SET datafusion.optimizer.repartition_file_scans = false;\n",
    )
    .unwrap();
    // After the day, the week: its one scan reads seven files, which idle workers split.
    std::fs::write(
        dir.path().join("week.sql"),
        "select day, count(*) as n, sum(quantity) as units from transactions \
         group by day order by day;\n",
    )
    .unwrap();
    let daily = repo().join("sql/cymbal/daily.sql");
    let (code, _, stderr) = run(spate(dir.path()).args([
        "run",
        "splits.sql",
        daily.to_str().unwrap(),
        "week.sql",
        "--format",
        "csv",
        "--data",
        data.to_str().unwrap(),
        "--param",
        "run_date=2026-11-23",
        "--param",
        "warehouse=wh",
        "--threads",
        "4",
        "--inject-task-failures",
        "0.2",
        "--inject-seed",
        "5",
        "--task-retries",
        "8",
        "--report",
        "daily.html",
        "--report-json",
        "daily.json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report = read_report(&dir.path().join("daily.json"));
    let ran: Vec<&Value> = report["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| stages(s).count() > 0)
        .collect();
    assert!(
        ran.len() >= 4,
        "the three COPY statements and the week's query ran plans"
    );
    for statement in &ran {
        check_statement(statement, 4);
    }
    let all_stages = || ran.iter().flat_map(|s| stages(s));
    assert!(
        all_stages().any(|s| u(&s["recovery"]["failed_attempts"]) > 0),
        "a failed attempt was retried"
    );
    assert!(
        all_stages().any(|s| u(&s["adaptive"]["scan_splits"]) > 0),
        "an idle worker split a running scan"
    );
    assert!(
        ran.iter()
            .flat_map(|s| tasks(s))
            .any(|t| t["split"] == true)
    );
    check_page(&dir.path().join("daily.html"), &report);

    let tpch = super::cluster::harness::tpch_sf01();
    let q9 = super::cluster::harness::tpch_query(9);
    let (code, stdout, stderr) = run(spate(dir.path()).args([
        "run",
        &q9,
        "--data",
        tpch.to_str().unwrap(),
        "--threads",
        "3",
        "--format",
        "csv",
        "--report",
        "q9.html",
        "--report-json",
        "q9.json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let report = read_report(&dir.path().join("q9.json"));
    let statement = &report["statements"][0];
    assert_eq!(
        statement["output_rows"].as_u64(),
        Some(stdout.lines().count() as u64 - 1)
    );
    check_statement(statement, 3);
    assert!(stages(statement).count() >= 5, "Q9 joins six tables");
    check_page(&dir.path().join("q9.html"), &report);
}

#[test]
fn a_report_into_a_missing_directory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--report", "--report-json"] {
        let result = run(spate(dir.path()).args(["sql", "select 1", flag, "no/such/r.out"]));
        assert_error(&result, 2, &format!("{flag} no/such/r.out: directory"));
    }
}

/// The report `--report-json` wrote to `path`.
pub(crate) fn read_report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn stages(statement: &Value) -> impl Iterator<Item = &Value> {
    statement["stages"].as_array().unwrap().iter()
}

pub(crate) fn tasks(statement: &Value) -> impl Iterator<Item = &Value> {
    statement["tasks"].as_array().unwrap().iter()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

pub(crate) fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

/// Every stage's tasks are there, once per attempt; its figures add up; its inputs carry
/// what the stages they come from produced; at most `slots` attempts ran at once.
pub(crate) fn check_statement(statement: &Value, slots: usize) {
    let elapsed = f(&statement["elapsed_seconds"]);
    let lanes = u(&statement["lanes"]) as usize;
    assert!(stages(statement).count() >= 2, "{statement}");
    assert!(lanes >= 1 && lanes <= slots.max(2), "{lanes} lanes");
    let mut results = 0;
    for stage in stages(statement) {
        let id = &stage["id"];
        let mine: Vec<&Value> = tasks(statement).filter(|t| &t["stage"] == id).collect();
        let done: Vec<&&Value> = mine
            .iter()
            .filter(|t| t["outcome"] == "succeeded" || t["outcome"] == "stopped")
            .collect();
        assert_eq!(done.len() as u64, u(&stage["tasks"]), "stage {id}");
        assert_eq!(
            mine.len() as u64,
            u(&stage["recovery"]["attempts"]),
            "stage {id}: every attempt"
        );
        let task_ids: BTreeSet<u64> = done.iter().map(|t| u(&t["task"])).collect();
        assert_eq!(
            task_ids.len(),
            done.len(),
            "stage {id}: each task done once"
        );
        let rows: u64 = done.iter().map(|t| u(&t["rows"])).sum();
        assert_eq!(rows, u(&stage["rows_out"]), "stage {id}");
        for input in stage["inputs"].as_array().unwrap() {
            let from = stages(statement)
                .find(|s| s["id"] == input["stage"])
                .unwrap_or_else(|| panic!("stage {id} reads a stage not in the report"));
            assert_eq!(input["rows"], from["rows_out"]);
            assert_eq!(input["bytes"], from["bytes_out"]);
        }
        let spread = &stage["task_time"];
        let (min, median, max) = (f(&spread["min"]), f(&spread["median"]), f(&spread["max"]));
        assert!(min <= median && median <= max, "{spread}");
        if (max - 4.0 * median).abs() > 1e-5 {
            assert_eq!(stage["skewed"], max > 4.0 * median, "{stage}");
        }
        assert!(u(&stage["tasks"]) > 0);
        if stage["output"] == "result" {
            results += 1;
            assert_eq!(stage["rows_out"], statement["output_rows"]);
        }
    }
    assert_eq!(results, 1, "one result stage");
    for task in tasks(statement) {
        let (start, end) = (f(&task["start"]), f(&task["end"]));
        assert!(
            0.0 <= start && start <= end && end <= elapsed + 1e-3,
            "{task}"
        );
        assert!(u(&task["lane"]) < lanes as u64);
        assert_eq!(task["retried"], u(&task["attempt"]) > 1);
    }
    // No two attempts overlap in one lane: a lane is one worker slot.
    for lane in 0..lanes as u64 {
        let mut spans: Vec<(f64, f64)> = tasks(statement)
            .filter(|t| u(&t["lane"]) == lane)
            .map(|t| (f(&t["start"]), f(&t["end"])))
            .collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0 + 1e-6, "lane {lane}: {pair:?}");
        }
    }
}

/// The cost is the tasks' CPU time and memory-time at the report's rates.
fn check_cost(report: &Value, statement: &Value) {
    let cost = &statement["cost"];
    let cpu: f64 = tasks(statement).map(|t| f(&t["cpu_seconds"])).sum();
    assert!((f(&cost["cpu_seconds"]) - cpu).abs() < 1e-3, "{cost}");
    assert!(f(&cost["cpu_seconds"]) > 0.0);
    assert!(f(&cost["memory_gib_seconds"]) > 0.0);
    assert!(
        u(&cost["bytes_read"]) > 0,
        "the scans read the Parquet files"
    );
    let rates = &report["rates"];
    assert_eq!(rates["vcpu_hour"], 0.036);
    assert!(
        rates["price_list"]
            .as_str()
            .unwrap()
            .contains("Serverless for Apache Spark")
    );
    let price = f(&cost["cpu_seconds"]) / 3600.0 * f(&rates["vcpu_hour"])
        + f(&cost["memory_gib_seconds"]) / 3600.0 * f(&rates["gib_hour"]);
    assert!((f(&cost["price"]) - price).abs() < 1e-12, "{cost}");
    assert_eq!(report["cost"]["price"], cost["price"]);
}

/// The HTML page `page` of `report` is small, and, loaded in Chromium, draws all of it
/// ([`check_drawn`]); without Chromium on PATH the browser check is skipped, unless
/// `SPATE_REQUIRE_CHROMIUM=1`.
pub(crate) fn check_page(page: &Path, report: &Value) {
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains("id=\"report-data\""));
    assert!(html.len() < 1_000_000, "a small run makes a small page");
    match chromium() {
        Some(browser) => check_drawn(&browser, page, report),
        None if std::env::var("SPATE_REQUIRE_CHROMIUM").as_deref() == Ok("1") => {
            panic!("SPATE_REQUIRE_CHROMIUM=1 but neither chromium nor chromium-browser is on PATH")
        }
        None => eprintln!("chromium is not on PATH: the report was not loaded in a browser"),
    }
}

/// `chromium` or `chromium-browser`, when one is on PATH.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// Loads `page` in headless Chromium and checks, in the DOM it dumps after the page's
/// script ran, that every stage, task attempt and named lane of `report` is drawn and
/// that no script error happened.
fn check_drawn(browser: &Path, page: &Path, report: &Value) {
    let profile = tempfile::tempdir().unwrap();
    let dom = dump_dom(browser, page, profile.path());
    assert!(!dom.contains("id=\"report-error\""), "script error: {dom}");
    assert!(
        dom.contains("id=\"report-rendered\""),
        "the page was not drawn to its end"
    );
    let mut want_stages = BTreeSet::new();
    let mut want_tasks = BTreeSet::new();
    for (i, statement) in report["statements"].as_array().unwrap().iter().enumerate() {
        for stage in stages(statement) {
            want_stages.insert(format!("{i}:{}", stage["id"]));
        }
        for t in tasks(statement) {
            want_tasks.insert(format!("{i}:{}:{}:{}", t["stage"], t["task"], t["attempt"]));
        }
    }
    assert_eq!(attribute_values(&dom, "data-stage"), want_stages);
    assert_eq!(attribute_values(&dom, "data-stage-row"), want_stages);
    let drawn_tasks = attribute_values(&dom, "data-task");
    assert_eq!(drawn_tasks.len(), want_tasks.len());
    assert_eq!(drawn_tasks, want_tasks);
    let edges: usize = report["statements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| stages(s).map(|st| st["inputs"].as_array().unwrap().len()))
        .sum();
    assert_eq!(attribute_values(&dom, "data-edge").len(), edges);
    for statement in report["statements"].as_array().unwrap() {
        for label in statement["lane_labels"].as_array().into_iter().flatten() {
            let drawn = format!(">{}<", label.as_str().unwrap());
            assert!(dom.contains(&drawn), "lane {label} is not drawn");
        }
    }
}

/// The DOM of `page` after its scripts ran, as Chromium dumps it.
fn dump_dom(browser: &Path, page: &Path, profile: &Path) -> String {
    let out = profile.join("dom.html");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not load the report in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read_to_string(out).unwrap()
}

/// The values of attribute `name` in `dom` (exact name: `data-stage` does not match
/// `data-stage-row`), each once.
fn attribute_values(dom: &str, name: &str) -> BTreeSet<String> {
    let needle = format!(" {name}=\"");
    let mut values = BTreeSet::new();
    let mut rest = dom;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let end = rest.find('"').unwrap();
        assert!(
            values.insert(rest[..end].to_string()),
            "{name}={} drawn twice",
            &rest[..end]
        );
        rest = &rest[end..];
    }
    values
}
