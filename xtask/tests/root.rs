//! The built `xtask` binary works on the checkout `CARGO_MANIFEST_DIR` names at run time, not on the one it was
//! compiled in: a copied checkout (or one sharing a target directory) must never read or write another one.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use xtask::codegen::{copy_inputs, GENERATED_PATH};

/// A temporary checkout holding copies of the spec and the generated client, and an empty `xtask/` directory.
fn copied_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(&xtask::workspace_root(), dir.path()).unwrap();
    fs::create_dir_all(dir.path().join("xtask")).unwrap();
    dir
}

fn xtask_in(tree: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("CARGO_MANIFEST_DIR", tree.join("xtask"))
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn regen_check_reads_the_tree_named_at_run_time() {
    let tree = copied_tree();
    let passed = xtask_in(tree.path(), &["regen", "--check"]);
    assert!(passed.status.success(), "{}", stderr(&passed));

    // Only the copy is edited: a binary that still read the checkout it was built in would pass.
    let generated = tree.path().join(GENERATED_PATH);
    let text = fs::read_to_string(&generated).unwrap();
    fs::write(
        &generated,
        text.replacen("pub struct ErrorResponse {", "pub struct ErrorResponse { // copy", 1),
    )
    .unwrap();
    let failed = xtask_in(tree.path(), &["regen", "--check"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr(&failed).contains("// copy"), "{}", stderr(&failed));
}

#[test]
fn regen_writes_the_tree_named_at_run_time_and_leaves_this_one_alone() {
    let tree = copied_tree();
    let ours = xtask::workspace_root().join(GENERATED_PATH);
    let ours_before = fs::read(&ours).unwrap();
    let generated = tree.path().join(GENERATED_PATH);
    fs::write(&generated, "// stale\n").unwrap();

    let output = xtask_in(tree.path(), &["regen"]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fs::read(&generated).unwrap(), ours_before, "the copy is regenerated");
    assert_eq!(fs::read(&ours).unwrap(), ours_before, "this checkout is untouched");
}

#[test]
fn without_the_variable_it_says_how_to_run_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["regen", "--check"])
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("CARGO_MANIFEST_DIR is not set") && message.contains("cargo xtask"),
        "{message}"
    );
}
