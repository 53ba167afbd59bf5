//! Helpers: the binary, the repository's paths, and checks every run must pass.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The committed Cymbal sample.
pub fn cymbal() -> PathBuf {
    repo().join("testdata/cymbal")
}

/// `spate` with its working directory in `dir`.
pub fn spate(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("spate").unwrap();
    cmd.current_dir(dir)
        .env_remove("SPATE_MEMORY_LIMIT")
        .env_remove("SPATE_THREADS")
        .env_remove("SPATE_TASK_RETRIES")
        .env_remove("SPATE_INJECT_TASK_FAILURES")
        .env_remove("SPATE_INJECT_SHUFFLE_CORRUPTION")
        .env_remove("SPATE_INJECT_SEED")
        .env_remove("SPATE_CONFIG");
    cmd
}

/// Runs `cmd` and returns (exit code, stdout, stderr), checking that nothing panicked.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("panicked")
            && !stderr.contains("stack backtrace")
            && !stderr.contains("RUST_BACKTRACE"),
        "no panic may reach the user: {stderr}"
    );
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

/// Asserts a failure with `code` whose stderr is one `error:` line containing `needle`.
pub fn assert_error(result: &(i32, String, String), code: i32, needle: &str) {
    let (status, _, stderr) = result;
    assert_eq!(*status, code, "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "expected {needle:?} in {stderr}");
}

/// Writes a Parquet file of `n` rows (`id`, `name`) with the `spate` binary itself.
pub fn make_parquet(dir: &Path, path: &str, n: u32) {
    let (code, _, stderr) = run(spate(dir).args([
        "sql",
        &format!("select value as id, 'n' || value as name from range({n})"),
        "--output",
        path,
    ]));
    assert_eq!(code, 0, "{stderr}");
}
