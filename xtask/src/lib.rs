//! The workspace's maintenance tasks, as a library so tests can drive them on temporary copies of the tree.
//!
//! `cargo xtask regen` turns the checked-in OpenAPI document into the progenitor client in
//! `client/src/generated.rs`; `cargo xtask regen --check` proves that file is exactly what the spec produces.

pub mod bench;
pub mod codegen;

use std::path::{Path, PathBuf};

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
