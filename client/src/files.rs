//! The file-system rules every file the crate and its command line keep follow: regular files only (no link
//! followed, no FIFO or device opened, so nothing can hang or feed endless bytes), created with mode 0600, synced
//! with their directory, and one lock primitive (std `File::try_lock`) on a lock file that is removed when the run
//! ends.
//!
//! Used by [`crate::rotation`]'s [`FileStateStore`](crate::rotation::FileStateStore) and
//! [`FileSecretSink`](crate::rotation::FileSecretSink), and by `etoro-token`'s bulk journal ([`kind_of`] names
//! what a refused path is, in the same words everywhere).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Why a path cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Not a regular file (a link, a directory, a FIFO, a device), too large, or locked by another run: nothing
    /// was changed.
    #[error("{0}")]
    Refused(String),
    /// The file system failed.
    #[error("{0}")]
    Io(String),
}

/// Opens `path` as a regular file: a symbolic link at the last step is refused, a FIFO does not block the open,
/// and anything but a regular file is refused after `fstat`. `what` names the file in messages.
pub(crate) fn open_regular(path: &Path, options: &OpenOptions, what: &str) -> Result<File, OpenFailure> {
    let mut options = options.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let shown = path.display();
    let file = options.open(path).map_err(|err| match err.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ELOOP) => OpenFailure::Refused(FileError::Refused(format!(
            "{what} {shown} is a symbolic link; give the path of a regular file"
        ))),
        #[cfg(unix)]
        Some(libc::EISDIR) => OpenFailure::Refused(FileError::Refused(format!(
            "{what} {shown} is a directory; give the path of a regular file"
        ))),
        _ => OpenFailure::Io(err),
    })?;
    let metadata = file.metadata().map_err(OpenFailure::Io)?;
    if !metadata.is_file() {
        return Err(OpenFailure::Refused(FileError::Refused(format!(
            "{what} {shown} is not a regular file (a {}); give the path of a regular file",
            kind_of(&metadata.file_type())
        ))));
    }
    Ok(file)
}

/// How [`open_regular`] failed: refused by the rules, or the file system's error (kept, so `NotFound` and
/// `AlreadyExists` can be told apart).
#[derive(Debug)]
pub(crate) enum OpenFailure {
    Refused(FileError),
    Io(io::Error),
}

/// What a path that is not a regular file is, for a message: `FIFO`, `device`, `socket`, `directory`, or
/// `special file` for anything else (a regular file included: ask only of what `is_file` refused).
///
/// ```
/// let dir = std::env::temp_dir();
/// let file_type = std::fs::metadata(&dir).unwrap().file_type();
/// assert_eq!(etoro_client::files::kind_of(&file_type), "directory");
/// ```
pub fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "device";
        }
        if file_type.is_socket() {
            return "socket";
        }
    }
    if file_type.is_dir() {
        return "directory";
    }
    "special file"
}

/// The directory that holds `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Fsyncs the directory that holds `path`, so that a new, renamed or removed entry survives a crash.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(parent_dir(path))?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = parent_dir(path);
        Ok(())
    }
}

/// A file's device and inode, as text (`"dev:ino"`; `None` off Unix, where the path alone is trusted).
pub(crate) fn identity(metadata: &fs::Metadata) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(format!("{}:{}", metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        None
    }
}

/// `path` made absolute against the current directory, with its directory resolved (links included) when it
/// exists, so that two spellings of one place compare equal and a later run from another directory finds it.
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let Some(name) = absolute.file_name() else {
        return Ok(absolute);
    };
    match fs::canonicalize(parent_dir(&absolute)) {
        Ok(dir) => Ok(dir.join(name)),
        Err(_) => Ok(absolute),
    }
}

