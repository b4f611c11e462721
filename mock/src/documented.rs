//! eToro's documented error answers, operation by operation, as its API reference publishes them. A service's
//! tests replay them (from a `wiremock` or any local server) to check how it reacts to each one eToro may send;
//! this workspace's tests do the same through the library and through every command of the CLI.

use serde_json::{json, Value};

/// An operation of the agent-portfolio user-token API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `PATCH /api/v1/agent-portfolios/{id}/user-tokens/{id}`.
    UpdateV1,
    /// `PATCH /api/v2/agent-portfolios/{id}/user-tokens/{id}`.
    UpdateV2,
    /// `DELETE /api/v1/agent-portfolios/{id}/user-tokens/{id}`.
    Revoke,
    /// `POST /api/v2/agent-portfolios/{id}/user-tokens`.
    Create,
    /// `GET /api/v1/agent-portfolios`.
    List,
    /// `GET /api/v2/agent-portfolios/user-tokens/scopes`.
    Scopes,
}

/// One documented error answer: its status and the body's `errorCode` and `errorMessage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentedAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body's `errorCode`.
    pub error_code: &'static str,
    /// The body's `errorMessage`.
    pub error_message: &'static str,
}

impl DocumentedAnswer {
    const fn new(status: u16, error_code: &'static str, error_message: &'static str) -> Self {
        DocumentedAnswer {
            status,
            error_code,
            error_message,
        }
    }

    /// The answer's body, as eToro sends it.
    pub fn body(&self) -> Value {
        json!({"errorCode": self.error_code, "errorMessage": self.error_message})
    }
}

const NO_CHANGES: DocumentedAnswer =
    DocumentedAnswer::new(400, "NoChangesDetected", "At least one field must be provided");
const UNAUTHORIZED: DocumentedAnswer = DocumentedAnswer::new(401, "Unauthorized", "Unauthorized");
const NO_PORTFOLIO: DocumentedAnswer = DocumentedAnswer::new(404, "NotFound", "Agent-portfolio not found");
const NO_TOKEN: DocumentedAnswer = DocumentedAnswer::new(404, "NotFound", "User token not found");
const TOO_MANY: DocumentedAnswer = DocumentedAnswer::new(429, "TooManyRequests", "Too many requests");
const GLOBAL_ERROR: DocumentedAnswer = DocumentedAnswer::new(500, "UnhandledException", "Global Error");

/// Every documented error answer of every operation, in the reference's order (by status).
pub fn documented_answers() -> Vec<(Operation, DocumentedAnswer)> {
    use Operation::*;
    let per_operation: [(Operation, Vec<DocumentedAnswer>); 6] = [
        (
            UpdateV1,
            vec![
                NO_CHANGES,
                DocumentedAnswer::new(
                    400,
                    "ScopeIdNotAllowed",
                    "ScopeIds contains values not in the allowed set",
                ),
                UNAUTHORIZED,
                NO_PORTFOLIO,
                NO_TOKEN,
                TOO_MANY,
                GLOBAL_ERROR,
            ],
        ),
        (
            UpdateV2,
            vec![
                NO_CHANGES,
                UNAUTHORIZED,
                DocumentedAnswer::new(403, "ScopeNameNotAllowed", "Scope name not allowed"),
                NO_PORTFOLIO,
                NO_TOKEN,
                TOO_MANY,
                GLOBAL_ERROR,
            ],
        ),
        (
            Revoke,
            vec![
                DocumentedAnswer::new(400, "ValidationFailed", "Invalid agent-portfolio ID or user token ID"),
                UNAUTHORIZED,
                NO_PORTFOLIO,
                GLOBAL_ERROR,
            ],
        ),
        (
            Create,
            vec![
                DocumentedAnswer::new(400, "ScopeIdsRequired", "ScopeNames is required"),
                DocumentedAnswer::new(
                    400,
                    "IpsWhitelistInvalidIp",
                    "IpsWhitelist contains an invalid IPv4 address",
                ),
                UNAUTHORIZED,
                NO_PORTFOLIO,
                DocumentedAnswer::new(409, "UserKeyNameAlreadyExists", "UserKeyName already exists"),
                DocumentedAnswer::new(429, "MaxUserTokensExceeded", "Maximum number of user tokens exceeded"),
                GLOBAL_ERROR,
            ],
        ),
        (List, vec![UNAUTHORIZED, TOO_MANY, GLOBAL_ERROR]),
        (Scopes, vec![UNAUTHORIZED, TOO_MANY, GLOBAL_ERROR]),
    ];
    per_operation
        .into_iter()
        .flat_map(|(operation, answers)| answers.into_iter().map(move |answer| (operation, answer)))
        .collect()
}
