//! Azurite, Microsoft's Azure Blob Storage emulator (npm `azurite`), in memory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use object_store::azure::{AzureAccessKey, AzureAuthorizer, AzureCredential};
use object_store::client::{HttpRequest, HttpRequestBody};
use spate_connectors::object_stores::{StoreConfig, StoreSettings};

use super::{find_program, http_request, listening_port, stop};

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The key of Azurite's development account (public, documented by Microsoft).
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An Azurite blob server.
pub struct Azurite {
    child: Child,
    pub port: u16,
}

impl Azurite {
    /// Starts Azurite and creates `containers`.
    pub fn start(containers: &[&str]) -> Azurite {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        let program = find_program(
            "SPATE_AZURITE_BLOB",
            &[home.join(".cache/spate-tools/azurite/node_modules/.bin/azurite-blob")],
            "azurite-blob",
            "npm install --prefix ~/.cache/spate-tools/azurite azurite@3.35.0",
        );
        let child = Command::new(&program)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0"])
            .args(["--inMemoryPersistence", "--silent", "--disableTelemetry"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut azurite = Azurite { child, port: 0 };
        azurite.port = listening_port(&mut azurite.child, "azurite-blob");
        for container in containers {
            azurite.create_container(container);
        }
        azurite
    }

    /// Creates a container with a SharedKey-signed `PUT ?restype=container` (object_store
    /// has no call for it; its authorizer signs the request).
    pub fn create_container(&self, name: &str) {
        let path = format!("/{ACCOUNT}/{name}?restype=container");
        let mut request = HttpRequest::new(HttpRequestBody::empty());
        *request.method_mut() = "PUT".parse().unwrap();
        *request.uri_mut() = format!("http://127.0.0.1:{}{path}", self.port)
            .parse()
            .unwrap();
        request
            .headers_mut()
            .insert("content-length", "0".parse().unwrap());
        let credential = AzureCredential::AccessKey(AzureAccessKey::try_new(KEY).unwrap());
        AzureAuthorizer::new(&credential, ACCOUNT).authorize(&mut request);
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        let (status, response) = http_request(self.port, "PUT", &path, &headers, b"");
        assert!(
            status.contains(" 201"),
            "creating container {name}: {response}"
        );
    }

    /// Store settings that point `az://` and `abfss://` at this server with `key`.
    pub fn config_with_key(&self, key: &str) -> StoreConfig {
        let settings = |prefix: &str| StoreSettings {
            prefix: prefix.to_string(),
            endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            retries: Some(1),
            options: [
                ("azure_storage_use_emulator", "true"),
                ("azure_storage_account_name", ACCOUNT),
                ("azure_storage_account_key", key),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..StoreSettings::default()
        };
        StoreConfig {
            stores: vec![settings("az://"), settings("abfss://")],
            ..StoreConfig::default()
        }
    }

    /// Store settings with the development account's key.
    pub fn config(&self) -> StoreConfig {
        self.config_with_key(KEY)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
