//! The state file of `etoro-token rotate`: what the rotation is (the old token, the new token's name and
//! settings, where its secret goes) and how far it got. The state machine itself is described in
//! `crate::cmd::rotate`.
//!
//! The file never holds a secret. It is written atomically (a new temporary file, mode 0600, written and fsynced,
//! renamed over the old one, the directory fsynced), so a crash leaves either the previous step or the next one,
//! never half of either. A lock file beside it (`flock`, released by the kernel when the process dies) keeps two
//! runs of one rotation from interleaving.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cmd::secret::{sync_dir, FileId};

/// The format's version; a file of another version is refused rather than guessed at.
pub const VERSION: u32 = 1;

/// One rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    /// [`VERSION`].
    pub version: u32,
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The token being replaced.
    pub old_token: Uuid,
    /// Its name, as listed when the rotation started.
    pub old_name: Option<String>,
    /// The new token's name, fixed when the rotation starts: the key that finds a token whose create answer was
    /// lost.
    pub new_name: String,
    /// The new token's scope names.
    pub scope_names: Vec<String>,
    /// The new token's IP allow-list; `None` is unrestricted.
    pub ips_whitelist: Option<Vec<Ipv4Addr>>,
    /// The new token's expiry; `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the new secret goes.
    pub secret: Destination,
    /// How far the rotation got.
    pub step: Step,
    /// When the step was recorded.
    pub updated_at: DateTime<Utc>,
}

/// Where the new secret goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "to",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Destination {
    /// Standard output, alone on its line.
    Stdout,
    /// A file this rotation created, known by its identity.
    File {
        /// The path.
        path: PathBuf,
        /// Its device and inode when created (Unix).
        id: Option<FileId>,
    },
}

/// The steps, in order. Each is recorded before the action that may leave it behind is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "name",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Step {
    /// Nothing created yet.
    Planned,
    /// A create was sent (or about to be): a token of `new_name` may exist without anyone holding its secret.
    CreateSent {
        /// The create's `x-request-id`, once known (the library makes it; an error or the answer tells it).
        request_id: Option<Uuid>,
    },
    /// The new token exists; its secret is not stored yet.
    Created {
        /// The new token.
        new_token: Uuid,
        /// The create's `x-request-id`.
        request_id: Uuid,
    },
    /// The new secret is stored (written and flushed to standard output, or written and fsynced to the file).
    SecretStored {
        /// The new token.
        new_token: Uuid,
    },
    /// The old token is revoked: the rotation is complete.
    OldRevoked {
        /// The new token.
        new_token: Uuid,
        /// The revoke's `x-request-id`, when one was sent by the run that finished.
        request_id: Option<Uuid>,
        /// True when the old token was found gone already.
        already_gone: bool,
    },
}

impl State {
    /// Reads the state at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<State>, String> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("cannot read the rotation state {}: {err}", path.display())),
        };
        let state: State = serde_json::from_str(&text)
            .map_err(|err| format!("{} is not a rotation state of this etoro-token: {err}", path.display()))?;
        if state.version != VERSION {
            return Err(format!(
                "{} is a rotation state of version {}; this etoro-token reads version {VERSION}",
                path.display(),
                state.version
            ));
        }
        Ok(Some(state))
    }

    /// Records `step` at `path`, atomically and durably.
    pub fn save(&mut self, path: &Path, step: Step) -> io::Result<()> {
        let mut next = self.clone();
        next.step = step;
        next.updated_at = Utc::now();
        write_atomically(path, &next)?;
        *self = next;
        Ok(())
    }

    /// Removes the state (the rotation is abandoned: nothing of it exists on eToro's side).
    pub fn remove(path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => sync_dir(path),
        }
    }
}

fn write_atomically(path: &Path, state: &State) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(state).map_err(io::Error::other)?;
    text.push('\n');
    let temporary = sibling(path, ".tmp");
    // A leftover of a run that died mid-write; the lock says no other run is using it.
    match fs::remove_file(&temporary) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut file = private_new(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    sync_dir(path)
}

/// `path` with `suffix` added to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn private_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// An exclusive lock on a rotation, held until dropped (or the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock of the state at `path` (`<path>.lock`, created if needed); `None` when another run holds it.
    pub fn take(path: &Path) -> io::Result<Option<Lock>> {
        let lock = sibling(path, ".lock");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(lock)?;
        #[cfg(unix)]
        {
            use rustix::fs::{flock, FlockOperation};
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Some(Lock { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            version: VERSION,
            portfolio: Uuid::from_u128(1),
            old_token: Uuid::from_u128(2),
            old_name: Some("bot".to_owned()),
            new_name: "bot-rotated-00000000".to_owned(),
            scope_names: vec!["etoro-public:trade.real:read".to_owned()],
            ips_whitelist: Some(vec![Ipv4Addr::new(203, 0, 113, 7)]),
            expires_at: None,
            secret: Destination::File {
                path: PathBuf::from("bot.secret"),
                id: Some(FileId { dev: 1, ino: 2 }),
            },
            step: Step::Planned,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn every_step_reads_back_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotation.json");
        assert_eq!(State::load(&path).unwrap(), None);
        let mut state = state();
        let id = Uuid::from_u128(3);
        for step in [
            Step::Planned,
            Step::CreateSent { request_id: None },
            Step::CreateSent { request_id: Some(id) },
            Step::Created {
                new_token: id,
                request_id: id,
            },
            Step::SecretStored { new_token: id },
            Step::OldRevoked {
                new_token: id,
                request_id: Some(id),
                already_gone: false,
            },
        ] {
            state.save(&path, step).unwrap();
            assert_eq!(State::load(&path).unwrap().unwrap(), state);
        }
        assert!(!sibling(&path, ".tmp").exists(), "the temporary file is renamed away");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        State::remove(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), None);
    }

    #[test]
    fn a_leftover_temporary_file_does_not_block_a_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotation.json");
        fs::write(sibling(&path, ".tmp"), "half a state").unwrap();
        state().save(&path, Step::Planned).unwrap();
        assert!(State::load(&path).unwrap().is_some());
    }

    #[test]
    fn foreign_or_future_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotation.json");
        fs::write(&path, "{\"journal\": 1}").unwrap();
        assert!(State::load(&path).unwrap_err().contains("not a rotation state"));
        let mut future = serde_json::to_value(state()).unwrap();
        future["version"] = 2.into();
        fs::write(&path, future.to_string()).unwrap();
        assert!(State::load(&path).unwrap_err().contains("version 2"));
    }

    #[cfg(unix)]
    #[test]
    fn one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rotation.json");
        let first = Lock::take(&path).unwrap();
        assert!(first.is_some());
        assert!(
            Lock::take(&path).unwrap().is_none(),
            "a second run is refused while the first holds it"
        );
        drop(first);
        assert!(Lock::take(&path).unwrap().is_some());
    }
}
