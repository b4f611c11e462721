//! The mock's own reading of `openapi/etoro-user-tokens.json`, embedded at compile time: the JSON Schema of each
//! request body (compiled once per process, `$ref`s resolved within the document) and the statuses each
//! operation documents.
//!
//! Nothing here comes from `etoro-client`: the client is generated from the same document, and a mock that read
//! bodies through the client's types would share every serialization mistake the client makes.

use std::sync::LazyLock;

use axum::http::StatusCode;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::{json, Value};

use crate::error::ApiError;

/// The spec, as the repository holds it: `mock/etoro-user-tokens.json` is a symbolic link to
/// `openapi/etoro-user-tokens.json`, so that the packaged crate carries the file (`cargo package` copies what a
/// link points to) and never reads outside itself.
const SPEC: &str = include_str!("../etoro-user-tokens.json");

/// The longest `errorMessage` a schema violation gets: a violation quotes the offending value, which may be
/// megabytes long.
const MESSAGE_LIMIT: usize = 300;

/// The operations of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `GET /api/v1/agent-portfolios` (`listAgentPortfolios`).
    List,
    /// `PATCH /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (`updateUserToken`).
    UpdateV1,
    /// `DELETE /api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (`deleteUserToken`).
    Revoke,
    /// `PATCH /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}` (`updateUserTokenV2`).
    UpdateV2,
    /// `POST /api/v2/agent-portfolios/{agentPortfolioId}/user-tokens` (`createUserTokenV2`).
    Create,
    /// `GET /api/v2/agent-portfolios/user-tokens/scopes` (`getAllowedScopes`).
    Scopes,
}

impl Operation {
    const ALL: [Operation; 6] = [
        Operation::List,
        Operation::UpdateV1,
        Operation::Revoke,
        Operation::UpdateV2,
        Operation::Create,
        Operation::Scopes,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The path template and method, as the spec spells them.
    fn location(self) -> (&'static str, &'static str) {
        const TOKEN_V1: &str = "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}";
        match self {
            Operation::List => ("/api/v1/agent-portfolios", "get"),
            Operation::UpdateV1 => (TOKEN_V1, "patch"),
            Operation::Revoke => (TOKEN_V1, "delete"),
            Operation::UpdateV2 => (
                "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}",
                "patch",
            ),
            Operation::Create => ("/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens", "post"),
            Operation::Scopes => ("/api/v2/agent-portfolios/user-tokens/scopes", "get"),
        }
    }
}

/// What the mock reads from the spec, per operation (indexed by [`Operation::index`]).
struct Spec {
    /// The compiled schema of the request body, for the operations that take one.
    bodies: [Option<Validator>; 6],
    /// Whether the operation documents a 400 answer.
    documents_400: [bool; 6],
}

static READ: LazyLock<Spec> = LazyLock::new(|| match read(SPEC) {
    Ok(spec) => spec,
    // The document is part of the build and `tests::the_embedded_spec_reads` reads it on every test run, so
    // this cannot happen in a build that passed its tests.
    Err(err) => panic!("the embedded openapi/etoro-user-tokens.json cannot be read: {err}"),
});

fn read(text: &str) -> Result<Spec, String> {
    let document: Value = serde_json::from_str(text).map_err(|err| err.to_string())?;
    let mut bodies: [Option<Validator>; 6] = Default::default();
    let mut documents_400 = [false; 6];
    for operation in Operation::ALL {
        let (path, method) = operation.location();
        let described = &document["paths"][path][method];
        if !described.is_object() {
            return Err(format!("{} {path} is not in the spec", method.to_uppercase()));
        }
        documents_400[operation.index()] = described["responses"]["400"].is_object();
        let body = &described["requestBody"]["content"]["application/json"]["schema"];
        if body.is_null() {
            continue;
        }
        // The body's schema with the spec's components beside it, so that `#/components/...` resolves within
        // the document. OpenAPI 3.0 schemas are (nearly) JSON Schema draft 4, and the request schemas use none of
        // the OpenAPI-only keywords (`nullable` and the like).
        let schema = json!({ "$ref": body["$ref"], "components": document["components"] });
        let validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|err| format!("the body schema of {} {path}: {err}", method.to_uppercase()))?;
        bodies[operation.index()] = Some(validator);
    }
    Ok(Spec { bodies, documents_400 })
}

