//! [`BigQueryClient`]: the REST and Storage clients of one table's settings, sharing its
//! credentials.

use std::sync::Arc;

use crate::auth::Credentials;
use crate::config::BigQueryConfig;
use crate::error::Result;
use crate::location::TableRef;
use crate::rest_client::RestClient;
use crate::storage_client::StorageClient;

/// Talks to BigQuery for one table's project, endpoints and credentials.
#[derive(Debug, Clone)]
pub struct BigQueryClient {
    pub(crate) rest: RestClient,
    pub(crate) storage: StorageClient,
}

impl BigQueryClient {
    /// A client for `table` with `config`. Nothing is sent yet.
    pub fn new(table: &TableRef, config: &BigQueryConfig) -> Result<Arc<BigQueryClient>> {
        let credentials = Credentials::new(&table.project, config)?;
        Ok(Arc::new(BigQueryClient {
            rest: RestClient::new(config, credentials.clone())?,
            storage: StorageClient::new(config, credentials)?,
        }))
    }
}
