//! The workspace's maintenance tasks, as a library so tests can drive them on temporary copies of the tree.
//!
//! `cargo xtask regen` turns the checked-in OpenAPI document into the progenitor client in
//! `client/src/generated.rs`; `cargo xtask regen --check` proves that file is exactly what the spec produces.
//! `cargo xtask upstream import|diff` keeps a facts-only snapshot of eToro's published description and says
//! whether a newer one breaks this client. `cargo xtask semver` says whether `etoro-client`'s version allows how its
//! public API changed since a baseline revision.

pub mod bench;
pub mod cli;
pub mod codegen;
pub mod semver;
pub mod upstream;

use std::path::PathBuf;

/// The variable `cargo run` (and `cargo test`) sets to the running package's manifest directory.
pub const MANIFEST_DIR_VAR: &str = "CARGO_MANIFEST_DIR";

/// The workspace root: the parent of the running package's manifest directory, read at run time.
///
/// A compile-time `env!("CARGO_MANIFEST_DIR")` would name the checkout the binary was first built in: cargo does
/// not rebuild a workspace member when the checkout moves, so with a shared target directory, or in a copied
/// checkout that kept its `target/`, `cargo xtask regen` would read and write another checkout. `cargo run` sets
/// the variable on every run (rust-analyzer's xtask `project_root()` reads it the same way). Both packages that
/// call this, `xtask` and the `tests` crate, sit one level below the root.
pub fn try_workspace_root() -> Result<PathBuf, String> {
    let manifest_dir = std::env::var_os(MANIFEST_DIR_VAR)
        .filter(|dir| !dir.is_empty())
        .ok_or_else(|| {
            format!(
                "{MANIFEST_DIR_VAR} is not set, so the workspace root is unknown: run this through `cargo xtask ...` \
             (cargo sets it), or set {MANIFEST_DIR_VAR} to the checkout's xtask/ directory"
            )
        })?;
    let manifest_dir = PathBuf::from(manifest_dir);
    manifest_dir.parent().map(PathBuf::from).ok_or_else(|| {
        format!(
            "{MANIFEST_DIR_VAR} is {}, which has no parent directory; it must name the checkout's xtask/ directory",
            manifest_dir.display()
        )
    })
}

/// [`try_workspace_root`] for tests and other callers that cannot go on without the root.
///
/// # Panics
///
/// When `CARGO_MANIFEST_DIR` is not set (outside `cargo run` / `cargo test`), with the message of
/// [`try_workspace_root`].
pub fn workspace_root() -> PathBuf {
    try_workspace_root().unwrap_or_else(|message| panic!("{message}"))
}
