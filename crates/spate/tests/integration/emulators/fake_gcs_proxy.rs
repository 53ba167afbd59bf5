//! [`FakeGcsProxy`]: the parts of GCS's XML API that object_store uses and
//! fake-gcs-server lacks, in front of fake-gcs-server.
//!
//! - Uploads. object_store uploads an object with `PUT /<bucket>/<object>`, adding
//!   `x-goog-if-generation-match: 0` for put-if-absent (how a Delta version is committed);
//!   fake-gcs-server takes uploads only through the JSON API. Each such PUT becomes a JSON
//!   multipart upload with `ifGenerationMatch`, so the server itself refuses to replace an
//!   object (`412`, as GCS answers), and the answer gets the XML API's `ETag` and
//!   `x-goog-generation` headers.
//! - Listing from an offset. object_store lists with `start-after`, which fake-gcs-server
//!   ignores (it lists from the start); the proxy drops the entries up to the offset.
//!
//! Every other request passes through unchanged. XML multipart uploads (`?uploads`) and
//! copies (`x-goog-copy-source`) are not translated: fake-gcs-server refuses them, so a
//! test that needs them fails. One request per connection: every answer closes it.

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::http1::{Request, read_request, send};

/// A proxy that makes fake-gcs-server take object_store's uploads.
pub struct FakeGcsProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl FakeGcsProxy {
    /// Proxies to fake-gcs-server at `127.0.0.1:target`.
    pub fn start(target: u16) -> FakeGcsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(client) = client {
                    thread::spawn(move || serve(client, target));
                }
            }
        });
        FakeGcsProxy { port, stop }
    }
}

impl Drop for FakeGcsProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The `start-after` of an XML-API listing, decoded.
fn list_offset(request: &Request) -> Option<String> {
    let (_, query) = request.target.split_once('?')?;
    if request.method != "GET" || !query.split('&').any(|p| p == "list-type=2") {
        return None;
    }
    query
        .split('&')
        .find_map(|p| p.strip_prefix("start-after="))
        .map(percent_decode)
}

/// A single-request upload of the XML API (not a part, a copy or a signed URL).
fn is_xml_upload(request: &Request) -> bool {
    request.method == "PUT"
        && !request.target.contains('?')
        && request.header("x-goog-copy-source").is_none()
}

fn serve(client: TcpStream, target: u16) {
    let Ok(reading) = client.try_clone() else {
        return;
    };
    let Some(request) = read_request(&mut BufReader::new(reading)) else {
        return;
    };
    let response = if is_xml_upload(&request) {
        upload(&request, target)
    } else if let Some(offset) = list_offset(&request) {
        list_after(&request, target, &offset)
    } else {
        send(
            target,
            "HTTP/1.1",
            &request.method,
            &request.target,
            &request.headers,
            &request.body,
        )
    };
    let mut client = client;
    let _ = client.write_all(&response);
    let _ = client.shutdown(Shutdown::Both);
}

/// `PUT /<bucket>/<object>` as a JSON multipart upload, answered as the XML API answers.
fn upload(request: &Request, target: u16) -> Vec<u8> {
    let (bucket, object) = request
        .target
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or_else(|| panic!("an upload names a bucket and an object: {}", request.target));
    let content_type = request
        .header("content-type")
        .unwrap_or("application/octet-stream");
    // The object is percent-encoded already, as a query value wants it.
    let mut path = format!("/upload/storage/v1/b/{bucket}/o?uploadType=multipart&name={object}");
    if let Some(generation) = request.header("x-goog-if-generation-match") {
        path.push_str(&format!("&ifGenerationMatch={generation}"));
    }
    let boundary = "gcs-write-proxy-boundary";
    let metadata = serde_json::json!({ "contentType": content_type });
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n\
         --{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&request.body);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let headers = [
        (
            "Content-Type".to_string(),
            format!("multipart/related; boundary={boundary}"),
        ),
        ("Content-Length".to_string(), body.len().to_string()),
    ];
    let response = send(target, "HTTP/1.0", "POST", &path, &headers, &body);
    let (status, json) = split_response(&response);
    if status != "200 OK" {
        // 412 when the object exists under put-if-absent; the JSON error body as is.
        return answer(&status, "application/json", &json);
    }
    let object: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("fake-gcs-server's upload answer is not JSON ({e}): {json}"));
    let field = |name: &str| {
        object[name]
            .as_str()
            .unwrap_or_else(|| panic!("fake-gcs-server's upload answer has no {name}: {json}"))
            .to_string()
    };
    format!(
        "HTTP/1.1 200 OK\r\nETag: \"{}\"\r\nx-goog-generation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        field("etag"),
        field("generation")
    )
    .into_bytes()
}

/// An XML-API listing with the entries up to `offset` dropped.
fn list_after(request: &Request, target: u16, offset: &str) -> Vec<u8> {
    let response = send(
        target,
        "HTTP/1.0",
        "GET",
        &request.target,
        &request.headers,
        b"",
    );
    let (status, xml) = split_response(&response);
    let mut kept = String::new();
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<Contents>") {
        kept.push_str(&rest[..start]);
        let end = rest[start..]
            .find("</Contents>")
            .map(|end| start + end + "</Contents>".len())
            .unwrap_or_else(|| panic!("an unclosed <Contents> in a listing: {xml}"));
        let entry = &rest[start..end];
        let key = entry
            .split_once("<Key>")
            .and_then(|(_, key)| key.split_once("</Key>"))
            .map_or("", |(key, _)| key);
        if key > offset {
            kept.push_str(entry);
        }
        rest = &rest[end..];
    }
    kept.push_str(rest);
    answer(&status, "application/xml", &kept)
}

/// The status (`200 OK`) and the body of a raw response of fake-gcs-server.
fn split_response(response: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default();
    let status = status.split_once(' ').map_or(status, |(_, status)| status);
    (status.to_string(), body.to_string())
}

/// A whole HTTP/1.1 answer that closes the connection.
fn answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A query value with its `%XX` escapes and `+` (space) decoded.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
