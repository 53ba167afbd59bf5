//! Real object-store servers on 127.0.0.1 for the tests, started and stopped by the tests.
//! `./scripts/test.sh` installs them; a missing one fails the test with how to install it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spate_connectors::object_stores::StoreConfig;

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
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

/// moto's S3 server.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts moto and creates `buckets`.
    pub fn start(buckets: &[&str]) -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is not installed: ./scripts/test.sh installs it (pip install 'moto[s3,server]' flask flask-cors)");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        for bucket in buckets {
            let status = http(port, "PUT", &format!("/{bucket}"));
            assert!(
                status.contains(" 200"),
                "creating bucket {bucket}: {status}"
            );
        }
        moto
    }

    /// Store settings that point `s3://` at this server.
    pub fn config(&self) -> StoreConfig {
        StoreConfig::parse(&format!(
            r#"
            [[stores]]
            prefix = "s3://"
            endpoint = "http://127.0.0.1:{}"
            region = "us-east-1"
            retries = 1
            options = {{ aws_access_key_id = "test", aws_secret_access_key = "test" }}
            "#,
            self.port
        ))
        .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
