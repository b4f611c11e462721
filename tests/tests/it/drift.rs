//! Drift between the spec and the generated client is caught: the check runs on temporary copies of the tree,
//! the way rust-analyzer tests its generators, instead of rebuilding the workspace inside a test.

use std::fs;
use std::path::Path;

use xtask::codegen::{copy_inputs, regen, CodegenError, GENERATED_PATH, SPEC_PATH};

/// A temporary tree holding copies of the spec and the generated file, at their real relative paths.
fn copy_of_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(&xtask::workspace_root(), dir.path()).unwrap();
    dir
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(from),
        "{file} no longer contains {from:?}: update this test"
    );
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_untouched_tree_passes() {
    let tree = copy_of_tree();
    regen(tree.path(), true).unwrap();
}

#[test]
fn a_changed_spec_is_drift() {
    let tree = copy_of_tree();
    edit(tree.path(), SPEC_PATH, "\"scopeNames\": {", "\"scopeNamesV2\": {");

    let err = regen(tree.path(), true).unwrap_err();

    let CodegenError::Drift(drift) = &err else {
        panic!("{err}")
    };
    assert_eq!(drift.path, Path::new(GENERATED_PATH));
    let message = err.to_string();
    assert!(
        message.contains("cargo xtask regen") && message.contains(GENERATED_PATH),
        "{message}"
    );
}

#[test]
fn a_hand_edited_generated_file_is_drift_at_the_edited_line() {
    let tree = copy_of_tree();
    let original = fs::read_to_string(tree.path().join(GENERATED_PATH)).unwrap();
    let target = "pub struct UpdateUserTokenRequest {";
    let line = original.lines().position(|l| l.contains(target)).unwrap() + 1;
    edit(
        tree.path(),
        GENERATED_PATH,
        target,
        "pub struct UpdateUserTokenRequest { // tweaked",
    );

    let CodegenError::Drift(drift) = regen(tree.path(), true).unwrap_err() else {
        panic!()
    };
    assert_eq!(drift.line, line);
    assert!(drift.checked_in.as_deref().unwrap().contains("tweaked"));
}

#[test]
fn a_deleted_generated_file_is_drift() {
    let tree = copy_of_tree();
    fs::remove_file(tree.path().join(GENERATED_PATH)).unwrap();
    assert!(matches!(regen(tree.path(), true), Err(CodegenError::Drift(_))));
}

#[test]
fn check_writes_nothing_and_regen_repairs() {
    let tree = copy_of_tree();
    edit(
        tree.path(),
        GENERATED_PATH,
        "pub struct ErrorResponse {",
        "pub struct ErrorResponse { // tweaked",
    );
    let edited = fs::read_to_string(tree.path().join(GENERATED_PATH)).unwrap();

    assert!(regen(tree.path(), true).is_err());
    assert_eq!(
        fs::read_to_string(tree.path().join(GENERATED_PATH)).unwrap(),
        edited,
        "--check must not write"
    );

    regen(tree.path(), false).unwrap();
    regen(tree.path(), true).unwrap();
}

#[test]
fn an_invalid_spec_is_reported_as_such() {
    let tree = copy_of_tree();
    edit(
        tree.path(),
        SPEC_PATH,
        "\"openapi\": \"3.0.3\"",
        "\"openapi\": \"3.1.0\"",
    );
    assert!(matches!(regen(tree.path(), true), Err(CodegenError::Spec { .. })));
}

#[test]
fn the_generator_is_pinned_exactly() {
    let manifest = fs::read_to_string(xtask::workspace_root().join("xtask/Cargo.toml")).unwrap();
    let pin = format!("progenitor = {{ version = \"={}\"", xtask::codegen::PROGENITOR_VERSION);
    assert!(manifest.contains(&pin), "xtask/Cargo.toml must pin {pin}");
    let lock = fs::read_to_string(xtask::workspace_root().join("Cargo.lock")).unwrap();
    let locked = format!(
        "name = \"progenitor\"\nversion = \"{}\"",
        xtask::codegen::PROGENITOR_VERSION
    );
    assert!(
        lock.contains(&locked),
        "Cargo.lock must be committed and lock progenitor"
    );
}