/// True when `a` and `b` name the same file: the same device and inode when both exist (through links too),
/// else the same absolute path with resolved directories. Give a rotation's state and its secret file different
/// places: a rotation refuses to run with them the same.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (fs::metadata(a), fs::metadata(b)) {
        if identity(&ma).is_some() {
            return identity(&ma) == identity(&mb);
        }
    }
    match (absolute(a), absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// An exclusive lock held by this run on `<state>.lock`, removed (then released) when dropped. A process that
/// dies releases it through the kernel; the file it leaves is taken over by the next run.
#[derive(Debug)]
pub(crate) struct Lock {
    path: PathBuf,
    file: Option<File>,
}

impl Lock {
    /// Takes the lock, or says who holds it. `what` names the locked thing in messages.
    pub(crate) fn take(path: PathBuf, what: &str) -> Result<Lock, FileError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let shown = path.display().to_string();
        // The run that held the lock removes the file before releasing it: a file opened just before that may be
        // locked after it, while the path already names a new one. Such a lock is worthless; open again.
        for _ in 0..16 {
            let file = open_regular(&path, &options, "the lock file").map_err(|failure| match failure {
                OpenFailure::Refused(refused) => refused,
                OpenFailure::Io(err) => FileError::Io(format!("cannot open the lock file {shown}: {err}")),
            })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(FileError::Refused(format!(
                        "{what} is in use by another run ({shown} is locked); wait for it to end"
                    )))
                }
                Err(fs::TryLockError::Error(err)) => return Err(FileError::Io(format!("cannot lock {shown}: {err}"))),
            }
            let ours = file.metadata().ok().and_then(|m| identity(&m));
            let named = fs::symlink_metadata(&path).ok().and_then(|m| identity(&m));
            if ours.is_none() || ours == named {
                return Ok(Lock { path, file: Some(file) });
            }
        }
        Err(FileError::Io(format!("cannot lock {shown}: it keeps being replaced")))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held, so no other run can lock this file once we let go (see `take`). Only an empty
        // file is ours to remove: a lock file never holds anything, so one that does was put there by someone else.
        let empty = self
            .file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .is_some_and(|m| m.len() == 0);
        if empty {
            let _ = fs::remove_file(&self.path);
        }
        drop(self.file.take());
    }
}

/// Refuses a file another user owns, or that others may write: whoever can write a rotation's state can make it
/// revoke a token.
pub(crate) fn check_private(metadata: &fs::Metadata, what: &str, path: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if metadata.uid() != me || metadata.mode() & 0o022 != 0 {
            return Err(FileError::Refused(format!(
                "{what} {} belongs to another user or may be written by others (mode {:o}); it is not trusted",
                path.display(),
                metadata.mode() & 0o777
            )));
        }
    }
    let _ = (metadata, what, path);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_no_file_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.lock");
        let first = Lock::take(path.clone(), "the state").unwrap();
        let err = Lock::take(path.clone(), "the state").unwrap_err();
        assert!(
            matches!(err, FileError::Refused(_)) && err.to_string().contains("in use"),
            "{err}"
        );
        drop(first);
        assert!(!path.exists(), "the lock file is removed");
        // A file that holds something is not a lock file of ours: it is locked, and left where it is.
        fs::write(&path, "someone's notes").unwrap();
        drop(Lock::take(path.clone(), "the state").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "someone's notes");
        fs::remove_file(&path).unwrap();
        // A file left by a process that died (kill -9) is taken over.
        fs::write(&path, "").unwrap();
        drop(Lock::take(path.clone(), "the state").unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn links_fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let fifo = dir.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let mut read = OpenOptions::new();
        read.read(true);
        for (path, says) in [
            (link.as_path(), "symbolic link"),
            (fifo.as_path(), "FIFO"),
            (Path::new("/dev/zero"), "device"),
            (dir.path(), "directory"),
        ] {
            match open_regular(path, &read, "the state") {
                Err(OpenFailure::Refused(err)) => assert!(err.to_string().contains(says), "{err}"),
                other => panic!("{} was not refused: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn the_same_file_is_found_by_inode_or_by_resolved_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        fs::write(&file, "").unwrap();
        let link = dir.path().join("alias");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(same_file(&file, &link), "one inode through a link");
        let dotted = dir.path().join(".").join("secret");
        assert!(same_file(&file, &dotted));
        let missing = dir.path().join("new");
        assert!(
            same_file(&missing, &dir.path().join(".").join("new")),
            "not yet created, same place"
        );
        assert!(!same_file(&file, &missing));
    }
}
