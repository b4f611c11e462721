//! `upstream diff`'s surface: the printed lines and the JSON report, the input formats, exit status 2 for what
//! cannot be compared, and escaping of what a document says.

use serde_json::{json, Value};

use crate::support::*;

#[test]
fn the_snapshot_against_itself_has_no_changes() {
    let tree = tree();
    let path = tree.path().join(xtask::upstream::snapshot::SNAPSHOT_PATH);
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("no changes"), "{}", stderr(&output));

    let (code, report) = diff_json(tree.path(), &snapshot());
    assert_eq!(code, 0);
    assert_eq!(report["changes"], json!([]));
}

#[test]
fn the_json_report_has_a_stable_shape() {
    let tree = tree();
    let mut document = snapshot();
    document["info"]["version"] = json!("v1.300.0");
    document["paths"][V2_PATH]["patch"]["deprecated"] = json!(true);
    let (code, report) = diff_json(tree.path(), &document);
    assert_eq!(code, 0);
    assert_eq!(report["snapshot"], json!({"version": "v1.244.0"}));
    assert_eq!(report["input"]["version"], "v1.300.0");
    assert_eq!(report["input"]["kind"], "document");
    assert!(report["input"]["source"].as_str().unwrap().ends_with("newer.json"));
    assert_eq!(report["breaking"], false);
    assert_eq!(report["counts"], json!({"breaking": 0, "warning": 1, "ok": 0}));
    assert_eq!(
        report["changes"],
        json!([{
            "operation": op("PATCH", V2_PATH),
            "called": true,
            "severity": "warning",
            "kind": "deprecation",
            "message": "the operation is now deprecated",
        }])
    );
}

#[test]
fn removing_the_v1_patch_breaks_and_names_the_path() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"][V1_PATH].as_object_mut().unwrap().remove("patch");
    let path = write(tree.path(), "newer.json", &document);

    let output = upstream(tree.path(), &["diff", path.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let lines = stdout(&output);
    assert_eq!(
        lines,
        format!("BREAKING  PATCH {V1_PATH}  no longer published; the client calls it\n"),
        "one line per change"
    );
    assert!(stderr(&output).contains("1 breaking"), "{}", stderr(&output));
}

#[test]
fn a_deprecation_is_a_warning_not_a_break() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"][V2_PATH]["patch"]["deprecated"] = json!(true);
    document["components"]["schemas"]["UpdateUserTokenV2Request"]["properties"]["ipsWhitelist"]["deprecated"] =
        json!(true);
    let path = write(tree.path(), "newer.json", &document);
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "warning   PATCH {V2_PATH}  the operation is now deprecated\n\
             warning   PATCH {V2_PATH}  request body: `ipsWhitelist` is now deprecated; the client sends it\n"
        )
    );
}

#[test]
fn yaml_input_is_read_like_json() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"][V1_PATH].as_object_mut().unwrap().remove("patch");
    let path = tree.path().join("newer.yaml");
    std::fs::write(&path, serde_norway::to_string(&document).unwrap()).unwrap();
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(
        changes_of(&report, "breaking"),
        [(op("PATCH", V1_PATH), "operation".to_owned())]
    );
}

#[test]
fn unreadable_or_invalid_input_exits_2_naming_the_file_and_the_reason() {
    let tree = tree();
    let missing = tree.path().join("missing.json");
    let garbage = tree.path().join("garbage.json");
    std::fs::write(&garbage, "{\"openapi\": ").unwrap();
    let swagger = write(
        tree.path(),
        "swagger.json",
        &json!({"swagger": "2.0", "info": {"version": "1"}, "paths": {}}),
    );
    let other_api = write(
        tree.path(),
        "other.json",
        &json!({"openapi": "3.0.1", "info": {"version": "v1.300.0"}, "paths": {"/api/v1/trading": {"get": {"responses": {}}}}}),
    );
    for (path, reason) in [
        (&missing, "cannot read the file"),
        (&garbage, "not valid JSON"),
        (&swagger, "`openapi` is missing"),
        (&other_api, "no agent-portfolio operation"),
    ] {
        for json in [false, true] {
            let mut args = vec!["diff", path.to_str().unwrap()];
            if json {
                args.push("--json");
            }
            let output = upstream(tree.path(), &args);
            assert_eq!(output.status.code(), Some(2), "{path:?}");
            assert_eq!(stdout(&output), "", "nothing on stdout for {path:?}");
            let message = stderr(&output);
            assert!(
                message.contains(path.to_str().unwrap()) && message.contains(reason),
                "{message}"
            );
        }
    }
}

#[test]
fn a_missing_snapshot_or_bad_usage_exits_2() {
    let tree = tree();
    std::fs::remove_file(tree.path().join(xtask::upstream::snapshot::SNAPSHOT_PATH)).unwrap();
    let path = write(tree.path(), "newer.json", &snapshot());
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap()]);
    assert_exit(&output, 2, "cargo xtask upstream import");

    let output = upstream(tree.path(), &["diff"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("required arguments were not provided") && stderr(&output).contains("<FILE|URL>"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn escape_sequences_in_a_document_never_reach_the_terminal() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"]["/api/v1/agent-portfolios/\u{1b}[2J\u{1b}]0;owned\u{7}"] =
        json!({"get": {"responses": {"200": {"description": ""}}}});
    let path = write(tree.path(), "newer.json", &document);
    let output = upstream(tree.path(), &["diff", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
    assert!(text.contains("\\u001b[2J"), "{text:?}");
}
