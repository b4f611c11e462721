//! Generates the progenitor client from the checked-in OpenAPI document.
//!
//! Settings, and why:
//! - **Builder interface**: every operation becomes `client.op().param(..).body(..).send()`. Adding an optional
//!   field or header to the spec adds a builder method instead of breaking every positional call site.
//! - **Inner type + expected hooks** (`crate::auth::Auth`, `HooksMode::Expected`): the hand-written wrapper
//!   implements `progenitor_client::ClientHooks` for the generated `Client`, and its `pre` hook adds the
//!   credentials to every request in one place. Progenitor ignores `securitySchemes`, so without the hook each
//!   call site would have to pass secrets; `Expected` turns a missing hook into a compile error instead of
//!   requests that silently go out unauthenticated. Injecting in the hook rather than as default headers of
//!   the `reqwest::Client` also works with a caller's own `reqwest::Client`.
//! - **`ScopeName` replaced by `crate::ScopeName`**: the spec's pattern would make typify generate a newtype that
//!   checks it with a regex engine (`regress`) on every conversion; the hand-written type checks the same rule
//!   (stricter: Unicode whitespace and C1 controls too) with plain character tests, gives an error that names the
//!   rule, and is the one place the rule lives in Rust. Measured by `cargo xtask bench`: about 1.3 µs a request.
//!   `UserTokenName` is replaced by `crate::TokenName` for the same reasons.
//! - **`UserTokenSecret` replaced by `crate::TokenSecret`**: a token's secret, held in a `SecretString`, so that
//!   even the generated `CreateUserTokenResponse` prints `[REDACTED]` in `Debug` and has no way to `Display` it.
//! - **Extra derives** `schemars::JsonSchema` (the mock and contract tests validate bodies against the
//!   generated types' schemas) and `PartialEq` (tests compare bodies as values).
//! - Output goes through `prettyplease`, so the checked-in file reads like ordinary Rust and diffs well, and
//!   `progenitor` is pinned to an exact version in `xtask/Cargo.toml` so every machine renders the same bytes.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;
use similar::{DiffTag, TextDiff};

/// The spec, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/etoro-user-tokens.json";
/// The generated client, relative to the workspace root.
pub const GENERATED_PATH: &str = "client/src/generated.rs";
/// The command that rewrites the generated file.
pub const REGEN_COMMAND: &str = "cargo xtask regen";

/// Everything that can go wrong while generating or checking.
#[derive(Debug)]
pub enum CodegenError {
    /// A file could not be read or written.
    Io { path: PathBuf, source: std::io::Error },
    /// The spec is not a valid OpenAPI 3.0 document.
    Spec { path: PathBuf, message: String },
    /// progenitor refused the spec.
    Generate(String),
    /// The checked-in generated file differs from what the spec produces.
    Drift(Drift),
}

/// Where the checked-in file and the freshly rendered one part ways.
#[derive(Debug)]
pub struct Drift {
    /// The generated file that is out of date.
    pub path: PathBuf,
    /// The first line (1-based) that differs.
    pub line: usize,
    /// That line as checked in (`None` past the end of the file).
    pub checked_in: Option<String>,
    /// That line as the spec produces it (`None` past the end of the output).
    pub expected: Option<String>,
    /// The first hunk of a unified diff, checked in (`-`) against the spec's output (`+`), cut at
    /// 40 lines.
    pub hunk: String,
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CodegenError::Spec { path, message } => {
                write!(f, "{} is not a valid OpenAPI 3.0 document: {message}", path.display())
            }
            CodegenError::Generate(message) => write!(f, "progenitor could not generate the client: {message}"),
            CodegenError::Drift(drift) => {
                let show = |line: &Option<String>| match line {
                    Some(text) => format!("| {text}"),
                    None => "(end of file)".to_owned(),
                };
                write!(
                    f,
                    "{} is out of date with {SPEC_PATH} (first difference at line {}):\n  checked in: {}\n  \
                     from spec:  {}\n{}\nRun `{REGEN_COMMAND}` and commit the result; never edit the generated file \
                     by hand.",
                    drift.path.display(),
                    drift.line,
                    show(&drift.checked_in),
                    show(&drift.expected),
                    drift.hunk,
                )
            }
        }
    }
}

