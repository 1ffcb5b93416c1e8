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
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use pipec_compiler::plan::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot use `{location}`: {reason}")]
    Open { location: String, reason: String },
    #[error("storage `{location}`: {source}")]
    Local {
        location: String,
        source: std::io::Error,
    },
    #[error("storage `{location}`: {source}")]
    Io {
        location: String,
        source: object_store::Error,
    },
}

impl StorageError {
    /// Whether trying again later may succeed, by one written rule for every
    /// store (tested below):
    ///
    /// - permanent: a missing bucket or object the step needs, missing
    ///   rights (S3's 401/403; EACCES, EPERM on a disk), a read-only file
    ///   system (EROFS), a name the file system refuses (ENAMETOOLONG),
    ///   a store that cannot do the job (no conditional writes), a bad
    ///   configuration. Someone has to act; the sink stops and says why.
    /// - transient: everything else: timeouts, refused connections, 5xx
    ///   answers (an object store's SlowDown), a full disk or quota (ENOSPC,
    ///   EDQUOT: space is freed, the events wait in Kafka meanwhile), a file
    ///   in the way of a directory (ENOTDIR: moved back, it heals), an
    ///   interrupted or failed read. The sink retries with backoff, and
    ///   `/health` reports it `retrying` once that lasts past its bound.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Open { .. } => true,
            StorageError::Local { source, .. } => io_error_is_transient(source),
            StorageError::Io { source, .. } => object_store_error_is_transient(source),
        }
    }
}

/// The rule of [`StorageError::is_transient`] for an object store's error,
/// wherever it surfaced (a Delta table's log reads too). A local store's
/// errors carry the operating system's below them, classed by
/// [`io_error_is_transient`].
pub fn object_store_error_is_transient(error: &object_store::Error) -> bool {
    let permanent = matches!(
        error,
        object_store::Error::NotFound { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::InvalidPath { .. }
            | object_store::Error::UnknownConfigurationKey { .. }
    );
    if permanent {
        return false;
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return io_error_is_transient(io);
        }
        cause = error.source();
    }
    true
}

/// The rule of [`StorageError::is_transient`] for the operating system's
/// errors on a local disk.
pub fn io_error_is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    !matches!(
        error.kind(),
        ErrorKind::PermissionDenied
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::InvalidFilename
            | ErrorKind::InvalidInput
            | ErrorKind::Unsupported
    )
}

/// A directory in some store; every path below is relative to it.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    root: ObjectPath,
    /// The location as the user wrote it, resolved, for messages and DDL.
    display: String,
    /// The directory on disk the store's paths start from, for a local
    /// store: conditional writes lock files there (object_store's local
    /// store has no compare-and-swap).
    local_dir: Option<PathBuf>,
    /// Objects listed through this store so far: what a listing costs is
    /// its keys (on S3, one request per thousand).
    listed: Arc<std::sync::atomic::AtomicU64>,
}

/// What a conditional write expects to find, as a read returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectVersion {
    /// No object.
    Absent,
    /// The object store's own version of it (ETag, version id), which the
    /// store compares atomically (S3's `If-Match`).
    Tagged(UpdateVersion),
    /// A local file, by its content, compared under an exclusive lock.
    Content(Bytes),
}

