//! The local file system as delta-rs sees a table on disk: `object_store`'s
//! `LocalFileSystem`, but for listing after an offset.
//!
//! A reader or a writer of a Delta table lists `_delta_log/` from its last
//! checkpoint (`list_with_offset`). `LocalFileSystem` turns every entry of
//! the directory into an object path through a `file://` URL before it
//! compares it with the offset, and the log keeps every commit for its
//! retention: a day of 10 s triggers is 8,640 entries, a month 260,000.
//! Every query and every commit paid for all of them. Here a name is
//! compared first, as it is read from the directory, and only what is past
//! the offset becomes an object (one `stat` each).

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::ops::Range;
use std::sync::Arc;

/// A `LocalFileSystem` rooted at `/`, as delta-rs builds one for `file://`.
#[derive(Debug, Clone)]
pub struct DeltaLocalStore {
    inner: Arc<LocalFileSystem>,
}

impl DeltaLocalStore {
    pub fn new() -> Self {
        DeltaLocalStore {
            inner: Arc::new(LocalFileSystem::new()),
        }
    }
}

impl std::fmt::Display for DeltaLocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeltaLocalStore({})", self.inner)
    }
}

/// The entries of a directory past `offset`, which names one of its
/// children: files as objects, and each subdirectory as whatever of it
/// `LocalFileSystem` lists past the offset.
async fn list_children_after(
    inner: Arc<LocalFileSystem>,
    prefix: Path,
    offset: Path,
) -> Result<Vec<ObjectMeta>> {
    let directory = inner.path_to_filesystem(&prefix)?;
    let wanted = offset.clone();
    let parent = prefix.clone();
    let (files, directories) = tokio::task::spawn_blocking(move || {
        let mut files = Vec::new();
        let mut directories = Vec::new();
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok((files, directories))
            }
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            // Not UTF-8: no object path can name it (`LocalFileSystem`
            // refuses it too), and no Delta log entry is such a name.
            let Some(name) = name.to_str() else {
                continue;
            };
            // A log's names need no escaping: joined as they are. Any
            // other goes the way `LocalFileSystem` names it.
            let location = if name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                parent.clone().join(name)
            } else {
                Path::from_filesystem_path(entry.path()).map_err(std::io::Error::other)?
            };
            // The type comes with the entry (no `stat`), but for a link,
            // which is followed as `LocalFileSystem` follows it.
            let kind = entry.file_type()?;
            let is_directory = kind.is_dir()
                || (kind.is_symlink() && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()));
            if is_directory {
                // A child's objects can sort after the offset although its
                // own name does not (`a/b` against `a.json`): its listing
                // is `LocalFileSystem`'s, with the offset.
                directories.push(location);
            } else if location > wanted && !is_upload_part(name) {
                files.push(location);
            }
        }
        Ok((files, directories))
    })
    .await
    .map_err(generic)?
    .map_err(generic)?;
    let mut listed = Vec::with_capacity(files.len());
    for location in files {
        match inner.head(&location).await {
            Ok(meta) => listed.push(meta),
            // Deleted since it was read (log cleanup, VACUUM): not there.
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    for directory in directories {
        let below: Vec<ObjectMeta> = inner
            .list_with_offset(Some(&directory), &offset)
            .try_collect()
            .await?;
        listed.extend(below);
    }
    Ok(listed)
}

fn generic(error: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
    object_store::Error::Generic {
        store: "DeltaLocalStore",
        source: Box::new(error),
    }
}

/// `LocalFileSystem`'s in-progress multipart uploads (`name#123`), which
/// its own listing leaves out.
fn is_upload_part(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait]
impl ObjectStore for DeltaLocalStore {
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

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
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
        // The log's case: the offset is a child of the prefix. Anything
        // else is left to `LocalFileSystem`.
        let Some(prefix) = prefix.filter(|p| {
            offset
                .prefix_match(p)
                .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none())
        }) else {
            return self.inner.list_with_offset(prefix, offset);
        };
        let listed = list_children_after(self.inner.clone(), prefix.clone(), offset.clone());
        stream::once(listed)
            .map_ok(|objects| stream::iter(objects.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store's listing past `offset`, sorted.
    async fn listed(store: &dyn ObjectStore, prefix: &Path, offset: &Path) -> Vec<String> {
        let mut names: Vec<String> = store
            .list_with_offset(Some(prefix), offset)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        names.sort();
        names
    }

    /// What `LocalFileSystem` lists past an offset, this lists too, on a
    /// directory shaped like a Delta log (and with a subdirectory, an
    /// upload part and a name that needs escaping).
    #[tokio::test]
    async fn lists_past_an_offset_what_the_local_file_system_does() {
        let dir = std::env::temp_dir().join(format!("pipec-delta-local-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = dir.join("_delta_log");
        std::fs::create_dir_all(log.join("_commits")).unwrap();
        for version in 0..30 {
            std::fs::write(log.join(format!("{version:020}.json")), b"{}").unwrap();
        }
        std::fs::write(log.join(format!("{:020}.checkpoint.parquet", 20)), b"x").unwrap();
        std::fs::write(log.join("_last_checkpoint"), b"{}").unwrap();
        std::fs::write(log.join("00000000000000000031.json#7"), b"part").unwrap();
        std::fs::write(log.join("z a%b.json"), b"odd").unwrap();
        std::fs::write(log.join("_commits/00000000000000000001.json"), b"{}").unwrap();
        let prefix = Path::from_filesystem_path(&log).unwrap();
        let ours = DeltaLocalStore::new();
        let theirs = LocalFileSystem::new();
        for offset in [
            format!("{:020}", 20),
            format!("{:020}.json", 25),
            "0".to_string(),
            "_last_checkpoint".to_string(),
            "zz".to_string(),
        ] {
            let offset = prefix.clone().join(offset.as_str());
            assert_eq!(
                listed(&ours, &prefix, &offset).await,
                listed(&theirs, &prefix, &offset).await,
                "past {offset}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
