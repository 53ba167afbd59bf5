//! `tpch report-scale`: what a job report of a run of many tasks costs.
//!
//! A table of `--tasks` Parquet files (`--rows` rows in all, written by spate itself under
//! `--out`/`data` when missing) is grouped with as many target partitions as files, two
//! shuffle partitions and adaptivity off: a scan stage of one task per file (partial
//! aggregation, hash shuffle), then two final tasks, so the run's cost grows with its
//! tasks and nothing else does. It is run `--iterations` times with the task timeline kept
//! (`spate.task_timeline = true`, the default) and as many times without it, alternated,
//! each in a fresh session, after one uncounted warm-up iteration; the median of each
//! iteration's ratio (with over without), of wall time and of CPU time (this process's,
//! which other load on a shared machine disturbs less), gives the share of a run that
//! recording every attempt's figures costs. Then the report of the last run with the
//! timeline is written under `--out`, its size taken, and, when Chromium is on PATH (or
//! given by `--chromium`), loaded headless: the page records in `#report-rendered` how long
//! it took from navigation to the end of drawing (`data-render-ms`) and how many task bars
//! it drew. Last, the same files are counted through a pass-through stage of one task per
//! file (a gather without a shuffle), timed once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spate::Session;

use crate::delta_write::median;

/// Options of `tpch report-scale`.
#[derive(Debug, clap::Args)]
pub struct ReportScaleOptions {
    /// Where the report and Chromium's profile go.
    #[arg(long)]
    pub out: PathBuf,
    /// Scan tasks of the run (files of the table), beside its two final tasks.
    #[arg(long, default_value_t = 10_000)]
    pub tasks: usize,
    /// Rows of the table.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Runs with the timeline and as many without, alternated; medians are reported.
    #[arg(long, default_value_t = 5)]
    pub iterations: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// An A/A run: the "off" side keeps the timeline too, so the share measured is the
    /// benchmark's own bias (order, drift), to read the A/B figure against.
    #[arg(long)]
    pub same_on_both_sides: bool,
    /// The Chromium binary (default: `chromium` or `chromium-browser` on PATH; without
    /// one, rendering is not measured).
    #[arg(long)]
    pub chromium: Option<PathBuf>,
}

pub fn run(options: &ReportScaleOptions) -> Result<(), String> {
    crate::block_on(options.threads, |threads| run_async(options, threads))
}

async fn run_async(options: &ReportScaleOptions, threads: usize) -> Result<(), String> {
    let data = options.out.join("data");
    let files = options.tasks.max(1);
    generate(&data, files, options.rows, threads).await?;
    let query = "SELECT v % 100 AS k, count(*) AS n, sum(v) AS s FROM facts GROUP BY 1";
    let partitions = files.to_string();
    // Per setting (with the timeline, without): wall seconds, CPU seconds.
    let mut wall = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut last = None;
    // Iteration 0 warms the page cache (ten thousand files) and is not counted.
    for i in 0..=options.iterations.max(1) {
        // Alternate which goes first, so drift in the machine's load hits both alike.
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for timeline in order {
            let keep = timeline || options.same_on_both_sides;
            let session = session_over(
                &data,
                threads,
                &[
                    ("datafusion.execution.target_partitions", &partitions),
                    ("spate.shuffle_partitions", "2"),
                    ("spate.task_timeline", if keep { "true" } else { "false" }),
                ],
            )?;
            let started = Instant::now();
            let cpu_started = cpu_time::ProcessTime::now();
            let results = session.run_script(query).await.map_err(|e| e.to_string())?;
            let seconds = started.elapsed().as_secs_f64();
            let cpu_seconds = cpu_started.elapsed().as_secs_f64();
            let attempts: usize = results
                .iter()
                .flat_map(|r| &r.metrics.stages)
                .map(|s| s.task_metrics.len() + s.other_attempts.len())
                .sum();
            eprintln!(
                "timeline {}: {seconds:.3} s wall, {cpu_seconds:.3} s CPU, {attempts} attempts kept",
                if timeline { "on" } else { "off" }
            );
            let slot = usize::from(!timeline);
            if i > 0 {
                wall[slot].push(seconds);
                cpu[slot].push(cpu_seconds);
            }
            if timeline {
                last = Some((results, session.config().report.clone()));
            }
        }
    }
    // Each iteration's run with the timeline over its run without: their median, and
    // their mean with its standard error.
    let share = |[with, without]: &[Vec<f64>; 2]| {
        let mut ratios: Vec<f64> = with.iter().zip(without).map(|(a, b)| a / b).collect();
        let n = ratios.len() as f64;
        let mean = ratios.iter().sum::<f64>() / n;
        let variance = ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        format!(
            "{:+.2}% (mean {:+.2}% ± {:.2}%)",
            (median(&mut ratios) - 1.0) * 100.0,
            (mean - 1.0) * 100.0,
            (variance / n).sqrt() * 100.0
        )
    };
    let (wall_share, cpu_share) = (share(&wall), share(&cpu));
    let [wall_with, wall_without] = wall.map(|mut v| median(&mut v));
    let [cpu_with, cpu_without] = cpu.map(|mut v| median(&mut v));
    println!(
        "Report scale: {} rows in {files} files, {threads} threads, {} iterations (medians){}\n",
        options.rows,
        options.iterations,
        if options.same_on_both_sides {
            "; A/A run: the \"off\" side keeps the timeline too"
        } else {
            ""
        }
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!("| run, task timeline on: wall / CPU | {wall_with:.3} s / {cpu_with:.3} s |");
    println!("| run, task timeline off: wall / CPU | {wall_without:.3} s / {cpu_without:.3} s |");
    println!(
        "| timeline's share of the run, paired ratios' median (mean ± standard error): wall / CPU | {wall_share} / {cpu_share} |"
    );
    // The same files counted through a pass-through stage of as many tasks (a gather,
    // no shuffle): its N map outputs keep one slot each, read by their own partition.
    // (The filter makes the files be read: a bare count(*) comes from their footers.)
    let session = session_over(
        &data,
        threads,
        &[("datafusion.execution.target_partitions", &partitions)],
    )?;
    let started = Instant::now();
    let counted = session
        .sql("SELECT count(*) AS n FROM facts WHERE v IS NOT NULL")
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let gather_seconds = started.elapsed().as_secs_f64();
    let n = counted
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<spate::datafusion::arrow::array::Int64Array>()
        })
        .map(|a| a.value(0));
    if n != Some(options.rows as i64) {
        return Err(format!("count(*) gave {n:?}, not {}", options.rows));
    }
    println!("| count(*) through a pass-through stage of {files} tasks | {gather_seconds:.3} s |");
    let Some((results, rates)) = last else {
        return Err("no run kept its timeline".into());
    };
    let started = Instant::now();
    let report = spate::report::Report::from_results(&results, &rates);
    let page = options.out.join("report.html");
    report.write_html(&page).map_err(|e| e.to_string())?;
    let build_seconds = started.elapsed().as_secs_f64();
    let tasks: usize = report.statements.iter().map(|s| s.tasks.len()).sum();
    let size = std::fs::metadata(&page)
        .map_err(|e| format!("cannot read {}: {e}", page.display()))?
        .len();
    println!("| task attempts in the report | {tasks} |");
    println!(
        "| report built and written | {:.1} ms |",
        build_seconds * 1000.0
    );
    println!(
        "| report size | {:.2} MB ({size} bytes) |",
        size as f64 / 1e6
    );
    match options.chromium.clone().or_else(chromium_on_path) {
        Some(browser) => {
            let profile = options.out.join("chromium-profile");
            let (render_ms, drawn, wall) = render(&browser, &page, &profile)?;
            if drawn != tasks {
                return Err(format!("Chromium drew {drawn} task bars of {tasks}"));
            }
            println!("| rendered in headless Chromium (navigation to drawn) | {render_ms} ms |");
            println!(
                "| Chromium's whole run (start, load, draw, dump, exit) | {:.2} s |",
                wall.as_secs_f64()
            );
        }
        None => eprintln!("chromium is not on PATH: rendering was not measured"),
    }
    Ok(())
}

