//! [`FaultProxy`]: a TCP proxy on 127.0.0.1 in front of an emulator that misbehaves on
//! purpose, to test retries and timeouts against a real server.
//!
//! Each connection is one fault or one pass-through: the first `n` connections get the
//! fault, later ones are piped to the target both ways. Clients retry a failed request on
//! a new connection (the fault answers `Connection: close`), so "the first `n` connections"
//! is "the first `n` requests". [`Fault::PartUnavailable`] looks at each request instead:
//! it serves one request per connection, failing only uploads of multipart parts.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use super::http1::{read_request, send};

/// How the proxy misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer `503 Service Unavailable` and close.
    ServiceUnavailable,
    /// Accept the connection and never answer (a hung server).
    Silent,
    /// Answer `503 Service Unavailable` to uploads of multipart parts (`PUT` with
    /// `partNumber=`) and pass every other request on, one request per connection.
    PartUnavailable,
}

/// A proxy that fails the first requests.
pub struct FaultProxy {
    pub port: u16,
    faults: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:target`, answering the first `failures` connections with
    /// `fault` (use `usize::MAX` for "always").
    pub fn start(target: u16, fault: Fault, failures: usize) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (Arc::clone(&faults), Arc::clone(&stop));
        thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if let Fault::PartUnavailable = fault {
                    let seen = Arc::clone(&seen);
                    thread::spawn(move || fail_parts(client, target, &seen, failures));
                    continue;
                }
                let n = seen.fetch_add(1, Ordering::SeqCst);
                if n >= failures {
                    seen.fetch_sub(1, Ordering::SeqCst);
                    pipe(client, target);
                    continue;
                }
                match fault {
                    Fault::ServiceUnavailable => {
                        thread::spawn(move || unavailable(client));
                    }
                    Fault::Silent => held.push(client),
                    Fault::PartUnavailable => unreachable!("served above"),
                }
            }
        });
        FaultProxy { port, faults, stop }
    }

    /// How many requests got the fault so far.
    pub fn faults(&self) -> usize {
        self.faults.load(Ordering::SeqCst)
    }
}

/// Reads the request head, answers 503 and closes.
fn unavailable(mut client: TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    answer_503(client);
}

/// One request: a part upload (among the first `failures`) gets a 503, anything else goes
/// on to the target, and the connection closes after the answer.
fn fail_parts(client: TcpStream, target: u16, seen: &AtomicUsize, failures: usize) {
    let Ok(reading) = client.try_clone() else {
        return;
    };
    let Some(request) = read_request(&mut BufReader::new(reading)) else {
        return;
    };
    let is_part = request.method == "PUT" && request.target.contains("partNumber=");
    if is_part && seen.fetch_add(1, Ordering::SeqCst) < failures {
        return answer_503(client);
    }
    if is_part {
        seen.fetch_sub(1, Ordering::SeqCst);
    }
    let response = send(
        target,
        "HTTP/1.1",
        &request.method,
        &request.target,
        &request.headers,
        &request.body,
    );
    let mut client = client;
    let _ = client.write_all(&response);
    let _ = client.shutdown(Shutdown::Both);
}

/// Answers 503 (S3's `SlowDown`) and closes.
fn answer_503(mut client: TcpStream) {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>injected by the test</Message></Error>";
    let _ = write!(
        client,
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.shutdown(Shutdown::Both);
}

/// Copies bytes both ways between `client` and the target until either side closes.
fn pipe(client: TcpStream, target: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let (Ok(client_back), Ok(server_back)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || copy(client, server));
    thread::spawn(move || copy(server_back, client_back));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}
