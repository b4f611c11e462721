//! `cargo xtask semver [--baseline REV]`: does the version in `client/Cargo.toml` allow how `etoro-client`'s public
//! API changed since a baseline revision?
//!
//! A regen is the usual way the API changes without anyone writing Rust: a field removed from the spec, or a new
//! progenitor, changes the generated types that services use. cargo-semver-checks compares the rustdoc of the
//! crate in the working tree with the one at the baseline and judges each change against the two versions (for
//! `0.y.z`, a breaking change needs `y` bumped). It is pinned, like progenitor, and installed into the checkout's
//! `.tools/` when the machine does not have that version: the same checks on every machine.
//!
//! The baseline is, by default, the last release tag (`etoro-client-v*`, the newest reachable from HEAD), else
//! the previous commit. When the version is the baseline's, the change is judged as a patch release: left to
//! itself, cargo-semver-checks would assume the next minor, which for `0.y.z` allows breaking changes, so a regen
//! that removes a field would pass unannounced.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The crate whose API is checked.
pub const PACKAGE: &str = "etoro-client";
/// The checker, and the exact version every machine runs.
pub const TOOL: &str = "cargo-semver-checks";
/// The pinned version of [`TOOL`] (its rustdoc JSON support follows the toolchain: bump it with the toolchain).
pub const TOOL_VERSION: &str = "0.51.0";
/// Release tags: `etoro-client-v0.2.0`.
pub const TAG_PATTERN: &str = "etoro-client-v*";
/// Where [`TOOL`] is installed when missing, relative to the workspace root (ignored by git).
pub const TOOLS_DIR: &str = ".tools";
/// The manifest holding the version, relative to the workspace root.
pub const MANIFEST: &str = "client/Cargo.toml";

/// Runs the task against `requested` (`--baseline REV`), or the default baseline.
pub fn run(root: &Path, requested: Option<&str>) -> Result<(), String> {
    let (baseline, why) = baseline(root, requested)?;
    let current = package_version(
        &std::fs::read_to_string(root.join(MANIFEST)).map_err(|err| format!("cannot read {MANIFEST}: {err}"))?,
    )
    .ok_or_else(|| format!("{MANIFEST} has no version = \"X.Y.Z\" in its [package] table"))?;
    let before = package_version(&git(root, &["show", &format!("{baseline}:{MANIFEST}")])?)
        .ok_or_else(|| format!("{MANIFEST} at {baseline} has no version = \"X.Y.Z\" in its [package] table"))?;
    let tool = ensure_tool(root)?;
    eprintln!(
        "semver: {PACKAGE} {current} in the working tree against {before} at {baseline} ({why}), {TOOL} {TOOL_VERSION}"
    );
    let mut command = Command::new(&tool);
    command
        .args([
            "semver-checks",
            "check-release",
            "--package",
            PACKAGE,
            "--baseline-rev",
            &baseline,
        ])
        // The public API does not depend on the TLS backend: the default features are the ones services build.
        .arg("--default-features")
        .current_dir(root);
    if current == before {
        eprintln!("semver: the version is the baseline's: judged as a patch release (no breaking change allowed)");
        command.args(["--release-type", "patch"]);
    }
    let status = command
        .status()
        .map_err(|err| format!("cannot run {}: {err}", tool.display()))?;
    if status.success() {
        return Ok(());
    }
    Err(format!(
        "{PACKAGE} {current}: its public API changed against {before} ({baseline}) in a way this version does not \
         allow, or the check could not run ({status}); each change is named above. Bump `version` in {MANIFEST} as \
         semver requires (a breaking change: {}; README, \"Versioning\") and say what changed in CHANGELOG.md",
        breaking_bump(&before).unwrap_or_else(|| "the next major".to_owned())
    ))
}

/// The `version` of a manifest's `[package]` table (our own manifests: `version = "X.Y.Z"` on a line of its own).
fn package_version(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            let value = line
                .strip_prefix("version")
                .map(str::trim_start)
                .and_then(|rest| rest.strip_prefix('='));
            if let Some(value) = value {
                return value.trim().strip_prefix('"')?.strip_suffix('"').map(str::to_owned);
            }
        }
    }
    None
}

