//! `spate shell` (and the progress line of `spate sql`) through a real pseudo-terminal:
//! util-linux `script` runs the binary on a
//! pty that is its controlling terminal, forwards what the test writes to its standard
//! input to the pty, and copies the pty's output to its standard output. Every wait has a
//! timeout, and the shell is killed when the test ends, passed or not.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{assert_error, cymbal, make_parquet, run, spate};

/// The longest wait for the shell's next output.
const WAIT: Duration = Duration::from_secs(60);
/// A new prompt: at the start of a line (the line editor redraws the line being edited,
/// prompt included, on the line it is on).
const PROMPT: &str = "\nspate> ";

/// A `spate shell` session on a pseudo-terminal.
struct Pty {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Everything the terminal showed, escape sequences and carriage returns removed.
    output: Arc<Mutex<String>>,
    /// How much of `output` earlier waits consumed.
    seen: usize,
}

impl Pty {
    /// Starts `spate shell ARGS` in `dir` with its history in `history`.
    fn start(dir: &Path, history: &Path, args: &[&str]) -> Pty {
        let mut all = vec!["shell"];
        all.extend_from_slice(args);
        Pty::spawn(dir, history, &all)
    }

    /// Starts `spate ARGS` on the terminal and waits for the shell's first prompt.
    fn spawn(dir: &Path, history: &Path, args: &[&str]) -> Pty {
        let mut pty = Pty::launch(dir, history, args);
        pty.expect(PROMPT);
        pty
    }

