//! Starting, reaching and stopping a test server: the port it listens on, raw HTTP
//! requests to it, finding its program, stopping it. Shared with the CLI's tests.
//!
//! Servers are started on port 0, so the kernel picks a port no one else holds, and
//! [`listening_port`] reads the port each one got from `/proc`. No port is chosen by the
//! test and then bound by another process, so tests can run in parallel.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long a server may take to listen; only a server that never starts takes this long.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Waits until `child` (or a process it started) listens on a TCP port and returns the
/// port; fails the test when the child exits first, or (stopping it) after
/// [`STARTUP_TIMEOUT`].
pub fn listening_port(child: &mut Child, what: &str) -> u16 {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(port) = listening_ports(child.id()).into_iter().min() {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before listening");
        }
        if Instant::now() > deadline {
            stop(child);
            panic!("{what} did not listen within {STARTUP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The TCP ports that process `pid` and its descendants listen on: the sockets among
/// their open files (`/proc/<pid>/fd/* -> socket:[inode]`) that `/proc/net/tcp{,6}` lists
/// in state `0A` (LISTEN).
fn listening_ports(pid: u32) -> Vec<u16> {
    let mut sockets = HashSet::new();
    for pid in process_tree(pid) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            sockets.extend(inode);
        }
    }
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            if fields.get(3) != Some(&"0A") || !sockets.contains(&inode) {
                return None;
            }
            u16::from_str_radix(fields.get(1)?.rsplit_once(':')?.1, 16).ok()
        })
        .collect()
}

/// `pid` and its descendants (through `/proc/<pid>/task/<tid>/children`).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut found = vec![pid];
    let mut next = 0;
    while let Some(&pid) = found.get(next) {
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            found.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// Sends one HTTP/1.1 request and returns the status line.
pub fn http(port: u16, method: &str, path: &str) -> String {
    http_request(port, method, path, &[], b"").0
}

/// Sends one HTTP/1.1 request with `headers` and `body`; returns the status line and the
/// response body (with its headers, which the tests do not need apart).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("content-length") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.lines().next().unwrap_or_default().to_string();
    (status, response)
}

/// The program of a test service: `$env_var` when set, else the first candidate that
/// exists, else the name found on `PATH`. A missing program fails the test and says how
/// to install it.
pub fn find_program(env_var: &str, candidates: &[PathBuf], name: &str, install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .iter()
        .chain(on_path.iter())
        .find(|path| Path::new(path).is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!("{name} is not installed: ./scripts/test.sh installs it ({install}), or set {env_var} to its path")
        })
}

/// Stops a test service.
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
