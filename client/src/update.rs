//! The value of one token update, and the rules it must follow before it is sent.

use std::collections::HashSet;
use std::hash::Hash;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};

use crate::error::InvalidInput;
use crate::generated::types;
use crate::scope::{InvalidScopeName, ScopeName};

/// The scopes a token should hold: by name (preferred) or by the deprecated numeric ids. One enum, so a request
/// can never carry both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scopes {
    /// Scope names such as [`crate::scope::TRADE_REAL_READ`].
    Names(Vec<String>),
    /// Deprecated numeric scope ids (`scopeIds`). eToro still accepts them; prefer [`Scopes::Names`].
    #[deprecated(note = "eToro deprecated scopeIds: use Scopes::Names (scopeNames) instead")]
    Ids(Vec<i32>),
}

/// What to change on a user token: its scopes, the IPv4 addresses it may be used from, its expiry.
///
/// Scopes are chosen when the value is made ([`TokenUpdate::scope_names`], or the deprecated
/// [`TokenUpdate::scope_ids`]), so names and ids cannot be combined; the other fields are optional setters.
///
/// Empty lists are refused rather than sent: the API does not document what an empty `scopeNames` or
/// `ipsWhitelist` means (no scopes? any address?), and on a credential that trades real money a guess is worse
/// than an error. To leave a field unchanged, do not set it.
///
/// ```
/// use etoro_client::{scope, TokenUpdate};
/// use std::net::Ipv4Addr;
///
/// let update = TokenUpdate::scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE])
///     .ips_whitelist([Ipv4Addr::new(203, 0, 113, 7)])
///     .expires_at("2030-12-31T23:59:59Z".parse().unwrap());
/// assert!(update.validate(chrono::Utc::now()).is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenUpdate {
    scopes: Option<Scopes>,
    ips_whitelist: Option<Vec<Ipv4Addr>>,
    expires_at: Option<DateTime<Utc>>,
}

impl TokenUpdate {
    /// An update that leaves the scopes as they are; set at least one other field.
    pub fn new() -> Self {
        Self::default()
    }