/// A fresh session of `threads` threads, adaptivity off, with `config`, and the tables
/// of `data` registered.
fn session_over(data: &Path, threads: usize, config: &[(&str, &str)]) -> Result<Session, String> {
    let builder = Session::builder().threads(threads).adaptive(false);
    let session = config
        .iter()
        .fold(builder, |b, (key, value)| b.config(key, value))
        .build()
        .map_err(|e| e.to_string())?;
    session
        .register_directory(data)
        .map_err(|e| e.to_string())?;
    Ok(session)
}

/// Writes `facts/` under `data`, `rows` rows in `files` Parquet files (a Hive-partitioned
/// tree, one file per partition), unless it is there.
async fn generate(data: &Path, files: usize, rows: u64, threads: usize) -> Result<(), String> {
    let facts = data.join("facts");
    if facts.exists() {
        return Ok(());
    }
    let copy = format!(
        "COPY (SELECT value % {files} AS p, value AS v FROM range({rows})) \
         TO '{}' STORED AS PARQUET PARTITIONED BY (p)",
        facts.display()
    );
    crate::ideal::run_statements(threads, [copy]).await
}

/// `chromium` or `chromium-browser`, when one is on PATH.
fn chromium_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("chromium"), dir.join("chromium-browser")])
        .find(|candidate| candidate.is_file())
}

/// Loads `page` in headless Chromium; returns the render time the page recorded, the task
/// bars it drew and how long Chromium ran.
fn render(browser: &Path, page: &Path, profile: &Path) -> Result<(u64, usize, Duration), String> {
    // Headless, no sandbox (CI runs as root), a profile of its own, the DOM to stdout.
    let flags = "--headless --disable-gpu --no-sandbox --no-first-run --dump-dom";
    let started = Instant::now();
    let output = Command::new(browser)
        .args(flags.split(' '))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", browser.display()))?;
    let wall = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{} exited with {}",
            browser.display(),
            output.status
        ));
    }
    let dom = String::from_utf8_lossy(&output.stdout);
    let render_ms = attribute(&dom, "data-render-ms")
        .and_then(|v| v.parse().ok())
        .ok_or("the page did not finish drawing (no data-render-ms in its DOM)")?;
    let drawn = dom.matches(" data-task=\"").count();
    Ok((render_ms, drawn, wall))
}

/// The first value of attribute `name` in `dom`.
fn attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let start = dom.find(&needle)? + needle.len();
    let len = dom[start..].find('"')?;
    Some(&dom[start..start + len])
}