#[derive(Debug, thiserror::Error)]
pub enum ConditionalPutError {
    /// Someone else wrote the object since it was read.
    #[error("`{location}` was written by someone else since it was read")]
    Conflict { location: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
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
            local_dir: Some(dir),
            listed: Arc::default(),
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
            local_dir: None,
            listed: Arc::default(),
        })
    }

    /// The directory `relative` below this one.
    pub fn subdirectory(&self, relative: &str) -> Storage {
        Storage {
            store: self.store.clone(),
            root: self.path(relative),
            display: format!("{}/{relative}", self.display.trim_end_matches('/')),
            local_dir: self.local_dir.clone(),
            listed: self.listed.clone(),
        }
    }

    /// How many objects listings through this store (and the stores of its
    /// subdirectories) have returned.
    pub fn objects_listed(&self) -> u64 {
        self.listed.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// The store itself, for readers that take one (DataFusion's catalog).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The directory as a URL readers open, with a trailing slash:
    /// `file:///abs/dir/` or `s3://bucket/prefix/`.
    pub fn reader_url(&self) -> String {
        match &self.local_dir {
            Some(dir) => {
                let below = self.root.as_ref();
                let path = if below.is_empty() {
                    dir.clone()
                } else {
                    dir.join(below)
                };
                format!("file://{}/", path.display())
            }
            None => format!("{}/", self.display.trim_end_matches('/')),
        }
    }

    /// `scheme://bucket` of an object store, under which readers register it.
    pub fn store_url(&self) -> Option<String> {
        if self.local_dir.is_some() {
            return None;
        }
        let (scheme, rest) = self.display.split_once("://")?;
        let bucket = rest.split('/').next().unwrap_or_default();
        Some(format!("{scheme}://{bucket}"))
    }

    /// `root/relative`.
    fn path(&self, relative: &str) -> ObjectPath {
        let mut path = self.root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
    }

    /// An upload of `relative` in parts as it is written (a multipart
    /// upload on object stores, a staging file on a disk), visible only
    /// once shut down.
    pub fn writer(&self, relative: &str) -> object_store::buffered::BufWriter {
        object_store::buffered::BufWriter::new(self.store.clone(), self.path(relative))
    }

    /// A failure of this store, as its other operations report them.
    pub fn error(&self, source: object_store::Error) -> StorageError {
        self.io(source)
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

    /// The object and its version, for a later [`Storage::put_if`].
    pub async fn get_versioned(
        &self,
        relative: &str,
    ) -> Result<Option<(Bytes, ObjectVersion)>, StorageError> {
        match self.store.get(&self.path(relative)).await {
            Ok(result) => {
                let version = UpdateVersion {
                    e_tag: result.meta.e_tag.clone(),
                    version: result.meta.version.clone(),
                };
                let bytes = result.bytes().await.map_err(|e| self.io(e))?;
                let version = if self.local_dir.is_some() {
                    ObjectVersion::Content(bytes.clone())
                } else {
                    ObjectVersion::Tagged(version)
                };
                Ok(Some((bytes, version)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Writes the object only if it is still as `expected` says, atomically
    /// with respect to every other writer: S3's conditional PUT
    /// (`If-None-Match: *`, `If-Match: ETAG`) on object stores, an
    /// exclusive `flock` around read, compare and rename on a local disk
    /// (every process sharing the directory takes the same lock).
    pub async fn put_if(
        &self,
        relative: &str,
        bytes: Vec<u8>,
        expected: &ObjectVersion,
    ) -> Result<ObjectVersion, ConditionalPutError> {
        let conflict = || ConditionalPutError::Conflict {
            location: format!("{}/{relative}", self.display.trim_end_matches('/')),
        };
        if let Some(dir) = &self.local_dir {
            let file = dir.join(self.path(relative).as_ref());
            let expected = expected.clone();
            let written = tokio::task::spawn_blocking(move || {
                put_if_local(&file, &bytes, &expected, LOCK_TIMEOUT)
            })
            .await
            .map_err(|e| StorageError::Open {
                location: self.display.clone(),
                reason: format!("the conditional write did not finish: {e}"),
            })?;
            return match written {
                Ok(Some(version)) => Ok(version),
                Ok(None) => Err(conflict()),
                Err(source) => Err(ConditionalPutError::Storage(StorageError::Local {
                    location: format!("{}/{relative}", self.display),
                    source,
                })),
            };
        }
        let mode = match expected {
            ObjectVersion::Absent => PutMode::Create,
            ObjectVersion::Tagged(version) => PutMode::Update(version.clone()),
            ObjectVersion::Content(_) => return Err(conflict()),
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &self.path(relative),
                PutPayload::from(Bytes::from(bytes)),
                options,
            )
            .await
        {
            Ok(result) => Ok(ObjectVersion::Tagged(UpdateVersion {
                e_tag: result.e_tag,
                version: result.version,
            })),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(conflict()),
            Err(e) => Err(ConditionalPutError::Storage(self.io(e))),
        }
    }

    /// Makes a file written to a local disk durable: its bytes, and its
    /// name in its directory, so that a checkpoint never names a file a
    /// power loss can take back. (An object store acknowledges a PUT once
    /// it is durable: nothing to do there.)
    pub async fn sync(&self, relative: &str) -> Result<(), StorageError> {
        let Some(dir) = &self.local_dir else {
            return Ok(());
        };
        if !fsync_enabled() {
            return Ok(());
        }
        let file = dir.join(self.path(relative).as_ref());
        let location = format!("{}/{relative}", self.display);
        let synced = tokio::task::spawn_blocking(move || sync_local(&file))
            .await
            .map_err(|e| StorageError::Open {
                location: location.clone(),
                reason: format!("the sync did not finish: {e}"),
            })?;
        synced.map_err(|source| StorageError::Local { location, source })
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

    /// The names of the directories right below the root (one listing
    /// request with a delimiter on an object store).
    pub async fn directories(&self) -> Result<Vec<String>, StorageError> {
        let root = (!self.root.as_ref().is_empty()).then_some(&self.root);
        let listed = self
            .store
            .list_with_delimiter(root)
            .await
            .map_err(|e| self.io(e))?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|prefix| prefix.filename().map(str::to_string))
            .collect())
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
        self.listed
            .fetch_add(objects.len() as u64, std::sync::atomic::Ordering::Relaxed);
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

/// How long a local conditional write waits for another process's lock
/// before it fails. The failure is transient: the write is tried again,
/// and `/health` shows the sink `retrying` once that lasts past its bound.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// When a wait for the lock is logged, naming its last holder.
const LOCK_PATIENCE: Duration = Duration::from_secs(5);

/// A file's bytes and its directory entry, on disk.
/// The environment variable that turns local fsyncs off: bench/run's
/// baseline for what durable commits cost, never for production.
pub const NO_FSYNC_VARIABLE: &str = "PIPEC_UNSAFE_NO_FSYNC";

/// Whether local writes are fsynced: always, unless [`NO_FSYNC_VARIABLE`]
/// is `1`, which is said once, loudly, because a power loss can then take
/// back files a checkpoint names.
fn fsync_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        let off = std::env::var_os(NO_FSYNC_VARIABLE).is_some_and(|value| value == "1");
        if off {
            tracing::warn!(
                "{NO_FSYNC_VARIABLE}=1: local files and checkpoints are not fsynced; \
                 a power loss can lose committed rows (for benchmarks only)"
            );
        }
        !off
    })
}

fn sync_local(file: &Path) -> std::io::Result<()> {
    std::fs::File::open(file)?.sync_all()?;
    sync_directory(file.parent().unwrap_or(Path::new(".")))
}

/// A directory's entries, on disk (Linux syncs a directory opened to read).
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Who takes a lock, written into the lock file: the one to name when
/// another writer waits too long.
fn lock_holder() -> String {
    let host = crate::hostname();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("pid {} on {host}, at unix time {since}", std::process::id())
}

/// Takes `lock` (an exclusive `flock`), waiting at most `timeout`: a holder
/// that hangs (a stuck process on a shared disk) must not stall claims and
/// shutdown without end, as a blocking `flock` in a task that cannot be
/// cancelled did.
fn take_lock(lock: &std::fs::File, path: &Path, timeout: Duration) -> std::io::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut told = false;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        let holder = || {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.trim().is_empty() {
                "an unknown process".to_string()
            } else {
                text.trim().to_string()
            }
        };
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the lock `{}` has been held by another process for over {timeout:?} \
                     (it was last taken by {}): is a writer on the shared disk stuck?",
                    path.display(),
                    holder()
                ),
            ));
        }
        if !told && waited >= LOCK_PATIENCE {
            told = true;
            tracing::warn!(lock = %path.display(), holder = %holder(), waited = ?waited, "waiting for a checkpoint lock another process holds");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The local half of [`Storage::put_if`]: `Ok(None)` on a conflict.
fn put_if_local(
    file: &Path,
    bytes: &[u8],
    expected: &ObjectVersion,
    lock_timeout: Duration,
) -> std::io::Result<Option<ObjectVersion>> {
    use std::io::Write;
    let parent = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A lock file beside the object, never replaced, so every writer locks
    // the same inode; the lock goes with the handle.
    let lock_path = parent.join(format!(".{name}.lock"));
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    take_lock(&lock, &lock_path, lock_timeout)?;
    lock.set_len(0)?;
    lock.write_all(lock_holder().as_bytes())?;
    let current = match std::fs::read(file) {
        Ok(current) => Some(current),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };
    let matches = match (expected, &current) {
        (ObjectVersion::Absent, None) => true,
        (ObjectVersion::Content(expected), Some(current)) => {
            expected.as_ref() == current.as_slice()
        }
        _ => false,
    };
    if !matches {
        return Ok(None);
    }
    // Staging files of writers killed mid-write: only the lock holder
    // writes one, so any other is abandoned.
    let stale = format!(".{name}.");
    for entry in std::fs::read_dir(parent)?.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        if entry_name.starts_with(&stale) && entry_name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let staging = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut out = std::fs::File::create(&staging)?;
        out.write_all(bytes)?;
        if fsync_enabled() {
            out.sync_all()?;
        }
    }
    std::fs::rename(&staging, file)?;
    // The rename itself, on disk, before anyone is told the write landed.
    if fsync_enabled() {
        sync_directory(parent)?;
    }
    Ok(Some(ObjectVersion::Content(Bytes::copy_from_slice(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_the_file_system_refuses_is_permanent() {
        let dir = std::env::temp_dir().join(format!("pipec-longname-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = Storage::local(&dir).unwrap();
        // Root ignores file modes; ENAMETOOLONG is refused to everyone.
        let name = format!("{}.parquet", "x".repeat(300));
        let error = storage.put(&name, b"rows".to_vec()).await.unwrap_err();
        assert!(!error.is_transient(), "{error:?}");
        let conditional = storage
            .put_if(&name, b"{}".to_vec(), &ObjectVersion::Absent)
            .await
            .unwrap_err();
        match conditional {
            ConditionalPutError::Storage(error) => assert!(!error.is_transient(), "{error:?}"),
            other => panic!("not a storage error: {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn local_errors_are_classed_by_the_written_rule() {
        use std::io::{Error, ErrorKind};
        for permanent in [
            ErrorKind::PermissionDenied,
            ErrorKind::ReadOnlyFilesystem,
            ErrorKind::InvalidFilename,
        ] {
            assert!(
                !io_error_is_transient(&Error::from(permanent)),
                "{permanent:?}"
            );
        }
        for transient in [
            ErrorKind::StorageFull,
            ErrorKind::QuotaExceeded,
            ErrorKind::Interrupted,
            ErrorKind::TimedOut,
            ErrorKind::NotADirectory,
        ] {
            assert!(
                io_error_is_transient(&Error::from(transient)),
                "{transient:?}"
            );
        }
        // As object_store's local store reports them: the OS error below.
        let wrapped = object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(Error::from(ErrorKind::ReadOnlyFilesystem)),
        };
        assert!(!object_store_error_is_transient(&wrapped));
        let slow = object_store::Error::Generic {
            store: "S3",
            source: "503 SlowDown".into(),
        };
        assert!(object_store_error_is_transient(&slow));
    }

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

    /// Two writers that read the same version: one wins, the other is told.
    /// Issue 26: a holder that never lets go (a stuck process on a shared
    /// disk) makes the write fail within the timeout, transient, naming the
    /// holder; once it lets go the write goes through.
    #[test]
    fn a_local_conditional_write_gives_up_on_a_stuck_lock_and_names_its_holder() {
        let dir = std::env::temp_dir().join(format!("pipec-storage-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("0.json");
        let lock_path = dir.join(".0.json.lock");
        std::fs::write(&lock_path, "pid 4242 on stuck-host, at unix time 1").unwrap();
        let stuck = std::fs::File::open(&lock_path).unwrap();
        stuck.lock().unwrap();
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let error = put_if_local(&file, b"{}", &ObjectVersion::Absent, timeout).unwrap_err();
        let waited = started.elapsed();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
        assert!(io_error_is_transient(&error), "tried again, not a stop");
        assert!(
            error.to_string().contains("pid 4242 on stuck-host"),
            "{error}"
        );
        assert!(waited >= timeout, "{waited:?}");
        assert!(!file.exists(), "nothing written without the lock");
        drop(stuck);
        let written = put_if_local(&file, b"{}", &ObjectVersion::Absent, timeout).unwrap();
        assert!(written.is_some());
        let holder = std::fs::read_to_string(&lock_path).unwrap();
        assert!(
            holder.starts_with(&format!("pid {} on ", std::process::id())),
            "{holder}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn conditional_writes_let_one_of_two_writers_win() {
        let dir = std::env::temp_dir().join(format!("pipec-cas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let storage = Storage::open(&Location::Relative("cp".into()), &dir).unwrap();
        conditional_writes_on(&storage).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The same on the S3 server of `tests/services/s3.sh`, when the test
    /// command names a bucket (`PIPEC_TEST_S3_URL`, with the `AWS_*` settings).
    #[tokio::test]
    async fn conditional_writes_let_one_of_two_writers_win_on_s3() {
        let Ok(url) = std::env::var("PIPEC_TEST_S3_URL") else {
            return;
        };
        let url = format!("{url}/cas-{}-{}", std::process::id(), rand_suffix());
        let storage = Storage::open(&Location::Url(url), Path::new(".")).unwrap();
        conditional_writes_on(&storage).await;
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    async fn conditional_writes_on(storage: &Storage) {
        let first = storage
            .put_if("x.json", b"1".to_vec(), &ObjectVersion::Absent)
            .await
            .unwrap();
        assert!(matches!(
            storage
                .put_if("x.json", b"other".to_vec(), &ObjectVersion::Absent)
                .await,
            Err(ConditionalPutError::Conflict { .. })
        ));
        let (bytes, read) = storage.get_versioned("x.json").await.unwrap().unwrap();
        assert_eq!(bytes.as_ref(), b"1");
        // Both hold the version of "1"; the first to write wins.
        let second = storage
            .put_if("x.json", b"2".to_vec(), &read)
            .await
            .unwrap();
        assert_ne!(second, first);
        assert!(matches!(
            storage.put_if("x.json", b"stale".to_vec(), &read).await,
            Err(ConditionalPutError::Conflict { .. })
        ));
        storage
            .put_if("x.json", b"3".to_vec(), &second)
            .await
            .unwrap();
        assert_eq!(storage.get("x.json").await.unwrap().unwrap().as_ref(), b"3");
    }

    #[test]
    fn unknown_schemes_are_refused_with_the_reason() {
        let error =
            Storage::open(&Location::Url("ftp://host/x".into()), Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("not ftp://"), "{error}");
    }
}
