//! Where a rotation's state lives: the [`StateStore`] trait, and [`FileStateStore`], a JSON file per rotation,
//! named by the agent-portfolio and the old token.

use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::state::{RotationState, STATE_VERSION};
use super::BoxError;
use crate::files::{absolute, check_private, open_regular, parent_dir, sync_dir, FileError, Lock, OpenFailure};

/// Where a rotation records its [`RotationState`] between steps. The rotation saves before every step that could
/// leave something behind, so a store must make a save durable before it returns (a crash after `save` returns
/// must find that state), and atomic (a crash during `save` finds the previous state or the new one).
///
/// One store holds one rotation: the library's [`FileStateStore`] is keyed by agent-portfolio and old token.
pub trait StateStore: Send {
    /// The recorded state; `None` when this rotation has none.
    fn load(&mut self) -> impl Future<Output = Result<Option<RotationState>, BoxError>> + Send;
    /// Records `state`, durably and atomically.
    fn save(&mut self, state: &RotationState) -> impl Future<Output = Result<(), BoxError>> + Send;
    /// Forgets the rotation (abandoned: nothing of it exists at eToro).
    fn remove(&mut self) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A rotation's state in a JSON file (mode 0600, never a secret in it), replaced atomically on each save (a new
/// temporary file beside it, written and fsynced, renamed over it with `tempfile`'s `persist`, the directory
/// fsynced), and locked for as long as this value lives (`<file>.lock`, removed when it is dropped).
///
/// The file must be a regular file: a symbolic link, a FIFO or a device at its path is refused, never followed,
/// read or waited on; a file over [`FileStateStore::MAX_BYTES`] is refused too.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    _lock: Lock,
}

impl FileStateStore {
    /// The most bytes a state file may hold (a real one holds under 2 KiB).
    pub const MAX_BYTES: u64 = 64 * 1024;

    /// The store of the rotation of `old_token` in `portfolio`, in `dir` (created, mode 0700, if needed):
    /// `<dir>/rotation-<portfolio>-<old_token>.json`. Every run of that rotation, from any working directory, finds
    /// the same file.
    pub fn in_dir(dir: &Path, portfolio: Uuid, old_token: Uuid) -> Result<FileStateStore, FileError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|err| FileError::Io(format!("cannot create the state directory {}: {err}", dir.display())))?;
        FileStateStore::at(&dir.join(Self::file_name(portfolio, old_token)))
    }

    /// The name [`FileStateStore::in_dir`] gives a rotation's file.
    pub fn file_name(portfolio: Uuid, old_token: Uuid) -> String {
        format!("rotation-{portfolio}-{old_token}.json")
    }

    /// The store at `path` (made absolute), locked. Refused when another run holds it, or when the path or its
    /// lock file is not a regular file.
    pub fn at(path: &Path) -> Result<FileStateStore, FileError> {
        let path = absolute(path)
            .map_err(|err| FileError::Io(format!("cannot resolve the state path {}: {err}", path.display())))?;
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        let lock = Lock::take(PathBuf::from(lock), &format!("the rotation state {}", path.display()))?;
        Ok(FileStateStore { path, _lock: lock })
    }

    /// The file's path (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file's path.
    pub fn lock_path(&self) -> PathBuf {
        let mut lock = self.path.clone().into_os_string();
        lock.push(".lock");
        PathBuf::from(lock)
    }

    /// Reads the state, under the rules above.
    pub fn read(&self) -> Result<Option<RotationState>, FileError> {
        let shown = self.path.display();
        let mut options = OpenOptions::new();
        options.read(true);
        let file = match open_regular(&self.path, &options, "the rotation state") {
            Ok(file) => file,
            Err(OpenFailure::Io(err)) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(OpenFailure::Io(err)) => {
                return Err(FileError::Io(format!("cannot read the rotation state {shown}: {err}")))
            }
            Err(OpenFailure::Refused(refused)) => return Err(refused),
        };
        let metadata = file
            .metadata()
            .map_err(|err| FileError::Io(format!("cannot inspect the rotation state {shown}: {err}")))?;
        check_private(&metadata, "the rotation state", &self.path)?;
        let mut text = String::new();
        file.take(Self::MAX_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|err| FileError::Io(format!("cannot read the rotation state {shown}: {err}")))?;
        if text.len() as u64 > Self::MAX_BYTES {
            return Err(FileError::Refused(format!(
                "{shown} is larger than a rotation state can be ({} bytes): not a rotation state",
                Self::MAX_BYTES
            )));
        }
        let state: RotationState = serde_json::from_str(&text)
            .map_err(|err| FileError::Refused(format!("{shown} is not a rotation state: {err}")))?;
        if state.version != STATE_VERSION {
            return Err(FileError::Refused(format!(
                "{shown} is a rotation state of version {}; this client reads version {STATE_VERSION}",
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Writes the state, atomically and durably.
    pub fn write(&self, state: &RotationState) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(state).map_err(io::Error::other)?;
        text.push('\n');
        // `tempfile` creates it O_EXCL with mode 0600, under a random name in the same directory, and removes it
        // if anything fails before the rename.
        let mut temporary = tempfile::Builder::new()
            .prefix(".rotation-")
            .suffix(".tmp")
            .tempfile_in(parent_dir(&self.path))?;
        temporary.write_all(text.as_bytes())?;
        temporary.as_file().sync_all()?;
        temporary.persist(&self.path).map_err(|err| err.error)?;
        sync_dir(&self.path)
    }

    /// Removes the file.
    pub fn delete(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => sync_dir(&self.path),
        }
    }
}

impl StateStore for FileStateStore {
    async fn load(&mut self) -> Result<Option<RotationState>, BoxError> {
        Ok(self.read()?)
    }

    async fn save(&mut self, state: &RotationState) -> Result<(), BoxError> {
        self.write(state)
            .map_err(|err| format!("cannot write the rotation state {}: {err}", self.path.display()).into())
    }

    async fn remove(&mut self) -> Result<(), BoxError> {
        self.delete()
            .map_err(|err| format!("cannot remove the rotation state {}: {err}", self.path.display()).into())
    }
}