/// The smallest version after `version` that may break the API: `0.(y+1).0` below 1.0, `(x+1).0.0` from 1.0.
fn breaking_bump(version: &str) -> Option<String> {
    let mut parts = version.split(['.', '-', '+']).take(2).map(str::parse::<u64>);
    let (major, minor) = (parts.next()?.ok()?, parts.next()?.ok()?);
    Some(if major == 0 {
        format!("0.{}.0", minor + 1)
    } else {
        format!("{}.0.0", major + 1)
    })
}

/// The revision to compare with, resolved to a commit, and why it was chosen.
fn baseline(root: &Path, requested: Option<&str>) -> Result<(String, String), String> {
    if let Some(rev) = requested {
        let commit = git(
            root,
            &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")],
        )
        .map_err(|_| format!("--baseline {rev}: not a revision of this repository"))?;
        return Ok((commit, format!("--baseline {rev}")));
    }
    if let Ok(tag) = git(
        root,
        &["describe", "--tags", "--abbrev=0", "--match", TAG_PATTERN, "HEAD"],
    ) {
        let commit = git(root, &["rev-parse", "--verify", &format!("{tag}^{{commit}}")])?;
        return Ok((commit, format!("the last release tag, {tag}")));
    }
    let commit = git(root, &["rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"])
        .map_err(|_| format!("no release tag ({TAG_PATTERN}) and no previous commit: give --baseline REV"))?;
    Ok((commit, "no release tag yet: the previous commit".to_owned()))
}

/// `git <args>` in `root`; its trimmed standard output.
fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run git: {err}"))?;
    if !output.status.success() {
        return Err(format!("git {} failed", args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The pinned checker: the one in `.tools/`, else one on the `PATH`, else installed into `.tools/` now.
///
/// # Errors
///
/// When cargo cannot install it, or what it installed reports another version.
pub fn ensure_tool(root: &Path) -> Result<PathBuf, String> {
    let local = root.join(TOOLS_DIR).join("bin").join(TOOL);
    for candidate in [local.clone(), PathBuf::from(TOOL)] {
        if version_of(&candidate).as_deref() == Some(TOOL_VERSION) {
            return Ok(candidate);
        }
    }
    eprintln!("semver: installing {TOOL} {TOOL_VERSION} into {TOOLS_DIR}/ (once; a few minutes)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["install", "--locked", "--quiet", "--root"])
        .arg(root.join(TOOLS_DIR))
        .arg(format!("{TOOL}@{TOOL_VERSION}"))
        // Its own target directory, so that the workspace's is not filled with the checker's dependencies.
        .env("CARGO_TARGET_DIR", root.join(TOOLS_DIR).join("target"))
        .status()
        .map_err(|err| format!("cannot run cargo install: {err}"))?;
    if !status.success() {
        return Err(format!(
            "cargo install --locked {TOOL}@{TOOL_VERSION} failed ({status})"
        ));
    }
    match version_of(&local) {
        Some(version) if version == TOOL_VERSION => Ok(local),
        other => Err(format!(
            "{} reports version {other:?} after install, not {TOOL_VERSION}",
            local.display()
        )),
    }
}

/// The version `<tool> --version` reports (`cargo-semver-checks 0.51.0`), if it runs.
fn version_of(tool: &Path) -> Option<String> {
    let output = Command::new(tool)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().strip_prefix(TOOL)?.trim();
    output.status.success().then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_line_is_read() {
        // `true` prints nothing: no version, so the pinned one gets installed.
        assert_eq!(version_of(Path::new("true")), None);
        assert_eq!(version_of(Path::new("/nonexistent/cargo-semver-checks")), None);
    }

    #[test]
    fn the_package_version_is_read_from_its_table_only() {
        let manifest = "[package]\nname = \"etoro-client\"\nversion = \"0.3.1\"\n\n[dependencies]\nversion = \"9\"\n";
        assert_eq!(package_version(manifest).as_deref(), Some("0.3.1"));
        assert_eq!(package_version("[dependencies]\nversion = \"1.0.0\"\n"), None);
        assert_eq!(package_version("[package]\nversion.workspace = true\n"), None);
    }

    #[test]
    fn a_breaking_change_needs_the_next_minor_below_one_and_the_next_major_after() {
        assert_eq!(breaking_bump("0.1.0").as_deref(), Some("0.2.0"));
        assert_eq!(breaking_bump("0.9.3-rc.1").as_deref(), Some("0.10.0"));
        assert_eq!(breaking_bump("1.4.2").as_deref(), Some("2.0.0"));
        assert_eq!(breaking_bump("x"), None);
    }
}
