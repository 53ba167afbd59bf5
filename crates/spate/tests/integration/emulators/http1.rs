//! One HTTP/1.1 request at a time, for the test proxies in front of the emulators: read
//! from a client, sent on to the server, the answer read whole.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;

/// One HTTP/1.1 request.
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name`, if the request has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a request with a `Content-Length` body (object_store always sends one).
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, target) = (words.next()?.to_string(), words.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    assert!(
        request.header("transfer-encoding").is_none(),
        "the test proxies take Content-Length bodies only"
    );
    let length = request
        .header("content-length")
        .map_or(Ok(0), str::parse)
        .ok()?;
    request.body = vec![0; length];
    reader.read_exact(&mut request.body).ok()?;
    Some(request)
}

/// Sends one request to the server at `target` and returns the whole raw response. The
/// request names the server as its host (fake-gcs-server routes by it) and asks it to
/// close; `HTTP/1.0` keeps the answer unchunked, for a proxy that reads it.
pub fn send(
    target: u16,
    version: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut server = TcpStream::connect(("127.0.0.1", target)).unwrap();
    let mut head = format!("{method} {path} {version}\r\nHost: 127.0.0.1:{target}\r\n");
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes()).unwrap();
    server.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response);
    response
}
