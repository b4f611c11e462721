//! One file, one role: the files a command is given (`--from`, `--journal`, `--state`, `--secret-file`, `--log`,
//! `--seed-file`) must all be different files, or one role would write into another's file (a journal appended
//! to the desired state, a secret written over the rotation's state).
//!
//! Two paths name the same file when they are the same file on disk (device and inode: hard links, symbolic
//! links, `./x` and `x`), or, for a file that does not exist yet, when their canonical parent directory and file
//! name are the same. Checked before anything is opened, created or sent.

use std::path::{Path, PathBuf};

/// What identifies the file a path names.
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    /// The file's device and inode, when it exists (Unix).
    inode: Option<(u64, u64)>,
    /// The canonical path: of the file when it exists, else of its parent joined with its name.
    canonical: PathBuf,
}

impl Identity {
    /// `None` for standard input or output (`-`), which is no file of its own.
    fn of(path: &Path) -> Option<Identity> {
        if path.as_os_str() == "-" {
            return None;
        }
        let inode = inode(path);
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| not_yet_created(path));
        Some(Identity { inode, canonical })
    }

    fn same_file(&self, other: &Identity) -> bool {
        matches!((self.inode, other.inode), (Some(a), Some(b)) if a == b) || self.canonical == other.canonical
    }
}

#[cfg(unix)]
fn inode(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|meta| (meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn inode(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// The canonical parent of a path that does not exist (yet), joined with its file name; lexically absolute when
/// the parent does not exist either.
fn not_yet_created(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|parent| parent.join(name))
            .unwrap_or(absolute),
        _ => absolute,
    }
}

/// Refuses two roles given the same file: `roles` pairs each flag with its path, if given. The message names both
/// flags and the path.
pub fn one_file_one_role(roles: &[(&str, Option<&Path>)]) -> Result<(), String> {
    let known: Vec<(&str, &Path, Identity)> = roles
        .iter()
        .filter_map(|(flag, path)| {
            let path = (*path)?;
            Identity::of(path).map(|identity| (*flag, path, identity))
        })
        .collect();
    for (index, (flag, path, identity)) in known.iter().enumerate() {
        if let Some((other, other_path, _)) = known[..index]
            .iter()
            .find(|(_, _, earlier)| earlier.same_file(identity))
        {
            let shown = if path == other_path {
                format!("{}", path.display())
            } else {
                format!("{} and {}", other_path.display(), path.display())
            };
            return Err(format!(
                "{other} and {flag} name the same file ({shown}): each needs a file of its own (nothing was sent)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(roles: &[(&str, &Path)]) -> Result<(), String> {
        let roles: Vec<(&str, Option<&Path>)> = roles.iter().map(|(flag, path)| (*flag, Some(*path))).collect();
        one_file_one_role(&roles)
    }

    #[test]
    fn the_same_file_by_any_name_is_refused_and_different_files_pass() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("desired.jsonl");
        std::fs::write(&from, "{}\n").unwrap();
        let journal = dir.path().join("apply.journal");
        assert_eq!(check(&[("--from", &from), ("--journal", &journal)]), Ok(()));

        let err = check(&[("--from", &from), ("--journal", &from)]).unwrap_err();
        assert!(err.starts_with("--from and --journal name the same file"), "{err}");
        let dotted = dir.path().join(".").join("desired.jsonl");
        assert!(check(&[("--from", &from), ("--journal", &dotted)]).is_err(), "./x is x");
        let hard = dir.path().join("hard-link");
        std::fs::hard_link(&from, &hard).unwrap();
        assert!(
            check(&[("--from", &from), ("--journal", &hard)]).is_err(),
            "a hard link"
        );
        #[cfg(unix)]
        {
            let soft = dir.path().join("soft-link");
            std::os::unix::fs::symlink(&from, &soft).unwrap();
            assert!(
                check(&[("--journal", &soft), ("--from", &from)]).is_err(),
                "a symbolic link"
            );
        }
    }

    #[test]
    fn files_not_created_yet_are_compared_by_their_canonical_parent_and_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let plain = dir.path().join("new.secret");
        let roundabout = dir.path().join("sub").join("..").join("new.secret");
        let err = check(&[("--secret-file", &plain), ("--state", &roundabout)]).unwrap_err();
        assert!(err.contains("--secret-file and --state"), "{err}");
        let other = dir.path().join("new.state");
        assert_eq!(check(&[("--secret-file", &plain), ("--state", &other)]), Ok(()));
        let nowhere = dir.path().join("missing-dir").join("x");
        assert!(check(&[("--log", &nowhere), ("--seed-file", &nowhere)]).is_err());
    }

    #[test]
    fn standard_input_and_absent_flags_take_no_file() {
        let dash = Path::new("-");
        assert_eq!(check(&[("--from", dash), ("--journal", dash)]), Ok(()));
        assert_eq!(
            one_file_one_role(&[("--from", None), ("--journal", None), ("--log", Some(Path::new("x")))]),
            Ok(())
        );
    }
}
