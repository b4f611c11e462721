//! The value of one token update, and the rules it must follow before it is sent.

use std::collections::HashSet;
use std::hash::Hash;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};

use crate::error::InvalidInput;
use crate::expiry::check_expiry;
use crate::generated::types;
use crate::scope::{InvalidScopeName, ScopeName};
use crate::setters::token_setters;

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
/// Start from [`TokenUpdate::new`] and set what should change; what is not set stays as it is.
///
/// ```
/// use etoro_client::{scope, TokenUpdate};
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
///
/// let update = TokenUpdate::new()
///     .scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE])
///     .ips_whitelist([Ipv4Addr::new(203, 0, 113, 7)])
///     .expires_in(Duration::from_secs(30 * 24 * 3600));
/// assert!(update.validate(etoro_client::Utc::now()).is_ok());
/// ```
///
/// Scopes go by name ([`TokenUpdate::scope_names`]) or by the deprecated numeric ids
/// ([`TokenUpdate::scope_ids`]), never both: setting one kind after the other is refused by
/// [`TokenUpdate::validate`] (nothing is sent), so a request can never carry both.
///
/// Empty lists are refused rather than sent: the API does not document what an empty `scopeNames` or
/// `ipsWhitelist` means (no scopes? any address?), and on a credential that trades real money a guess is worse
/// than an error. To leave a field unchanged, do not set it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenUpdate {
    scopes: Option<Scopes>,
    ips_whitelist: Option<Vec<Ipv4Addr>>,
    expires_at: Option<DateTime<Utc>>,
    /// A setter's refusal, reported by [`TokenUpdate::validate`] (setters return `Self`, so they cannot fail).
    refused: Option<InvalidInput>,
}

impl TokenUpdate {
    /// An update that changes nothing yet: set at least one field.
    pub fn new() -> Self {
        Self::default()
    }

    token_setters! {
        /// Sets the token's scopes by name (`scopeNames`), replacing the current ones.
        scope_names(with_scopes);
        /// Sets the token's scopes by the deprecated numeric ids (`scopeIds`), replacing the current ones.
        #[deprecated(note = "eToro deprecated scopeIds: use TokenUpdate::scope_names instead")]
        scope_ids(with_scopes);
    }

    /// Sets the given scopes (for callers that choose the kind at run time).
    pub fn with_scopes(mut self, scopes: Scopes) -> Self {
        if self.scopes.as_ref().is_some_and(|set| !same_kind(set, &scopes)) {
            self.refuse(InvalidInput::new(
                "scopeIds, scopeNames",
                "give one of them, not both: use .scope_names(..) (scopeIds is deprecated)",
            ));
        }
        self.scopes = Some(scopes);
        self
    }

    token_setters! {
        /// Sets the IPv4 addresses allowed to use the token (`ipsWhitelist`), replacing the current list.
        ips_whitelist;
        /// Sets when the token expires (`expiresAt`). Takes a `DateTime<Utc>` (re-exported as
        /// [`crate::DateTime`]/[`crate::Utc`]) or anything that converts into one, such as a `DateTime<FixedOffset>`.
        expires_at;
        /// Sets the token to expire `after` this long from now (the moment of this call).
        expires_in;
    }

    fn refuse(&mut self, error: InvalidInput) {
        self.refused.get_or_insert(error);
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
        if let Some(refused) = &self.refused {
            return Err(refused.clone());
        }
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
        check_expiry(self.expires_at, now)
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
            refused: None,
        })
    }
}

#[allow(deprecated)]
fn same_kind(a: &Scopes, b: &Scopes) -> bool {
    matches!(
        (a, b),
        (Scopes::Names(_), Scopes::Names(_)) | (Scopes::Ids(_), Scopes::Ids(_))
    )
}

pub(crate) fn check_list<T: Eq + Hash + std::fmt::Display>(field: &str, items: &[T]) -> Result<(), InvalidInput> {
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

pub(crate) fn scope_name_error(index: usize, err: InvalidScopeName) -> InvalidInput {
    InvalidInput::new(format!("scopeNames[{index}]"), err.to_string())
}