/// Compiles the schemas now rather than on the first request, so that the first request is not the slow one.
pub(crate) fn load() {
    LazyLock::force(&READ);
}

/// Whether `operation` documents a 400 answer.
pub(crate) fn documents_400(operation: Operation) -> bool {
    READ.documents_400[operation.index()]
}

/// Checks `body` against the request schema of `operation` (which must take one).
pub(crate) fn check_body(operation: Operation, body: &Value) -> Result<(), ApiError> {
    let Some(validator) = &READ.bodies[operation.index()] else {
        return Ok(());
    };
    // `is_valid` is the fast path; the first error is only worked out for a body that fails.
    if validator.is_valid(body) {
        return Ok(());
    }
    match validator.validate(body) {
        Ok(()) => Ok(()),
        Err(err) => Err(describe(operation, &err)),
    }
}

/// The answer to a schema violation: 400 with an `errorMessage` that names the field and the keyword.
///
/// eToro's own codes where the spec documents them: an empty update is `NoChangesDetected`; a create without
/// scope names is `ScopeIdsRequired` and one with a bad address `IpsWhitelistInvalidIp`. Anything else is
/// `ValidationFailed`.
fn describe(operation: Operation, err: &ValidationError<'_>) -> ApiError {
    let pointer = err.instance_path().as_str();
    let field = if pointer.is_empty() {
        "the body".to_owned()
    } else {
        pointer.trim_start_matches('/').to_owned()
    };
    let kind = err.kind();
    let keyword = kind.keyword();
    let (code, message) = match kind {
        ValidationErrorKind::MinProperties { .. } if pointer.is_empty() => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "NoChangesDetected",
                "At least one field must be provided",
            );
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names = unexpected.join("`, `");
            let hint = if operation == Operation::UpdateV2 && unexpected.iter().any(|n| n == "scopeIds") {
                ": scopeIds is not supported in v2, use scopeNames"
            } else {
                ""
            };
            (
                "ValidationFailed",
                format!("unknown field `{names}` in {field} ({keyword}: false){hint}"),
            )
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            if operation == Operation::Create && name == "scopeNames" {
                return ApiError::new(StatusCode::BAD_REQUEST, "ScopeIdsRequired", "ScopeNames is required");
            }
            ("ValidationFailed", format!("{name} is required ({keyword})"))
        }
        ValidationErrorKind::MinItems { .. } => ("ValidationFailed", format!("{field} must not be empty ({keyword})")),
        ValidationErrorKind::UniqueItems => (
            "ValidationFailed",
            format!("{field} must not contain duplicates ({keyword})"),
        ),
        ValidationErrorKind::Format { format }
            if operation == Operation::Create && format == "ipv4" && pointer.starts_with("/ipsWhitelist/") =>
        {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "IpsWhitelistInvalidIp",
                capped(format!(
                    "IpsWhitelist contains an invalid IP address: {field}: {err} ({keyword}: ipv4)"
                )),
            );
        }
        ValidationErrorKind::Format { format } => ("ValidationFailed", format!("{field}: {err} ({keyword}: {format})")),
        _ => ("ValidationFailed", format!("{field}: {err} ({keyword})")),
    };
    ApiError::new(StatusCode::BAD_REQUEST, code, capped(message))
}

