//! The local file system as an object store, with writes that fail cleanly.
//!
//! object_store 0.13's `LocalFileSystem` stages a write in a new file beside
//! its target and, when that file cannot be created for want of its folder,
//! creates the folder and tries again: forever where the folder exists but
//! admits no new files (`COPY ... TO '/proc/x.parquet'` spun at full CPU).
//! This store checks first that the target's folder can be made and written
//! to, and says why not.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug, Default)]
pub struct LocalStore {
    inner: Arc<LocalFileSystem>,
}

impl LocalStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the folder of `location` and checks a file can be created in it.
    fn check_writable(&self, location: &Path) -> Result<()> {
        let path = self.inner.path_to_filesystem(location)?;
        let Some(folder) = path.parent() else {
            return Ok(());
        };
        check_folder_writable(folder).map_err(|e| object_store::Error::Generic {
            store: "LocalFileSystem",
            source: format!("cannot write {}: {e}", path.display()).into(),
        })
    }
}

/// Makes `folder` (and its parents) and checks a file can be created in it.
pub fn check_folder_writable(folder: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(folder)?;
    let probe = folder.join(format!(".clvsql-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => std::fs::remove_file(&probe),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// As a URL prefix, so that `{store}/{location}` in messages is the file's URL.
impl fmt::Display for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file://")
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.check_writable(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.check_writable(location)?;
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

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.check_writable(to)?;
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_folder_without_room_for_files_is_an_error_not_a_loop() {
        let store = LocalStore::new();
        let location = Path::from("proc/clvsql-test.parquet");
        let err = store
            .put_opts(
                &location,
                PutPayload::from_static(b"x"),
                PutOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot write /proc/clvsql-test.parquet"),
            "{err}"
        );
    }
}
