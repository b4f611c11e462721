//! Where a new token's secret goes: the [`SecretSink`] trait, and [`FileSecretSink`], a new file of its own.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use crate::ops::CreatedToken;
use crate::secrecy::ExposeSecret;

use super::state::Reservation;
use super::BoxError;
use crate::files::{absolute, identity, open_regular, sync_dir, FileError, OpenFailure};

/// What a rotation asks of [`SecretSink::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim<'a> {
    /// A new rotation: the place must be free (a file sink refuses an existing file).
    New,
    /// A rotation whose earlier run stopped between recording its plan and recording its reservation: what that
    /// run may have claimed (an empty file of ours) may be taken over.
    Unrecorded,
    /// A rotation that recorded this reservation: the same place, checked to be still what was claimed (claimed
    /// anew if it is gone).
    Recorded(&'a Reservation),
}

/// Where the new secret goes. The rotation calls `reserve` before anything is created, `store` once a token
/// exists, and counts the secret as held only once `store` returned `Ok`: `store` must make it durable first.
pub trait SecretSink: Send {
    /// Claims the place (a file sink creates its file, empty, so the name is ours before anything is sent) and
    /// says what to record.
    fn reserve(&mut self, claim: Claim<'_>) -> impl Future<Output = Result<Reservation, BoxError>> + Send;

    /// Stores the secret of `token` durably (written and synced; printed and flushed).
    fn store(&mut self, token: &CreatedToken) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// After a run stopped between creating a token and recording that its secret was stored: could the secret
    /// have reached the place (and someone read it)? A rotation never revokes a token whose secret may be held;
    /// the default, `true`, makes it stop and ask. A file sink answers from the file: still empty, or not.
    fn may_hold_secret(&mut self) -> impl Future<Output = Result<bool, BoxError>> + Send {
        async { Ok(true) }
    }

    /// The token whose secret was (or may have been) written is revoked: forget it.
    fn clear(&mut self) -> impl Future<Output = Result<(), BoxError>> + Send {
        async { Ok(()) }
    }

    /// The rotation is abandoned before any token of it exists: release the place (a file sink removes its
    /// still-empty file).
    fn release(&mut self) -> impl Future<Output = Result<(), BoxError>> + Send {
        async { Ok(()) }
    }
}

/// The secret in a file of its own: created new (`O_EXCL`, mode 0600 from the start, so no other user can open
/// it in between) when the rotation starts, so an existing file is refused while nothing has been sent; written
/// as the whole content (no newline), then the file and its directory fsynced. Its device and inode are
/// recorded, so a later run tells its own file from one someone else put at the same path, which is never
/// written.
#[derive(Debug)]
pub struct FileSecretSink {
    path: PathBuf,
    file: Option<File>,
}

impl FileSecretSink {
    /// A sink writing to `path` (made absolute, so a run from another directory finds the same file).
    pub fn new(path: &Path) -> io::Result<FileSecretSink> {
        Ok(FileSecretSink {
            path: absolute(path)?,
            file: None,
        })
    }

    /// The file's path (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn create(&mut self) -> Result<Reservation, BoxError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        let file = open_regular(&self.path, &options, "the secret file").map_err(|failure| self.failed(failure))?;
        // The new name must survive a crash as well: the rotation records it as ours.
        sync_dir(&self.path)?;
        self.keep(file)
    }

    fn reopen(&mut self, expected: Option<&str>, adopt_empty: bool) -> Result<Reservation, BoxError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        let file = match open_regular(&self.path, &options, "the secret file") {
            Ok(file) => file,
            Err(OpenFailure::Io(err)) if err.kind() == io::ErrorKind::NotFound => return self.create(),
            Err(failure) => return Err(self.failed(failure)),
        };
        let metadata = file.metadata()?;
        let found = identity(&metadata);
        let ours = match expected {
            Some(expected) => found.as_deref() == Some(expected),
            None => adopt_empty && metadata.len() == 0 && owned_privately(&metadata),
        };
        if !ours {
            return Err(FileError::Refused(format!(
                "{} is not the file this rotation created: it is never written; move it away and run again",
                self.path.display()
            ))
            .into());
        }
        self.keep(file)
    }

    fn keep(&mut self, file: File) -> Result<Reservation, BoxError> {
        let identity = identity(&file.metadata()?);
        self.file = Some(file);
        Ok(Reservation {
            place: self.path.display().to_string(),
            identity,
        })
    }

    fn failed(&self, failure: OpenFailure) -> BoxError {
        match failure {
            OpenFailure::Refused(refused) => refused.into(),
            OpenFailure::Io(err) if err.kind() == io::ErrorKind::AlreadyExists => FileError::Refused(format!(
                "{} already exists, and a secret file is never overwritten",
                self.path.display()
            ))
            .into(),
            // A local I/O failure (exit 5 in the CLI), not a refusal of the path as given.
            OpenFailure::Io(err) if err.kind() == io::ErrorKind::NotFound => {
                format!("the directory of {} does not exist", self.path.display()).into()
            }
            OpenFailure::Io(err) => format!("cannot open {}: {err}", self.path.display()).into(),
        }
    }

    fn open_file(&mut self) -> Result<&mut File, BoxError> {
        self.file
            .as_mut()
            .ok_or_else(|| "the secret file was not reserved (a bug of the caller)".into())
    }
}

/// An empty file this user alone may read: what our own `create` leaves.
fn owned_privately(metadata: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        metadata.uid() == me && metadata.mode() & 0o077 == 0
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        true
    }
}

impl SecretSink for FileSecretSink {
    async fn reserve(&mut self, claim: Claim<'_>) -> Result<Reservation, BoxError> {
        match claim {
            Claim::New => self.create(),
            Claim::Unrecorded => self.reopen(None, true),
            Claim::Recorded(reservation) => self.reopen(reservation.identity.as_deref(), false),
        }
    }

    async fn store(&mut self, token: &CreatedToken) -> Result<(), BoxError> {
        let path = self.path.clone();
        let file = self.open_file()?;
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(token.secret.expose_secret().as_bytes())?;
        file.sync_all()?;
        sync_dir(&path)?;
        // Written through our handle, the secret is at the path only if the path still names our file.
        let ours = identity(&file.metadata()?);
        match std::fs::symlink_metadata(&path) {
            Ok(named) if identity(&named) == ours => Ok(()),
            Ok(_) => Err(format!(
                "{} was replaced by another file while the secret was written",
                path.display()
            )
            .into()),
            Err(err) => Err(format!("{} is gone: {err}", path.display()).into()),
        }
    }

    async fn may_hold_secret(&mut self) -> Result<bool, BoxError> {
        Ok(self.open_file()?.metadata()?.len() > 0)
    }

    async fn clear(&mut self) -> Result<(), BoxError> {
        let file = self.open_file()?;
        file.set_len(0)?;
        file.sync_all()?;
        Ok(())
    }

    async fn release(&mut self) -> Result<(), BoxError> {
        if self.file.take().is_some() {
            std::fs::remove_file(&self.path)?;
            sync_dir(&self.path)?;
        }
        Ok(())
    }
}
