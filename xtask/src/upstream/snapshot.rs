//! The committed snapshot, `openapi/upstream/etoro-agent-portfolios.json`: importing a whole document or a
//! one-operation page into it.
//!
//! - A **whole document** replaces the snapshot: operations it no longer lists leave the snapshot, and
//!   `info.version` becomes its version.
//! - A **one-operation page** (eToro publishes one OpenAPI document per operation) replaces only the operations it
//!   contains; the others, and `info.version` (the last whole document), stay. The page's components overwrite
//!   same-named ones (a newer release's definition of a shared schema applies to every operation using it), and
//!   components nothing references any more are dropped. The page's top-level `security` is copied onto its
//!   operations, so the snapshot's own top-level `security` cannot change what they require.
//! - Every operation carries `x-upstream-version`, the release it was last imported from.
//! - A document older than what the snapshot already holds is refused, so the snapshot never moves backwards.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use serde_json::{Map, Value};

use super::normalize::{self, METHODS, SEEN_IN};
use super::source::{self, InputError};

/// The snapshot, relative to the workspace root.
pub const SNAPSHOT_PATH: &str = "openapi/upstream/etoro-agent-portfolios.json";

/// What kind of document was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole published document: it lists every operation that exists.
    Document,
    /// A page about some operations only: the others are not known to be gone.
    Page,
}

impl Kind {
    /// `forced`, or else a page when the document holds exactly one operation (on any path).
    pub fn detect(document: &Value, forced: Option<Kind>) -> Kind {
        forced.unwrap_or(if normalize::operation_count(document) == 1 {
            Kind::Page
        } else {
            Kind::Document
        })
    }

    /// The name used in output (`document` or `page`).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Document => "document",
            Kind::Page => "page",
        }
    }
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// Whole document or page.
    pub kind: Kind,
    /// The input's `info.version`.
    pub version: String,
    /// The operations taken from the input (`METHOD /path`).
    pub operations: Vec<String>,
    /// The snapshot file written.
    pub path: PathBuf,
    /// Whether the file's bytes changed.
    pub changed: bool,
}

/// Reads and checks the snapshot under `root`.
pub fn read(root: &Path) -> Result<Value, InputError> {
    let path = root.join(SNAPSHOT_PATH);
    let bytes = fs::read(&path).map_err(|err| {
        InputError::new(
            SNAPSHOT_PATH,
            format!("cannot read the snapshot ({err}); create it with `cargo xtask upstream import <FILE>`"),
        )
    })?;
    source::parse(&bytes).map_err(|reason| InputError::new(SNAPSHOT_PATH, reason))
}

/// Imports `input` (a checked OpenAPI document) into the snapshot under `root`.
pub fn import(root: &Path, input: &Value, kind: Kind) -> Result<Imported, String> {
    let normalized = normalize::normalize(input)?;
    let version = normalize::version_of(input).to_owned();
    let path = root.join(SNAPSHOT_PATH);
    let existing = if path.exists() {
        Some(read(root).map_err(|err| err.to_string())?)
    } else {
        None
    };
    let updated = match (kind, &existing) {
        (Kind::Document, existing) => {
            if let Some(existing) = existing {
                refuse_older(&version, &newest_seen(existing), "the snapshot")?;
            }
            normalized.clone()
        }
        (Kind::Page, None) => {
            return Err(format!(
                "{SNAPSHOT_PATH} does not exist yet: import a whole document first, then pages on top of it"
            ))
        }
        (Kind::Page, Some(existing)) => merge_page(existing, &normalized, input)?,
    };
    let text = normalize::render(&updated);
    let changed = fs::read(&path).map(|old| old != text.as_bytes()).unwrap_or(true);
    if changed {
        write_atomically(&path, &text)?;
    }
    Ok(Imported {
        kind,
        version,
        operations: operations(&normalized)
            .into_iter()
            .map(|(method, path, _)| format!("{} {path}", method.to_uppercase()))
            .collect(),
        path,
        changed,
    })
}

