//! Where files go, through `object_store`: a local directory, or an
//! `s3://`, `gs://` or `az://` URL (credentials from the usual environment
//! variables, such as `AWS_ACCESS_KEY_ID` or `GOOGLE_SERVICE_ACCOUNT`).

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use pipec_compiler::plan::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot use `{location}`: {reason}")]
    Open { location: String, reason: String },
    #[error("storage `{location}`: {source}")]
    Io {
        location: String,
        source: object_store::Error,
    },
}

/// A directory in some store; every path below is relative to it.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    root: ObjectPath,
    /// The location as the user wrote it, resolved, for messages and DDL.
    display: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.display)
    }
}

impl Storage {
    pub fn open(location: &Location, data_dir: &Path) -> Result<Storage, StorageError> {
        match location {
            Location::Relative(path) => Storage::local(&data_dir.join(path)),
            Location::Absolute(path) => Storage::local(Path::new(path)),
            Location::Url(url) => Storage::url(url),
        }
    }

    pub fn local(dir: &Path) -> Result<Storage, StorageError> {
        let open_error = |reason: String| StorageError::Open {
            location: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        let dir: PathBuf = std::fs::canonicalize(dir).map_err(|e| open_error(e.to_string()))?;
        let store =
            LocalFileSystem::new_with_prefix(&dir).map_err(|e| open_error(e.to_string()))?;
        Ok(Storage {
            store: Arc::new(store),
            root: ObjectPath::default(),
            display: dir.display().to_string(),
        })
    }

    fn url(url: &str) -> Result<Storage, StorageError> {
        let open_error = |reason: String| StorageError::Open {
            location: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| open_error("not a URL".into()))?;
        if scheme == "file" {
            return Storage::local(Path::new(rest));
        }
        let (_, path) = rest.split_once('/').unwrap_or((rest, ""));
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" | "s3a" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?,
            ),
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?,
            ),
            "az" | "azure" | "abfs" | "abfss" => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| open_error(e.to_string()))?,
            ),
            other => {
                return Err(open_error(format!(
                    "pipec writes to local paths and s3://, gs:// and az:// URLs, not {other}://"
                )))
            }
        };
        Ok(Storage {
            store,
            root: ObjectPath::from(path.trim_matches('/')),
            display: url.to_string(),
        })
    }

    /// The directory `relative` below this one.
    pub fn subdirectory(&self, relative: &str) -> Storage {
        Storage {
            store: self.store.clone(),
            root: self.path(relative),
            display: format!("{}/{relative}", self.display.trim_end_matches('/')),
        }
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// `root/relative`.
    fn path(&self, relative: &str) -> ObjectPath {
        let mut path = self.root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
    }

    fn io(&self, source: object_store::Error) -> StorageError {
        StorageError::Io {
            location: self.display.clone(),
            source,
        }
    }

    /// Writes a whole object at once: readers see all of it or none.
    pub async fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&self.path(relative), PutPayload::from(Bytes::from(bytes)))
            .await
            .map(|_| ())
            .map_err(|e| self.io(e))
    }

    pub async fn get(&self, relative: &str) -> Result<Option<Bytes>, StorageError> {
        match self.store.get(&self.path(relative)).await {
            Ok(result) => result.bytes().await.map(Some).map_err(|e| self.io(e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    pub async fn exists(&self, relative: &str) -> Result<bool, StorageError> {
        match self.store.head(&self.path(relative)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Atomic on a local disk; copy-then-delete on object stores, which is
    /// safe here because the source is hidden and the copy is idempotent.
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.store
            .rename(&self.path(from), &self.path(to))
            .await
            .map_err(|e| self.io(e))
    }

    pub async fn delete(&self, relative: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Every object below `relative`, as paths relative to the root.
    pub async fn list(&self, relative: &str) -> Result<Vec<String>, StorageError> {
        let prefix = self.path(relative);
        let root = self.root.as_ref().to_string();
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| self.io(e))?;
        Ok(objects
            .into_iter()
            .map(|meta| {
                let full = meta.location.as_ref().to_string();
                full.strip_prefix(&root)
                    .map(|r| r.trim_start_matches('/').to_string())
                    .unwrap_or(full)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_rename_list_delete_on_a_local_directory() {
        let dir = std::env::temp_dir().join(format!("pipec-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = Storage::open(&Location::Relative("files".into()), &dir).unwrap();
        storage
            .put("a/.x.pending", b"hello".to_vec())
            .await
            .unwrap();
        storage.rename("a/.x.pending", "a/x.parquet").await.unwrap();
        assert!(!storage.exists("a/.x.pending").await.unwrap());
        assert_eq!(
            storage.get("a/x.parquet").await.unwrap().unwrap().as_ref(),
            b"hello"
        );
        assert_eq!(storage.get("missing").await.unwrap(), None);
        assert_eq!(storage.list("a").await.unwrap(), ["a/x.parquet"]);
        storage.delete("a/x.parquet").await.unwrap();
        storage.delete("a/x.parquet").await.unwrap();
        assert!(storage.list("").await.unwrap().is_empty());
        assert!(dir.join("files").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_reason() {
        let error =
            Storage::open(&Location::Url("ftp://host/x".into()), Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("not ftp://"), "{error}");
    }
}
