//! A spinner on standard error for statements that run longer than a second: elapsed time,
//! rows and bytes read so far. Only on a terminal, never with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressStyle};
use spate::Progress;

/// How long a statement runs before the spinner shows.
const SHOW_AFTER: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(100);

/// The spinner of one statement; dropping it clears the line.
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
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                        bar.set_style(style);
                    }
                    bar
                });
                bar.set_message(format!(
                    "{label}  {:.1}s  {} rows  {} read",
                    snapshot.elapsed.as_secs_f64(),
                    HumanCount(snapshot.rows_read),
                    HumanBytes(snapshot.bytes_read)
                ));
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