/// The snapshot with the page's operations (and the components they need) in place of its own.
pub fn merge_page(snapshot: &Value, page: &Value, page_source: &Value) -> Result<Value, String> {
    let version = normalize::version_of(page_source);
    let mut paths = snapshot["paths"].as_object().cloned().unwrap_or_default();
    for (method, path, operation) in operations(page) {
        let slot = paths.entry(path.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let Some(seen) = slot.get(&method).and_then(|op| op.get(SEEN_IN)).and_then(Value::as_str) {
            refuse_older(
                version,
                seen,
                &format!("the snapshot's {} {path}", method.to_uppercase()),
            )?;
        }
        let mut operation = operation.clone();
        if operation.get("security").is_none() {
            match (page.get("security"), snapshot.get("security")) {
                (Some(security), _) => operation["security"] = security.clone(),
                // The page's operation needs no credentials; say so, or the snapshot's top-level rule would apply.
                (None, Some(_)) => operation["security"] = Value::Array(Vec::new()),
                (None, None) => {}
            }
        }
        if let Some(slot) = slot.as_object_mut() {
            slot.insert(method, operation);
        }
    }
    let mut components = snapshot
        .get("components")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (kind, entries) in page.get("components").and_then(Value::as_object).into_iter().flatten() {
        let target = components
            .entry(kind.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        for (name, value) in entries.as_object().into_iter().flatten() {
            if let Some(target) = target.as_object_mut() {
                target.insert(name.clone(), value.clone());
            }
        }
    }
    normalize::assemble(
        snapshot["openapi"].as_str().unwrap_or("3.0.1"),
        normalize::version_of(snapshot),
        snapshot.get("servers").cloned(),
        snapshot.get("security").cloned(),
        paths,
        &components,
    )
}

/// Every operation of a normalized document: (method, path, operation).
pub fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in document.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                out.push(((*method).to_owned(), path.clone(), operation));
            }
        }
    }
    out
}

/// The newest release any part of the snapshot was imported from.
fn newest_seen(snapshot: &Value) -> String {
    let mut newest = normalize::version_of(snapshot).to_owned();
    for (_, _, operation) in operations(snapshot) {
        if let Some(seen) = operation.get(SEEN_IN).and_then(Value::as_str) {
            if compare_versions(seen, &newest) == Some(std::cmp::Ordering::Greater) {
                newest = seen.to_owned();
            }
        }
    }
    newest
}

fn refuse_older(version: &str, held: &str, what: &str) -> Result<(), String> {
    if compare_versions(version, held) == Some(std::cmp::Ordering::Less) {
        return Err(format!(
            "the input is {version:?}, older than {what} ({held:?}): the snapshot only moves forward"
        ));
    }
    Ok(())
}

/// Compares eToro release names (`v1.244.0`) numerically; `None` when either is not of that form.
pub fn compare_versions(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    fn parse(version: &str) -> Option<Vec<u64>> {
        let version = version.trim().trim_start_matches(['v', 'V']);
        version.split('.').map(|part| part.parse().ok()).collect()
    }
    Some(parse(a)?.cmp(&parse(b)?))
}

/// Writes through a temporary file in the same directory and a rename, so a reader (or a second import running
/// at the same time) sees the old snapshot or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let temporary = dir.join(format!(
        ".{}.{}-{}.tmp",
        path.file_name().and_then(|name| name.to_str()).unwrap_or("snapshot"),
        std::process::id(),
        COUNTER.fetch_add(1, AtomicOrdering::Relaxed)
    ));
    fs::write(&temporary, text).map_err(|err| format!("cannot write {}: {err}", temporary.display()))?;
    fs::rename(&temporary, path).map_err(|err| {
        let _ = fs::remove_file(&temporary);
        format!("cannot write {}: {err}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("v1.279.0", "v1.244.0"), Some(Ordering::Greater));
        assert_eq!(compare_versions("v1.99.0", "v1.100.0"), Some(Ordering::Less));
        assert_eq!(compare_versions("v1.244.0", "1.244.0"), Some(Ordering::Equal));
        assert_eq!(compare_versions("latest", "v1.0.0"), None);
    }
}
