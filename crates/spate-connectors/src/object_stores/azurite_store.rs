//! [`AzuriteStore`]: an Azure store on Azurite that lists from an offset on the client.
//!
//! object_store lists Azure Blob from an offset with the `startFrom` query parameter, which
//! Azurite ignores: it answers with every blob under the prefix. object_store's own
//! emulator mode filters on the client instead, but it takes Azurite's address only from
//! `AZURITE_BLOB_STORAGE_URL`, so a store at an endpoint of the settings is built as an
//! ordinary account (see `azurite_at` in the builder) and wrapped in this store, which
//! does the same filtering. Delta Lake needs it: delta-rs finds a table's newest version by
//! listing `_delta_log/` from the version it read, and a listing that starts over at
//! version 0 fails every commit after the first (`Invalid table version: 1`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// An Azure store on Azurite; everything but [`ObjectStore::list_with_offset`] goes to
/// `inner` unchanged.
#[derive(Debug)]
pub(crate) struct AzuriteStore {
    inner: Arc<dyn ObjectStore>,
}

impl AzuriteStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>) -> Self {
        AzuriteStore { inner }
    }
}

impl fmt::Display for AzuriteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Azurite({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for AzuriteStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    /// The objects under `prefix` after `offset`, filtered here (Azurite ignores
    /// `startFrom`).
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let offset = offset.clone();
        self.inner
            .list(prefix)
            .try_filter(move |meta| futures::future::ready(meta.location > offset))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn lists_only_what_comes_after_the_offset() {
        let store = AzuriteStore::new(Arc::new(InMemory::new()));
        for name in ["log/0.json", "log/1.json", "log/2.json", "other/x"] {
            store.put(&Path::from(name), "{}".into()).await.unwrap();
        }
        let listed: Vec<String> = store
            .list_with_offset(Some(&Path::from("log")), &Path::from("log/1.json"))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(listed, ["log/2.json"]);
    }
}
