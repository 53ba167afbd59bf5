//! moto's S3 server (`moto_server`, PyPI `moto[s3,server]`).

use std::process::{Child, Command, Stdio};

use spate_connectors::object_stores::StoreConfig;

use super::{http, listening_port, stop};

/// moto's S3 server.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts moto and creates `buckets`.
    pub fn start(buckets: &[&str]) -> Moto {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is not installed: ./scripts/test.sh installs it (pip install 'moto[s3,server]' flask flask-cors)");
        let mut moto = Moto { child, port: 0 };
        moto.port = listening_port(&mut moto.child, "moto_server");
        let port = moto.port;
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
        Self::config_at(self.port)
    }

    /// Store settings that point `s3://` at `port` (this server, or a proxy in front).
    pub fn config_at(port: u16) -> StoreConfig {
        StoreConfig::parse(&format!(
            r#"
            [[stores]]
            prefix = "s3://"
            endpoint = "http://127.0.0.1:{port}"
            region = "us-east-1"
            retries = 1
            options = {{ aws_access_key_id = "test", aws_secret_access_key = "test" }}
            "#
        ))
        .unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
