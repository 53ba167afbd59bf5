//! The progress line on standard error for statements that run longer than a second, in
//! the manner of Spark's console progress bar: elapsed time, the running stages with
//! their tasks done, running and in all, rows and bytes read so far, and an estimate of
//! the time left once a third of the tasks are done. Only on a terminal, never with
//! `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressStyle};
use spate::{Progress, ProgressSnapshot, StagePhase};

/// How long a statement runs before the line shows.
const SHOW_AFTER: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);
/// Running stages shown at most; the others are counted (`+2 stages`).
const MAX_STAGES: usize = 3;
/// Columns the line aims to fit in, dropping stages first; indicatif cuts what is still
/// wider than the terminal.
const WIDTH: usize = 100;

/// The progress line of one statement; dropping it clears the line.
pub struct Spinner {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts watching `progress` for the statement at `label`; shows nothing unless
    /// standard error is a terminal and `enabled`.
    pub fn start(progress: Arc<Progress>, label: String, enabled: bool) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Spinner { done, thread: None };
        }
        let flag = Arc::clone(&done);
        let thread = std::thread::spawn(move || {
            let mut bar: Option<ProgressBar> = None;
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                let Some(snapshot) = progress.snapshot() else {
                    continue;
                };
                if snapshot.elapsed < SHOW_AFTER {
                    continue;
                }
                let bar = bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new_spinner();
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg}") {
                        bar.set_style(style);
                    }
                    bar
                });
                bar.set_message(progress_line(&label, &snapshot, WIDTH));
                bar.tick();
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        });
        Spinner {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The line for `snapshot` of the statement at `label`, e.g.
/// `run.sql:3  12.4s  [Stage 2: 14/40 (+2)] [Stage 3: 0/8]  1.2M rows  340 MiB read  ~8s left`:
/// per running stage its tasks done / in all and `(+n)` running, at most [`MAX_STAGES`]
/// of them and fewer when the line would be wider than `width` columns (those left out
/// are counted, `+2 stages`); no stage part under DataFusion's executor, no estimate
/// before a third of the tasks are done.
fn progress_line(label: &str, snapshot: &ProgressSnapshot, width: usize) -> String {
    let head = format!("{label}  {:.1}s", snapshot.elapsed.as_secs_f64());
    let mut tail = format!(
        "  {} rows  {} read",
        HumanCount(snapshot.rows_read),
        HumanBytes(snapshot.bytes_read)
    );
    if let Some(left) = snapshot.time_left {
        tail.push_str(&format!("  ~{}s left", left.as_secs_f64().ceil() as u64));
    }
    let blocks: Vec<String> = snapshot
        .stages
        .iter()
        .filter(|s| s.phase == StagePhase::Running)
        .map(|s| {
            let mut block = format!("[Stage {}: {}/{}", s.stage, s.done, s.tasks);
            if s.running > 0 {
                block.push_str(&format!(" (+{})", s.running));
            }
            block.push(']');
            block
        })
        .collect();
    let line = |shown: usize| {
        let mut stages = blocks[..shown].join(" ");
        let hidden = blocks.len() - shown;
        if hidden > 0 {
            let more = format!("+{hidden} stage{}", if hidden == 1 { "" } else { "s" });
            stages = if stages.is_empty() {
                more
            } else {
                format!("{stages} {more}")
            };
        }
        match stages.is_empty() {
            true => format!("{head}{tail}"),
            false => format!("{head}  {stages}{tail}"),
        }
    };
    let most = blocks.len().min(MAX_STAGES);
    (0..=most)
        .rev()
        .map(line)
        .find(|l| l.chars().count() <= width)
        .unwrap_or_else(|| line(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate::StageProgress;

    fn stage(stage: usize, tasks: usize, done: usize, running: usize) -> StageProgress {
        let phase = match (done, running) {
            (d, _) if d == tasks => StagePhase::Done,
            (0, 0) => StagePhase::Waiting,
            _ => StagePhase::Running,
        };
        StageProgress {
            stage,
            tasks,
            done,
            running,
            phase,
            rows: 0,
        }
    }

    fn snapshot(stages: Vec<StageProgress>) -> ProgressSnapshot {
        let elapsed = Duration::from_millis(12_400);
        ProgressSnapshot {
            elapsed,
            rows_read: 1_234_567,
            bytes_read: 340 * 1024 * 1024,
            time_left: spate::estimate_time_left(elapsed, &stages),
            stages,
        }
    }

    #[test]
    fn running_stages_show_tasks_done_total_and_running() {
        // 22 of 88 tasks done: under a third, no estimate yet.
        let s = snapshot(vec![
            stage(1, 8, 8, 0),
            stage(2, 40, 14, 2),
            stage(3, 40, 0, 0),
        ]);
        assert_eq!(
            progress_line("run.sql:3", &s, WIDTH),
            "run.sql:3  12.4s  [Stage 2: 14/40 (+2)]  1,234,567 rows  340.00 MiB read"
        );
    }

    #[test]
    fn time_left_shows_once_a_third_of_the_tasks_are_done() {
        // 20 of 56 tasks done: over a third, 36 left at 12.4 s per 20, 22.32 s.
        let s = snapshot(vec![
            stage(1, 8, 8, 0),
            stage(2, 40, 12, 2),
            stage(3, 8, 0, 0),
        ]);
        assert!(progress_line("q", &s, WIDTH).ends_with("read  ~23s left"));
        // 18 of 56: under a third.
        let s = snapshot(vec![
            stage(1, 8, 8, 0),
            stage(2, 40, 10, 2),
            stage(3, 8, 0, 0),
        ]);
        assert!(progress_line("q", &s, WIDTH).ends_with("read"));
    }

    #[test]
    fn at_most_three_stages_show_and_the_others_are_counted() {
        let stages = (0..5).map(|i| stage(i, 10, 1, 1)).collect();
        let line = progress_line("q", &snapshot(stages), 200);
        assert!(
            line.contains("[Stage 2: 1/10 (+1)] +2 stages  1,234,567"),
            "{line}"
        );
        assert!(!line.contains("Stage 3"), "{line}");
    }

    #[test]
    fn stages_are_dropped_to_fit_the_width() {
        let stages: Vec<_> = (0..3).map(|i| stage(i, 1000, 100, 4)).collect();
        let s = snapshot(stages);
        let wide = progress_line("q", &s, 200);
        assert!(wide.contains("Stage 2"), "{wide}");
        let narrow = progress_line("q", &s, 80);
        assert!(narrow.chars().count() <= 80, "{narrow}");
        assert!(narrow.contains("[Stage 0: 100/1000 (+4)]"), "{narrow}");
        assert!(narrow.contains("+2 stages"), "{narrow}");
        // No stage fits: they are all counted, and the rest is kept.
        let tiny = progress_line("q", &s, 10);
        assert_eq!(tiny, "q  12.4s  +3 stages  1,234,567 rows  340.00 MiB read");
    }

    #[test]
    fn no_stages_under_datafusions_executor() {
        assert_eq!(
            progress_line("q", &snapshot(Vec::new()), WIDTH),
            "q  12.4s  1,234,567 rows  340.00 MiB read"
        );
    }
}
