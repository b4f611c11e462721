//! `cargo xtask semver` on a temporary git copy of the checkout: a regen that removes a request field, committed
//! without a version bump, fails and names the change; the same change with the version bumped as semver requires
//! passes.
//!
//! Ignored by default: cargo-semver-checks builds the crate's rustdoc at two revisions, minutes on a cold cache.
//! CI runs it (`.ci/run`): `cargo test -p xtask --test semver -- --ignored`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::codegen::{regen, GENERATED_PATH, SPEC_PATH};

/// The tracked and untracked (not ignored) files of this checkout, copied into a new git repository with one
/// commit. Symbolic links stay links (the mock's spec is one).
fn git_copy() -> tempfile::TempDir {
    let root = xtask::workspace_root();
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(listed.status.success());
    let dir = tempfile::tempdir().unwrap();
    for file in listed.stdout.split(|&byte| byte == 0).filter(|name| !name.is_empty()) {
        let file = std::str::from_utf8(file).unwrap();
        let (from, to) = (root.join(file), dir.path().join(file));
        let Ok(meta) = fs::symlink_metadata(&from) else {
            continue;
        }; // deleted, not yet committed
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from).unwrap(), &to).unwrap();
        } else {
            fs::copy(&from, &to).unwrap();
        }
    }
    git(dir.path(), &["init", "--quiet"]);
    commit(dir.path(), "the checkout as it is");
    dir
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=semver test",
            "-c",
            "user.email=semver@test.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", message]);
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{file} should hold {from:?} once: update this test"
    );
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// `cargo xtask semver --baseline REV` in the copy, with the pinned checker on the `PATH` and a target directory
/// shared by every run (and kept in this checkout's `target/`, so that CI's second run starts warm).
fn semver(tree: &Path, tool: &Path, baseline: &str) -> Output {
    // The tool is a path in `.tools/bin`, or a bare name found on the `PATH` (no directory to add).
    let tool_dir = tool
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(Path::to_path_buf);
    let path = std::env::join_paths(
        tool_dir
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["semver", "--baseline", baseline])
        .env("CARGO_MANIFEST_DIR", tree.join("xtask"))
        .env("CARGO_TARGET_DIR", xtask::workspace_root().join("target/semver-test"))
        .env("PATH", path)
        .current_dir(tree)
        .output()
        .unwrap()
}

fn both(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
#[ignore = "builds rustdoc twice per run (minutes): CI runs it with --ignored"]
fn a_regen_that_removes_a_request_field_needs_a_breaking_version() {
    let tool: PathBuf = xtask::semver::ensure_tool(&xtask::workspace_root()).unwrap();
    let tree = git_copy();
    let root = tree.path();

    // The v2 update body loses `expiresAt`; the wrapper's one use of it goes too, as the regen's author would do.
    let spec = fs::read_to_string(root.join(SPEC_PATH)).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let properties = document
        .pointer_mut("/components/schemas/UpdateUserTokenV2Request/properties")
        .and_then(serde_json::Value::as_object_mut)
        .expect("the spec has UpdateUserTokenV2Request's properties: update this test");
    assert!(
        properties.remove("expiresAt").is_some(),
        "UpdateUserTokenV2Request has no expiresAt: update this test"
    );
    fs::write(root.join(SPEC_PATH), serde_json::to_string_pretty(&document).unwrap()).unwrap();
    regen(root, false).unwrap();
    assert!(fs::read_to_string(root.join(GENERATED_PATH))
        .unwrap()
        .contains("pub struct UpdateUserTokenV2Request"));
    edit(root, "client/src/update.rs", "            expires_at: body.expires_at,\n            ips_whitelist: body.ips_whitelist,\n            scope_names: body.scope_names,\n", "            ips_whitelist: body.ips_whitelist,\n            scope_names: body.scope_names,\n");
    commit(root, "spec: UpdateUserTokenV2Request without expiresAt (regen)");

    let unbumped = semver(root, &tool, "HEAD~1");
    let text = both(&unbumped);
    assert_eq!(unbumped.status.code(), Some(1), "{text}");
    assert!(
        text.contains("UpdateUserTokenV2Request") && text.contains("expires_at"),
        "names the change: {text}"
    );
    assert!(text.contains("Bump `version` in client/Cargo.toml"), "{text}");
    eprintln!("what a developer sees:\n{text}");

    // The same change, released as 0.2.0: breaking is what a 0.y bump allows.
    edit(
        root,
        "client/Cargo.toml",
        "\nversion = \"0.1.0\"\n",
        "\nversion = \"0.2.0\"\n",
    );
    commit(root, "etoro-client 0.2.0");
    let bumped = semver(root, &tool, "HEAD~2");
    assert!(bumped.status.success(), "{}", both(&bumped));
}