/// `message`, cut to [`MESSAGE_LIMIT`] bytes on a character boundary.
fn capped(mut message: String) -> String {
    if message.len() > MESSAGE_LIMIT {
        let mut end = MESSAGE_LIMIT;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_reads() {
        let spec = read(SPEC).unwrap();
        let with_body: Vec<bool> = Operation::ALL
            .iter()
            .map(|o| spec.bodies[o.index()].is_some())
            .collect();
        assert_eq!(with_body, [false, true, false, true, true, false]);
        // Every operation documents a 400 (the lookups for a bad x-request-id).
        assert_eq!(spec.documents_400, [true; 6]);
    }

    #[test]
    fn a_missing_operation_is_named() {
        let err = read(r#"{"paths": {}, "components": {}}"#).err().unwrap();
        assert_eq!(err, "GET /api/v1/agent-portfolios is not in the spec");
    }

    fn refused(operation: Operation, body: Value) -> ApiError {
        check_body(operation, &body).unwrap_err()
    }

    #[test]
    fn violations_name_the_field_and_the_keyword() {
        let err = refused(Operation::UpdateV1, json!({"ipsWhitelist": ["::1"]}));
        assert_eq!(err.code, "ValidationFailed");
        assert!(
            err.message.starts_with("ipsWhitelist/0:") && err.message.ends_with("(format: ipv4)"),
            "{}",
            err.message
        );
        let err = refused(Operation::UpdateV1, json!({"scopeIds": ["200"]}));
        assert!(
            err.message.starts_with("scopeIds/0:") && err.message.ends_with("(type)"),
            "{}",
            err.message
        );
        let err = refused(Operation::UpdateV2, json!({"extra": 1}));
        assert_eq!(
            err.message,
            "unknown field `extra` in the body (additionalProperties: false)"
        );
        let err = refused(Operation::UpdateV2, json!({"scopeIds": [200]}));
        assert!(
            err.message.contains("scopeIds is not supported in v2"),
            "{}",
            err.message
        );
        let err = refused(Operation::UpdateV1, json!({"scopeNames": []}));
        assert_eq!(err.message, "scopeNames must not be empty (minItems)");
    }

    #[test]
    fn documented_codes_where_the_spec_has_them() {
        let err = refused(Operation::UpdateV1, json!({}));
        assert_eq!(
            (err.code, err.message.as_str()),
            ("NoChangesDetected", "At least one field must be provided")
        );
        let err = refused(Operation::Create, json!({"userTokenName": "a"}));
        assert_eq!(
            (err.code, err.message.as_str()),
            ("ScopeIdsRequired", "ScopeNames is required")
        );
        let err = refused(
            Operation::Create,
            json!({"userTokenName": "a", "scopeNames": ["x"], "ipsWhitelist": ["1.2.3"]}),
        );
        assert_eq!(err.code, "IpsWhitelistInvalidIp");
        // The same address in an update is a plain validation failure: eToro documents the code for create only.
        assert_eq!(
            refused(Operation::UpdateV2, json!({"ipsWhitelist": ["1.2.3"]})).code,
            "ValidationFailed"
        );
    }

    #[test]
    fn long_values_do_not_make_long_messages() {
        let err = refused(Operation::UpdateV1, json!({"ipsWhitelist": ["9".repeat(100_000)]}));
        assert!(err.message.len() <= MESSAGE_LIMIT + 3, "{}", err.message.len());
        let err = refused(
            Operation::UpdateV1,
            json!({"scopeNames": [format!("{} x", "é".repeat(1_000))]}),
        );
        assert!(err.message.ends_with("..."), "{}", err.message);
    }

    #[test]
    fn valid_bodies_pass() {
        for (operation, body) in [
            (Operation::UpdateV1, json!({"scopeIds": [211, 212]})),
            (Operation::UpdateV1, json!({"expiresAt": "2030-01-01T00:00:00+02:00"})),
            (
                Operation::UpdateV2,
                json!({"scopeNames": ["etoro-public:trade.real:read"]}),
            ),
            (
                Operation::Create,
                json!({"userTokenName": "my token", "scopeNames": ["a:b"], "ipsWhitelist": ["10.0.0.1"]}),
            ),
        ] {
            assert!(check_body(operation, &body).is_ok(), "{body}");
        }
    }
}
