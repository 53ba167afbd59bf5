//! Starting, reaching and stopping a test server: a free port, waiting until it listens,
//! raw HTTP requests to it, finding its program, stopping it. Shared with the CLI's tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Waits until something listens on `port`, failing the test after 30 s.
pub fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before listening on port {port}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
