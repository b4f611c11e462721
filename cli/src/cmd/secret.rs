//! Where a new token's secret goes, which is the one place it ever goes: standard output (alone on its line, or
//! in the `--json` object) or a `--secret-file`.
//!
//! A secret file is created new (`O_EXCL`, mode 0600 from the start, so no other user can open it in between),
//! before the create is sent: an existing file is refused while nothing has been sent, and the name is ours from
//! then on. The secret counts as stored once it is written, the file fsynced and its directory fsynced (so the
//! file's name survives a power cut too). `rotate` remembers the file's identity (device and inode) in its state,
//! which tells its own file from one that someone else put at the same path.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a secret eToro returned cannot be stored as it is: empty, or holding a control character (a secret
/// travels in an HTTP header, where neither works, and printing one could drive the terminal).
pub fn unusable(secret: &str) -> Option<&'static str> {
    if secret.is_empty() {
        Some("eToro returned an empty secret")
    } else if secret.chars().any(char::is_control) {
        Some("eToro returned a secret holding control characters, which no header can carry")
    } else {
        None
    }
}

/// Which file a path names: its device and inode (on Unix; elsewhere the path alone is trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
}

impl FileId {
    fn of(file: &File) -> io::Result<Option<FileId>> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = file.metadata()?;
            Ok(Some(FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            }))
        }
        #[cfg(not(unix))]
        {
            let _ = file;
            Ok(None)
        }
    }
}

/// A secret file this run created (or, in a resumed rotation, an earlier run of it did), still empty or holding
/// the secret.
#[derive(Debug)]
pub struct SecretFile {
    path: PathBuf,
    file: File,
    id: Option<FileId>,
}

/// Why a rotation's secret file cannot be reopened.
#[derive(Debug)]
pub enum Reopen {
    /// Nothing is at the path any more.
    Gone,
    /// Another file is at the path: not ours, never to be written.
    Replaced,
    /// It cannot be opened.
    Io(io::Error),
}

impl SecretFile {
    /// Creates `path`, which must not exist, readable and writable by its owner only.
    pub fn create(path: &Path) -> io::Result<SecretFile> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        let id = FileId::of(&file)?;
        // The new name must survive a crash as well: a rotation's state records it as ours.
        sync_dir(path)?;
        Ok(SecretFile {
            path: path.to_owned(),
            file,
            id,
        })
    }

    /// Opens the file at `path` again, if it is still the one that was created (`expected`).
    pub fn reopen(path: &Path, expected: Option<FileId>) -> Result<SecretFile, Reopen> {
        let file = match OpenOptions::new().write(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Reopen::Gone),
            Err(err) => return Err(Reopen::Io(err)),
        };
        let id = FileId::of(&file).map_err(Reopen::Io)?;
        if id != expected {
            return Err(Reopen::Replaced);
        }
        Ok(SecretFile {
            path: path.to_owned(),
            file,
            id,
        })
    }

    /// The file's identity.
    pub fn id(&self) -> Option<FileId> {
        self.id
    }

    /// Writes the secret as the whole content (no newline), then fsyncs the file and its directory.
    pub fn store(&mut self, secret: &str) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(secret.as_bytes())?;
        self.file.sync_all()?;
        sync_dir(&self.path)?;
        // Written through our handle, the secret is at the path only if the path still names our file.
        match fs::File::open(&self.path).and_then(|file| FileId::of(&file)) {
            Ok(id) if id == self.id => Ok(()),
            Ok(_) => Err(io::Error::other(format!(
                "{} was replaced by another file while the secret was written",
                self.path.display()
            ))),
            Err(err) => Err(err),
        }
    }

    /// Empties the file: what an interrupted write left there belongs to a token that is revoked.
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()
    }

    /// Removes the file (ours, and without a secret worth keeping).
    pub fn remove(self) -> io::Result<()> {
        drop(self.file);
        fs::remove_file(&self.path)?;
        sync_dir(&self.path)
    }
}

/// The directory that holds `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Fsyncs the directory that holds `path`, so that a new or renamed entry survives a crash.
pub fn sync_dir(path: &Path) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_secrets_are_named() {
        assert_eq!(unusable("abc123"), None);
        assert!(unusable("").is_some());
        assert!(unusable("ab\u{1b}[2J").is_some());
        assert!(unusable("ab\ncd").is_some());
    }

    #[test]
    fn a_secret_file_is_new_private_and_known_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let mut file = SecretFile::create(&path).unwrap();
        let id = file.id();
        assert_eq!(
            SecretFile::create(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        file.store("longer-first-secret").unwrap();
        file.store("second").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(SecretFile::reopen(&path, id).is_ok());
        // Another file put at the path (renamed over it while ours still exists, so it has another inode).
        let other = dir.path().join("other");
        fs::write(&other, "someone else's").unwrap();
        fs::rename(&other, &path).unwrap();
        #[cfg(unix)]
        {
            assert!(matches!(SecretFile::reopen(&path, id), Err(Reopen::Replaced)));
            let err = file.store("third").unwrap_err();
            assert!(err.to_string().contains("replaced"), "{err}");
        }
        drop(file);
        fs::remove_file(&path).unwrap();
        assert!(matches!(SecretFile::reopen(&path, id), Err(Reopen::Gone)));
    }
}