    /// An update that sets the token's scopes by name (`scopeNames`).
    pub fn scope_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_scopes(Scopes::Names(names.into_iter().map(Into::into).collect()))
    }

    /// An update that sets the token's scopes by the deprecated numeric ids (`scopeIds`).
    #[deprecated(note = "eToro deprecated scopeIds: use TokenUpdate::scope_names instead")]
    #[allow(deprecated)]
    pub fn scope_ids(ids: impl IntoIterator<Item = i32>) -> Self {
        Self::with_scopes(Scopes::Ids(ids.into_iter().collect()))
    }

    /// An update that sets the given scopes (for callers that choose the kind at run time).
    pub fn with_scopes(scopes: Scopes) -> Self {
        TokenUpdate {
            scopes: Some(scopes),
            ..Self::default()
        }
    }

    /// Sets the IPv4 addresses allowed to use the token (`ipsWhitelist`), replacing the current list.
    pub fn ips_whitelist(mut self, ips: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.ips_whitelist = Some(ips.into_iter().collect());
        self
    }

    /// Sets when the token expires (`expiresAt`).
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The scopes to set, if any.
    pub fn scopes(&self) -> Option<&Scopes> {
        self.scopes.as_ref()
    }

    /// The IP allow-list to set, if any.
    pub fn ips(&self) -> Option<&[Ipv4Addr]> {
        self.ips_whitelist.as_deref()
    }

    /// The expiry to set, if any.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    /// Checks every local rule, naming the field and the rule that fails first:
    /// at least one field; no empty list; no duplicate entry; scope names not empty and free of whitespace and
    /// control characters; `expiresAt` later than `now`.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), InvalidInput> {
        if self.scopes.is_none() && self.ips_whitelist.is_none() && self.expires_at.is_none() {
            return Err(InvalidInput::new(
                "update",
                "set at least one of scopeNames (or scopeIds), ipsWhitelist, expiresAt; \
                 eToro refuses an update without changes (NoChangesDetected)",
            ));
        }
        #[allow(deprecated)]
        match &self.scopes {
            Some(Scopes::Names(names)) => {
                check_list("scopeNames", names)?;
                for (index, name) in names.iter().enumerate() {
                    ScopeName::check(name).map_err(|err| scope_name_error(index, err))?;
                }
            }
            Some(Scopes::Ids(ids)) => check_list("scopeIds", ids)?,
            None => {}
        }
        if let Some(ips) = &self.ips_whitelist {
            check_list("ipsWhitelist", ips)?;
        }
        if let Some(at) = self.expires_at {
            if at <= now {
                return Err(InvalidInput::new(
                    "expiresAt",
                    format!(
                        "must be in the future (got {}, now is {})",
                        at.to_rfc3339(),
                        now.to_rfc3339()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Validates against `now` and builds the generated request body.
    pub fn to_request(&self, now: DateTime<Utc>) -> Result<types::UpdateUserTokenRequest, InvalidInput> {
        self.validate(now)?;
        let mut body = types::UpdateUserTokenRequest {
            expires_at: self.expires_at,
            ips_whitelist: self.ips_whitelist.clone(),
            ..Default::default()
        };
        #[allow(deprecated)]
        match &self.scopes {
            Some(Scopes::Names(names)) => {
                let names = names
                    .iter()
                    .enumerate()
                    .map(|(index, name)| ScopeName::new(name.as_str()).map_err(|err| scope_name_error(index, err)))
                    .collect::<Result<Vec<_>, _>>()?;
                body.scope_names = Some(names);
            }
            Some(Scopes::Ids(ids)) => body.scope_ids = Some(ids.clone()),
            None => {}
        }
        Ok(body)
    }

    /// Validates against `now` and builds the v2 request body, which has no scope ids.
    pub fn to_request_v2(&self, now: DateTime<Utc>) -> Result<types::UpdateUserTokenV2Request, InvalidInput> {
        let body = self.to_request(now)?;
        if body.scope_ids.is_some() {
            return Err(InvalidInput::new(
                "scopeIds",
                "API v2 takes scope names only (scopeNames); the deprecated scopeIds work with API v1",
            ));
        }
        Ok(types::UpdateUserTokenV2Request {
            expires_at: body.expires_at,
            ips_whitelist: body.ips_whitelist,
            scope_names: body.scope_names,
        })
    }
}

/// Reads a body in the API's own field names (a line of a bulk file, say), refusing one that sets both
/// `scopeIds` and `scopeNames`. Call [`TokenUpdate::validate`] on the result before sending.
impl TryFrom<types::UpdateUserTokenRequest> for TokenUpdate {
    type Error = InvalidInput;

    fn try_from(body: types::UpdateUserTokenRequest) -> Result<Self, InvalidInput> {
        #[allow(deprecated)]
        let scopes = match (body.scope_names, body.scope_ids) {
            (Some(_), Some(_)) => {
                return Err(InvalidInput::new(
                    "scopeIds, scopeNames",
                    "give one of them, not both (scopeIds is deprecated: prefer scopeNames)",
                ))
            }
            (Some(names), None) => Some(Scopes::Names(names.into_iter().map(String::from).collect())),
            (None, Some(ids)) => Some(Scopes::Ids(ids)),
            (None, None) => None,
        };
        Ok(TokenUpdate {
            scopes,
            ips_whitelist: body.ips_whitelist,
            expires_at: body.expires_at,
        })
    }
}

fn check_list<T: Eq + Hash + std::fmt::Display>(field: &str, items: &[T]) -> Result<(), InvalidInput> {
    if items.is_empty() {
        return Err(InvalidInput::new(
            field,
            "must not be an empty list; leave the field unset to keep the current value",
        ));
    }
    // The lists are a handful of entries: a pairwise scan is cheaper than hashing them (measured by
    // `cargo xtask bench`); a HashSet keeps a long list linear.
    let duplicate = if items.len() <= 16 {
        (1..items.len()).find(|&index| items[..index].contains(&items[index]))
    } else {
        let mut seen = HashSet::with_capacity(items.len());
        items.iter().position(|item| !seen.insert(item))
    };
    match duplicate {
        Some(index) => Err(InvalidInput::new(
            format!("{field}[{index}]"),
            format!("duplicate entry {}", items[index]),
        )),
        None => Ok(()),
    }
}

fn scope_name_error(index: usize, err: InvalidScopeName) -> InvalidInput {
    InvalidInput::new(format!("scopeNames[{index}]"), err.to_string())
}