impl std::error::Error for CodegenError {}

/// Renders the client source for `spec_json` (the text of an OpenAPI 3.0 document).
pub fn render(spec_json: &str, spec_path: &Path) -> Result<String, CodegenError> {
    let spec: openapiv3::OpenAPI = serde_json::from_str(spec_json).map_err(|err| CodegenError::Spec {
        path: spec_path.to_path_buf(),
        message: err.to_string(),
    })?;
    if !spec.openapi.starts_with("3.0.") {
        return Err(CodegenError::Spec {
            path: spec_path.to_path_buf(),
            message: format!("`openapi` is {:?}; this generator reads 3.0.x only", spec.openapi),
        });
    }

    let mut settings = GenerationSettings::new();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_inner_type(quote!(crate::auth::Auth))
        .with_hooks(HooksMode::Expected)
        .with_replacement(
            "ScopeName",
            "crate::ScopeName",
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        )
        .with_replacement(
            "UserTokenName",
            "crate::TokenName",
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        )
        // No `Display` or `FromStr`: the secret type has neither, so nothing generated can print it.
        .with_replacement("UserTokenSecret", "crate::TokenSecret", std::iter::empty())
        .with_derive("schemars::JsonSchema")
        .with_derive("PartialEq");
    let mut generator = Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .map_err(|err| CodegenError::Generate(err.to_string()))?;
    let file: syn::File = syn::parse2(tokens).map_err(|err| CodegenError::Generate(err.to_string()))?;

    Ok(format!(
        "// @generated by `{REGEN_COMMAND}` from {SPEC_PATH} with progenitor {}.\n\
         // Do not edit by hand: change the spec (or xtask/src/codegen.rs) and run `{REGEN_COMMAND}`.\n\n{}",
        PROGENITOR_VERSION,
        prettyplease::unparse(&file)
    ))
}

/// The progenitor version xtask pins (`=x.y.z` in `xtask/Cargo.toml`), named in the file header so a
/// reviewer sees a generator upgrade in the diff.
pub const PROGENITOR_VERSION: &str = "0.15.1";

/// Regenerates the client under `root` (a workspace checkout). With `check`, writes nothing and fails with
/// [`CodegenError::Drift`] when the checked-in file differs from what the spec produces.
pub fn regen(root: &Path, check: bool) -> Result<(), CodegenError> {
    let spec_path = root.join(SPEC_PATH);
    let out_path = root.join(GENERATED_PATH);
    let spec_json = read(&spec_path)?;
    let expected = render(&spec_json, Path::new(SPEC_PATH))?;

    if check {
        // A missing file is drift too, not an I/O failure: the fix is the same command.
        let actual = fs::read_to_string(&out_path).unwrap_or_default();
        // Git on Windows may check the file out with CRLF; that is not drift.
        let actual = actual.replace("\r\n", "\n");
        match first_difference(&actual, &expected) {
            None => Ok(()),
            Some(drift) => Err(CodegenError::Drift(drift)),
        }
    } else {
        fs::write(&out_path, expected).map_err(|source| CodegenError::Io { path: out_path, source })
    }
}

