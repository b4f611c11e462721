//! What this client calls and sends, read from its own spec (`openapi/etoro-user-tokens.json`): the operations,
//! their parameters, bodies and responses, and the headers its credentials travel in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::normalize::METHODS;
use super::source::{self, InputError};
use crate::codegen::SPEC_PATH;

/// An operation's identity across documents: the method and the path with its parameter names blanked
/// (`/a/{}/b`), so that renaming a path parameter does not make a different URL.
pub type OpKey = (String, String);

/// The [`OpKey`] of `method` on `path`.
pub fn op_key(method: &str, path: &str) -> OpKey {
    let mut blanked = String::with_capacity(path.len());
    let mut in_parameter = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_parameter = true;
                blanked.push('{');
            }
            '}' if in_parameter => {
                in_parameter = false;
                blanked.push('}');
            }
            _ if in_parameter => {}
            c => blanked.push(c),
        }
    }
    (method.to_ascii_uppercase(), blanked)
}

/// The client's spec, indexed by operation.
pub struct ClientUsage {
    spec: Value,
    operations: BTreeMap<OpKey, (String, String)>,
    credential_headers: BTreeSet<String>,
}

impl ClientUsage {
    /// Reads the client's spec under `root`.
    pub fn load(root: &Path) -> Result<Self, InputError> {
        let bytes = std::fs::read(root.join(SPEC_PATH))
            .map_err(|err| InputError::new(SPEC_PATH, format!("cannot read the client's spec: {err}")))?;
        let spec = source::parse(&bytes).map_err(|reason| InputError::new(SPEC_PATH, reason))?;
        Ok(Self::from_spec(spec))
    }

    /// Indexes an already parsed spec.
    pub fn from_spec(spec: Value) -> Self {
        let mut operations = BTreeMap::new();
        for (path, item) in spec.get("paths").and_then(Value::as_object).into_iter().flatten() {
            for method in METHODS {
                if item.get(*method).is_some() {
                    operations.insert(op_key(method, path), ((*method).to_owned(), path.clone()));
                }
            }
        }
        let mut credential_headers = BTreeSet::new();
        for scheme in spec
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(_, scheme)| scheme)
        {
            match scheme.get("type").and_then(Value::as_str) {
                Some("apiKey") if scheme.get("in").and_then(Value::as_str) == Some("header") => {
                    if let Some(name) = scheme.get("name").and_then(Value::as_str) {
                        credential_headers.insert(name.to_ascii_lowercase());
                    }
                }
                Some("oauth2" | "http" | "openIdConnect") => {
                    credential_headers.insert("authorization".to_owned());
                }
                _ => {}
            }
        }
        ClientUsage {
            spec,
            operations,
            credential_headers,
        }
    }

    /// The client's spec (for following its references).
    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// Whether the client calls the operation.
    pub fn calls(&self, key: &OpKey) -> bool {
        self.operations.contains_key(key)
    }

    /// The client's own description of the operation, with the path it uses.
    pub fn operation(&self, key: &OpKey) -> Option<(&str, &Value)> {
        let (method, path) = self.operations.get(key)?;
        Some((path.as_str(), self.spec.get("paths")?.get(path)?.get(method)?))
    }

    /// The headers the client's credentials travel in (lower case): `x-api-key`, `x-user-key`, `authorization`.
    pub fn credential_headers(&self) -> &BTreeSet<String> {
        &self.credential_headers
    }

    /// The server URLs the client's spec names.
    pub fn server_urls(&self) -> Vec<&str> {
        self.spec
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|server| server.get("url").and_then(Value::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameter_names_do_not_change_the_key() {
        assert_eq!(
            op_key("patch", "/a/{agentPortfolioId}/b/{id}"),
            op_key("PATCH", "/a/{x}/b/{y}")
        );
        assert_ne!(op_key("patch", "/a/{x}"), op_key("delete", "/a/{x}"));
        assert_eq!(op_key("get", "/a/{unclosed").1, "/a/{");
    }

    #[test]
    fn the_client_spec_names_its_operations_and_credential_headers() {
        let usage = ClientUsage::load(&crate::workspace_root()).unwrap();
        for (method, path) in [
            ("GET", "/api/v1/agent-portfolios"),
            (
                "PATCH",
                "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}",
            ),
            (
                "DELETE",
                "/api/v1/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}",
            ),
            (
                "PATCH",
                "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens/{userTokenId}",
            ),
            ("POST", "/api/v2/agent-portfolios/{agentPortfolioId}/user-tokens"),
            ("GET", "/api/v2/agent-portfolios/user-tokens/scopes"),
        ] {
            assert!(usage.calls(&op_key(method, path)), "{method} {path}");
        }
        assert!(!usage.calls(&op_key("POST", "/api/v1/agent-portfolios")));
        let headers: Vec<&str> = usage.credential_headers().iter().map(String::as_str).collect();
        assert_eq!(headers, ["authorization", "x-api-key", "x-user-key"]);
    }
}