    /// Starts `spate ARGS` on the terminal.
    fn launch(dir: &Path, history: &Path, args: &[&str]) -> Pty {
        let spate = assert_cmd::cargo::cargo_bin("spate");
        let mut command = format!("exec '{}'", spate.display());
        for arg in args {
            command.push_str(&format!(" '{arg}'"));
        }
        let mut child = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .current_dir(dir)
            .env("TERM", "xterm")
            .env("SHELL", "/bin/sh")
            .env("SPATE_HISTORY", history)
            .env_remove("SPATE_THREADS")
            .env_remove("SPATE_MEMORY_LIMIT")
            .env_remove("SPATE_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("util-linux `script` runs the shell on a pseudo-terminal");
        let output = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock().unwrap().push_str(&text);
            }
        });
        let stdin = child.stdin.take();
        Pty {
            child,
            stdin,
            output,
            seen: 0,
        }
    }

    /// Types `keys` (`\r` is Enter, `\t` Tab, `\x03` Ctrl-C, `\x04` Ctrl-D).
    fn send(&mut self, keys: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(keys.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Types a line and waits for the prompt after it; returns what came in between.
    fn line(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r"));
        self.expect(PROMPT)
    }

    /// Waits until the terminal shows `needle` after what earlier waits consumed, and
    /// returns the text up to it.
    fn expect(&mut self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let shown = clean(&self.output.lock().unwrap());
            if let Some(at) = shown[self.seen..].find(needle) {
                let end = self.seen + at + needle.len();
                let text = shown[self.seen..end].to_string();
                self.seen = end;
                return text;
            }
            assert!(
                started.elapsed() < WAIT,
                "waited {WAIT:?} for {needle:?}; the terminal showed:\n{}",
                &shown[self.seen..]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the shell to end and returns its exit code.
    fn exit_code(&mut self) -> i32 {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(started.elapsed() < WAIT, "the shell did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pid of `spate` itself (the child of `script`).
    fn spate_pid(&self) -> u32 {
        let pid = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        children.split_whitespace().next().unwrap().parse().unwrap()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` without terminal escape sequences and carriage returns.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters and intermediates, then one final byte.
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' | '\x07' => {}
            c => out.push(c),
        }
    }
    out
}

/// A temporary directory for the session, and its history file.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("state/history");
    (dir, history)
}

/// A shell over the committed Cymbal sample (`--data testdata/cymbal`), in a temporary
/// directory.
fn on_cymbal() -> (tempfile::TempDir, Pty) {
    let (dir, history) = workspace();
    let data = cymbal();
    let shell = Pty::start(dir.path(), &history, &["--data", data.to_str().unwrap()]);
    (dir, shell)
}

/// The CPU time `pid` used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn shell_runs_queries_multi_line_statements_and_meta_commands_and_survives_errors() {
    let (_dir, mut shell) = on_cymbal();
    let count = shell.line("select count(*) as n from stores;");
    assert!(
        count.contains("| n  |") && count.contains("| 50 |"),
        "{count}"
    );

    // A statement over three lines: a continuation prompt until the `;`.
    shell.send("select store_id, region\r");
    shell.expect("...> ");
    shell.send("from stores -- not the end;\r");
    shell.expect("...> ");
    let rows = shell.line("order by store_id limit 2;");
    assert!(
        rows.contains("| 1        |") && rows.contains("| 2        |"),
        "{rows}"
    );
    assert!(!rows.contains("| 3 "), "{rows}");

    // Two statements on one line run in order.
    let both = shell.line("select 'first' as a; select 'second' as b;");
    let (first, second) = (both.find("first").unwrap(), both.find("second").unwrap());
    assert!(first < second, "{both}");

    let tables = shell.line(".tables");
    for table in ["customers", "products", "stores", "transactions"] {
        assert!(tables.contains(&format!("| {table}")), "{tables}");
    }
    let columns = shell.line(".describe stores");
    assert!(columns.contains("| store_id    | Int32"), "{columns}");
    assert!(columns.contains("| region "), "{columns}");

    // Errors: one line each, and the shell goes on.
    let missing = shell.line("select * from nowhere;");
    assert!(missing.contains("error: <shell>:1: table"), "{missing}");
    assert!(missing.contains("nowhere' not found"), "{missing}");
    let bad = shell.line("selec 1;");
    assert!(bad.contains("error: <shell>:1: "), "{bad}");
    let unknown = shell.line(".frobnicate");
    assert!(
        unknown.contains("error: unknown command '.frobnicate'"),
        "{unknown}"
    );
    let no_table = shell.line(".describe nowhere");
    assert!(no_table.contains("error: "), "{no_table}");
    let answer = shell.line("select 6 * 7 as answer;");
    assert!(answer.contains("| 42     |"), "{answer}");

    let help = shell.line(".help");
    assert!(help.contains(".report FILE"), "{help}");
    // Ctrl-C at the prompt clears the line; it does not leave.
    shell.send("select 'dropped'\x03");
    shell.expect(PROMPT);
    let after = shell.line("select 'kept' as k;");
    assert!(
        after.contains("| kept |") && !after.contains("dropped |"),
        "{after}"
    );
    shell.send(".quit\r");
    assert_eq!(shell.exit_code(), 0);
}

#[test]
fn shell_history_is_kept_in_the_history_file_for_the_next_session() {
    let (dir, history) = workspace();
    let mut first = Pty::start(dir.path(), &history, &[]);
    first.send("select 'two'\r");
    first.expect("...> ");
    first.line("as lines;");
    first.line("select 40 + 2 as total;");
    first.send("\x04");
    assert_eq!(first.exit_code(), 0, "Ctrl-D leaves with 0");
    drop(first);
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.contains("select 40 + 2 as total;"), "{kept}");
    // A statement of several lines is one entry.
    assert!(kept.contains("select 'two'\\nas lines;"), "{kept}");

    let mut second = Pty::start(dir.path(), &history, &[]);
    // Up: the last statement of the first session, run again.
    second.send("\x1b[A\r");
    let again = second.expect(PROMPT);
    assert!(
        again.contains("| total |") && again.contains("| 42    |"),
        "{again}"
    );
}

#[test]
fn shell_completes_tables_and_columns_with_tab() {
    let (dir, history) = workspace();
    make_parquet(dir.path(), "widgets.parquet", 5);
    let mut shell = Pty::start(
        dir.path(),
        &history,
        &["--table", "widgets=widgets.parquet"],
    );
    // `nam` is only the column `name`, `wid` only the table `widgets`, `cou` only `count`.
    shell.send("select cou\t(nam\t) as named from wid\t;\r");
    let out = shell.expect(PROMPT);
    assert!(
        out.contains("| named |") && out.contains("| 5     |"),
        "{out}"
    );
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(
        kept.contains("select count(name) as named from widgets;"),
        "{kept}"
    );
}

#[test]
fn shell_report_writes_the_last_statements_stages() {
    let (dir, mut shell) = on_cymbal();
    let none = shell.line(".report early.html");
    assert!(
        none.contains("error: .report: no statement has run yet"),
        "{none}"
    );
    shell.line(
        "select s.region, count(*) as n from transactions t join stores s \
         on s.store_id = t.store_id group by s.region;",
    );
    let wrote = shell.line(".report job.html");
    assert!(wrote.contains("wrote the report to job.html"), "{wrote}");
    shell.line(".report job.json");
    shell.send("\x04");
    assert_eq!(shell.exit_code(), 0);

    let html = std::fs::read_to_string(dir.path().join("job.html")).unwrap();
    assert!(html.contains("id=\"report-data\""), "an HTML report");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("job.json")).unwrap())
            .unwrap();
    let statements = report["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "the last statement only");
    let stages = statements[0]["stages"].as_array().unwrap();
    assert!(
        stages.len() >= 2,
        "scans, a shuffle, a result stage: {stages:?}"
    );
    // The HTML page embeds the same stages.
    assert!(html.contains(&format!("\"stages\":[{{\"id\":{}", stages[0]["id"])));
}

#[test]
fn shell_ctrl_c_cancels_the_running_statement_and_the_shell_goes_on() {
    let (dir, history) = workspace();
    let mut shell = Pty::start(dir.path(), &history, &["--threads", "2"]);
    // Far more rows than the test waits for.
    shell.send("select count(*) as n from range(1000000000000);\r");
    // The progress line shows once the statement has run a second.
    shell.expect("<shell>:1");
    let spate = shell.spate_pid();
    let sent = Instant::now();
    shell.send("\x03");
    shell.expect("cancelled");
    let took = sent.elapsed();
    shell.expect(PROMPT);
    assert!(took < Duration::from_secs(5), "cancelled after {took:?}");
    let answer = shell.line("select 'still here' as s;");
    assert!(answer.contains("| still here |"), "{answer}");
    // The statement's tasks stopped: the idle shell uses (almost) no CPU.
    let before = cpu_ticks(spate);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(spate) - before;
    assert!(used < 30, "{used} ticks of CPU in a second at the prompt");
}

#[test]
fn spate_alone_opens_the_shell_on_a_terminal_and_prints_the_usage_elsewhere() {
    let (dir, history) = workspace();
    let mut shell = Pty::spawn(dir.path(), &history, &[]);
    let answer = shell.line("select 1 + 1 as two;");
    assert!(answer.contains("| 2   |"), "{answer}");
    shell.send("\\q\r");
    assert_eq!(shell.exit_code(), 0);
    // Not a terminal: the usage, as before, so scripts are unaffected.
    let (code, _, stderr) = run(&mut spate(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Usage: spate <COMMAND>"), "{stderr}");
}

#[test]
fn shell_rejects_output_and_bad_session_flags_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(spate(dir.path()).args(["shell", "--output", "r.csv"]));
    assert_error(&output, 2, "--output r.csv: the shell prints results");
    let data = run(spate(dir.path()).args(["shell", "--data", "missing"]));
    assert_error(&data, 2, "--data missing: directory not found");
}

#[test]
fn sql_shows_its_progress_line_on_a_terminal_unless_quiet() {
    let (dir, history) = workspace();
    // Long enough (seconds) for the line, which shows after a second.
    let sql = "select count(*) as n from range(80000000)";
    let mut term = Pty::launch(dir.path(), &history, &["sql", sql, "--threads", "2"]);
    let shown = term.expect(" rows ");
    assert!(shown.contains("<sql>:1"), "{shown}");
    assert!(
        shown.contains("[Stage "),
        "running stages with their tasks: {shown}"
    );
    term.expect("80000000");
    assert_eq!(term.exit_code(), 0);

    let mut quiet = Pty::launch(
        dir.path(),
        &history,
        &["sql", sql, "--threads", "2", "--quiet"],
    );
    let shown = quiet.expect("80000000");
    assert_eq!(quiet.exit_code(), 0);
    assert!(
        !shown.contains("[Stage "),
        "--quiet shows no progress: {shown}"
    );
}