/// Copies what `regen` reads and writes (the spec and the generated client) from the checkout at `from` to the
/// same relative paths under `to`: the tree a test regenerates or checks instead of this checkout.
pub fn copy_inputs(from: &Path, to: &Path) -> std::io::Result<()> {
    for file in [SPEC_PATH, GENERATED_PATH] {
        let target = to.join(file);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from.join(file), target)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, CodegenError> {
    fs::read_to_string(path).map_err(|source| CodegenError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Lines of context around the first change in [`Drift::hunk`].
const CONTEXT_LINES: usize = 3;
/// At most this many lines of [`Drift::hunk`]: a generator upgrade can change thousands.
const MAX_HUNK_LINES: usize = 40;

/// Where `actual` (checked in) and `expected` (from the spec) first differ, by a line diff (`similar`'s Myers
/// diff): an inserted or deleted line is shown as such, not as every later line shifted.
fn first_difference(actual: &str, expected: &str) -> Option<Drift> {
    if actual == expected {
        return None;
    }
    // Lines without their terminators: a last line that lacks one is not a change of that line.
    let (old, new): (Vec<&str>, Vec<&str>) = (actual.split('\n').collect(), expected.split('\n').collect());
    let diff = TextDiff::from_slices(&old, &new);
    // Texts that differ differ in some line. Everything before the first change is equal, so it starts at the
    // same index on both sides.
    let first = diff.ops().iter().find(|op| op.tag() != DiffTag::Equal)?;
    let index = first.old_range().start;
    let line_at = |lines: &[&str]| lines.get(index).map(|line| (*line).to_owned());
    let hunk = diff
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .missing_newline_hint(false)
        .iter_hunks()
        .next()
        .map(|hunk| {
            let text = hunk.to_string();
            let mut lines: Vec<&str> = text.lines().take(MAX_HUNK_LINES + 1).collect();
            if lines.len() > MAX_HUNK_LINES {
                lines[MAX_HUNK_LINES] = "...";
            }
            lines.join("\n")
        })
        .unwrap_or_default();
    Some(Drift {
        path: PathBuf::from(GENERATED_PATH),
        line: index + 1,
        checked_in: line_at(&old),
        expected: line_at(&new),
        hunk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drift fails a plain `cargo test`, not only CI (rust-analyzer's habit).
    #[test]
    fn generated_client_is_up_to_date() {
        if let Err(err) = regen(&crate::workspace_root(), true) {
            panic!("{err}");
        }
    }

    /// The version named in the generated file's header is the one actually pinned.
    #[test]
    fn the_named_progenitor_version_is_the_pinned_one() {
        let manifest = include_str!("../Cargo.toml");
        let pin = format!("progenitor = {{ version = \"={PROGENITOR_VERSION}\"");
        assert!(
            manifest.contains(&pin),
            "xtask/Cargo.toml does not pin progenitor to ={PROGENITOR_VERSION}"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let spec = fs::read_to_string(crate::workspace_root().join(SPEC_PATH)).unwrap();
        let first = render(&spec, Path::new(SPEC_PATH)).unwrap();
        let second = render(&spec, Path::new(SPEC_PATH)).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn first_difference_names_the_line() {
        assert!(first_difference("a\nb\n", "a\nb\n").is_none());
        let changed = first_difference("a\nx\nc\n", "a\nb\nc\n").unwrap();
        assert_eq!(
            (changed.line, changed.checked_in, changed.expected),
            (2, Some("x".into()), Some("b".into()))
        );
        // The empty context line is what follows the last line terminator.
        assert_eq!(changed.hunk, "@@ -1,4 +1,4 @@\n a\n-x\n+b\n c\n ");
        let longer = first_difference("a", "a\nb").unwrap();
        assert_eq!(
            (longer.line, longer.checked_in, longer.expected),
            (2, None, Some("b".into()))
        );
    }

    #[test]
    fn an_inserted_line_is_shown_as_one_line_and_a_long_hunk_is_cut() {
        let checked_in: String = (0..100).map(|n| format!("line {n}\n")).collect();
        let from_spec = checked_in.replacen("line 50\n", "line 50\nnew\n", 1);
        let drift = first_difference(&checked_in, &from_spec).unwrap();
        assert_eq!(drift.line, 52);
        assert_eq!(
            drift.hunk.lines().filter(|line| line.starts_with(['+', '-'])).count(),
            1,
            "{}",
            drift.hunk
        );
        assert!(drift.hunk.contains("\n+new\n"), "{}", drift.hunk);

        let rewritten: String = (0..100).map(|n| format!("other {n}\n")).collect();
        let drift = first_difference(&checked_in, &rewritten).unwrap();
        assert_eq!(drift.hunk.lines().count(), MAX_HUNK_LINES + 1);
        assert!(drift.hunk.ends_with("\n..."), "{}", drift.hunk);
    }
}
