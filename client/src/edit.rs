//! An incremental edit of a token: add or remove addresses and scopes, move its expiry, without restating the
//! rest.
//!
//! eToro's update replaces whole lists: `ipsWhitelist: ["203.0.113.5"]` drops every other address. A
//! [`TokenEdit`] applied to a token as listed gives the whole lists to send (or nothing, when the token already
//! reads as the edit asks), and the [`DesiredToken`] that the token should read as afterwards, to find a write
//! made by someone else between the listing and the update, or after it (eToro has no `If-Match`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use crate::desired::{list, DesiredToken, FieldChange};
use crate::error::InvalidInput;
use crate::expiry::{check_expiry, round_up};
use crate::ops::UserToken;
use crate::scope::ScopeName;
use crate::update::TokenUpdate;

/// How an edit moves a token's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryEdit {
    /// Adds this to the current expiry (to now, for a token that has expired). A token that never expires is
    /// left as it is.
    Extend(Duration),
    /// Sets the expiry to this long from the moment the edit is applied.
    In(Duration),
    /// Sets the expiry to this instant (to the second).
    At(DateTime<Utc>),
}

/// Addresses and scopes to add or remove, and an expiry change; what it does not name stays as it is.
///
/// ```
/// use std::time::Duration;
/// use etoro_client::TokenEdit;
///
/// // "Our agent's egress address changed, and the token should last 30 more days."
/// let edit = TokenEdit::new()
///     .add_ips(["198.51.100.9".parse().unwrap()])
///     .remove_ips(["198.51.100.1".parse().unwrap()])
///     .extend(Duration::from_secs(30 * 86_400));
/// assert!(edit.validate(etoro_client::Utc::now()).is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenEdit {
    add_ips: BTreeSet<Ipv4Addr>,
    remove_ips: BTreeSet<Ipv4Addr>,
    add_scopes: BTreeSet<String>,
    remove_scopes: BTreeSet<String>,
    expiry: Option<ExpiryEdit>,
}

/// What an edit comes to on one listed token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EditPlan {
    /// The update to send: the whole new lists of the fields that change. `None` when nothing changes.
    pub update: Option<TokenUpdate>,
    /// What changes, field by field (empty when nothing does).
    pub changes: Vec<FieldChange>,
    /// What the edit asked for that needs no change, and why, for people (an address added to a token usable
    /// from any address, an extension of a token that never expires).
    pub notes: Vec<String>,
    /// What the token should read as once updated: the fields the update sets.
    pub expected: DesiredToken,
}

impl TokenEdit {
    /// An edit that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds these addresses to the allow-list (an address already there changes nothing).
    pub fn add_ips(mut self, ips: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.add_ips.extend(ips);
        self
    }

    /// Removes these addresses from the allow-list (an address not there changes nothing).
    pub fn remove_ips(mut self, ips: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.remove_ips.extend(ips);
        self
    }

    /// Adds these scope names (a scope already held changes nothing).
    pub fn add_scopes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.add_scopes.extend(names.into_iter().map(Into::into));
        self
    }

    /// Removes these scope names (a scope not held changes nothing).
    pub fn remove_scopes<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.remove_scopes.extend(names.into_iter().map(Into::into));
        self
    }

    /// Moves the expiry (replacing any expiry change set before).
    pub fn expiry(mut self, change: ExpiryEdit) -> Self {
        self.expiry = Some(change);
        self
    }

    /// Adds `by` to the current expiry: see [`ExpiryEdit::Extend`].
    pub fn extend(self, by: Duration) -> Self {
        self.expiry(ExpiryEdit::Extend(by))
    }

    /// True when the edit's expiry change is relative to the moment or the current expiry (`Extend`, `In`):
    /// applied twice, it moves the expiry twice.
    pub fn is_relative(&self) -> bool {
        matches!(self.expiry, Some(ExpiryEdit::Extend(_) | ExpiryEdit::In(_)))
    }

    /// True when the edit asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.add_ips.is_empty()
            && self.remove_ips.is_empty()
            && self.add_scopes.is_empty()
            && self.remove_scopes.is_empty()
            && self.expiry.is_none()
    }

    /// Checks the edit on its own: at least one change; nothing both added and removed; well-formed scope
    /// names; a duration above zero that a date can hold; an exact expiry later than `now`.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), InvalidInput> {
        if self.is_empty() {
            return Err(InvalidInput::new(
                "edit",
                "ask for at least one change: an address or scope to add or remove, or an expiry change",
            ));
        }
        if let Some(ip) = self.add_ips.intersection(&self.remove_ips).next() {
            return Err(InvalidInput::new(
                "addIps, removeIps",
                format!("{ip} is both added and removed: say which"),
            ));
        }
        if let Some(name) = self.add_scopes.intersection(&self.remove_scopes).next() {
            return Err(InvalidInput::new(
                "addScopes, removeScopes",
                format!("{name:?} is both added and removed: say which"),
            ));
        }
        for (field, names) in [("addScopes", &self.add_scopes), ("removeScopes", &self.remove_scopes)] {
            for name in names {
                ScopeName::check(name).map_err(|err| InvalidInput::new(field, err.to_string()))?;
            }
        }
        match self.expiry {
            Some(ExpiryEdit::Extend(by)) => positive("extend", by).and_then(|by| later(now, by, "extend").map(drop)),
            Some(ExpiryEdit::In(after)) => {
                positive("expiresIn", after).and_then(|after| later(now, after, "expiresIn").map(drop))
            }
            Some(ExpiryEdit::At(at)) => check_expiry(Some(at), now),
            None => Ok(()),
        }
    }

    /// What this edit comes to on `current` at `now`. An error names the field and the rule: the edit itself
    /// breaks one (see [`TokenEdit::validate`]), or applied to this token it would remove its last address (an
    /// empty allow-list is not something eToro's update accepts, and a token without one is usable from any
    /// address) or its last scope, or it cannot be read back (scopes listed as ids only, an address this client
    /// cannot read).
    pub fn apply(&self, current: &UserToken, now: DateTime<Utc>) -> Result<EditPlan, InvalidInput> {
        self.validate(now)?;
        let mut plan = EditPlan {
            update: None,
            changes: Vec::new(),
            notes: Vec::new(),
            expected: DesiredToken::new(),
        };
        let mut update = TokenUpdate::new();
        if let Some(ips) = self.edit_ips(current, &mut plan)? {
            update = update.ips_whitelist(ips.iter().copied());
            plan.expected = plan.expected.ips_whitelist(ips);
        }
        if let Some(names) = self.edit_scopes(current, &mut plan)? {
            update = update.scope_names(names.iter().cloned());
            plan.expected = plan.expected.scope_names(names);
        }
        if let Some(at) = self.edit_expiry(current, now, &mut plan)? {
            update = update.expires_at(at);
            plan.expected = plan.expected.expires_at(at);
        }
        if !plan.changes.is_empty() {
            plan.update = Some(update);
        }
        Ok(plan)
    }

    /// The new allow-list, when it changes.
    fn edit_ips(&self, current: &UserToken, plan: &mut EditPlan) -> Result<Option<Vec<Ipv4Addr>>, InvalidInput> {
        if self.add_ips.is_empty() && self.remove_ips.is_empty() {
            return Ok(None);
        }
        let mut present = BTreeSet::new();
        for text in &current.ips_whitelist {
            let ip = text.trim().parse::<Ipv4Addr>().map_err(|_| {
                InvalidInput::new(
                    "ipsWhitelist",
                    format!("the token lists {text:?}, which is not an IPv4 address: it cannot be sent back, so the token is not edited"),
                )
            })?;
            present.insert(ip);
        }
        if present.is_empty() {
            // No allow-list: usable from any address. Adding one would restrict it to that one; removing is moot.
            if !self.add_ips.is_empty() {
                plan.notes.push(format!(
                    "ipsWhitelist: the token has no allow-list, so it is already usable from any address, {} \
                     included: left as it is",
                    list(&self.add_ips.iter().collect::<Vec<_>>())
                ));
            }
            return Ok(None);
        }
        let mut wanted: BTreeSet<Ipv4Addr> = present.difference(&self.remove_ips).copied().collect();
        wanted.extend(self.add_ips.iter().copied());
        if wanted == present {
            return Ok(None);
        }
        if wanted.is_empty() {
            return Err(InvalidInput::new(
                "removeIps",
                "would remove the token's last address: a token without an allow-list is usable from any address, \
                 and eToro's update takes no empty list; add the new address in the same edit (--add-ip), or revoke \
                 the token",
            ));
        }
        let wanted: Vec<Ipv4Addr> = wanted.into_iter().collect();
        plan.changes.push(FieldChange {
            field: "ipsWhitelist",
            from: list(&present.iter().collect::<Vec<_>>()),
            to: list(&wanted),
        });
        Ok(Some(wanted))
    }

    /// The new scope names, when they change.
    fn edit_scopes(&self, current: &UserToken, plan: &mut EditPlan) -> Result<Option<Vec<String>>, InvalidInput> {
        if self.add_scopes.is_empty() && self.remove_scopes.is_empty() {
            return Ok(None);
        }
        if current.scope_names.is_empty() && !current.scope_ids.is_empty() {
            return Err(InvalidInput::new(
                "scopeNames",
                format!(
                    "the token lists its scopes as ids only ({}): eToro's id-to-name tables disagree, so names \
                     cannot be added or removed; set its scopes in full with `update --scope-name`",
                    list(&current.scope_ids)
                ),
            ));
        }
        let present: BTreeSet<String> = current.scope_names.iter().cloned().collect();
        let mut wanted: BTreeSet<String> = present.difference(&self.remove_scopes).cloned().collect();
        wanted.extend(self.add_scopes.iter().cloned());
        if wanted == present {
            return Ok(None);
        }
        if wanted.is_empty() {
            return Err(InvalidInput::new(
                "removeScopes",
                "would remove the token's last scope: a token holds at least one (revoke it instead)",
            ));
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        plan.changes.push(FieldChange {
            field: "scopeNames",
            from: list(&present.iter().collect::<Vec<_>>()),
            to: list(&wanted),
        });
        Ok(Some(wanted))
    }

    /// The new expiry, when it changes.
    fn edit_expiry(
        &self,
        current: &UserToken,
        now: DateTime<Utc>,
        plan: &mut EditPlan,
    ) -> Result<Option<DateTime<Utc>>, InvalidInput> {
        let target = match self.expiry {
            None => return Ok(None),
            Some(ExpiryEdit::At(at)) => at,
            Some(ExpiryEdit::In(after)) => later(now, after, "expiresIn")?,
            Some(ExpiryEdit::Extend(by)) => match current.expires_at {
                None => {
                    plan.notes
                        .push("expiresAt: the token never expires: left as it is".to_owned());
                    return Ok(None);
                }
                Some(at) => later(at.max(now), by, "extend")?,
            },
        };
        // Whole seconds, up: the API's precision, and never shorter than asked.
        let target = round_up(target);
        let current_expiry = current.expires_at.map(|at| at.trunc_subsecs(0));
        if current_expiry == Some(target) {
            return Ok(None);
        }
        plan.changes.push(FieldChange {
            field: "expiresAt",
            from: current
                .expires_at
                .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339()),
            to: target.to_rfc3339(),
        });
        Ok(Some(target))
    }
}

impl EditPlan {
    /// Compares the token as read again after the update with what it should read as: the fields that differ
    /// (`from` what was found, `to` what was sent), empty when it reads as sent. Non-empty means someone else
    /// wrote the token after our listing.
    pub fn conflicts(&self, reread: &UserToken) -> Vec<FieldChange> {
        // `expected` holds only exact values (an exact expiry, whole lists), so the instant does not matter;
        // one far in the past keeps an expiry we set from being refused as past.
        let long_ago = DateTime::<Utc>::UNIX_EPOCH;
        match self.expected.reconcile(reread, long_ago) {
            Ok(Some(reconciliation)) => reconciliation.changes,
            // Nothing expected (nothing was sent), or it reads as sent.
            Ok(None) | Err(_) => Vec::new(),
        }
    }
}

fn positive(field: &str, duration: Duration) -> Result<Duration, InvalidInput> {
    if duration.is_zero() {
        return Err(InvalidInput::new(field, "must be longer than zero"));
    }
    Ok(duration)
}

/// `from + by`, or an error naming `field` when a date cannot hold it.
fn later(from: DateTime<Utc>, by: Duration, field: &str) -> Result<DateTime<Utc>, InvalidInput> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|by| from.checked_add_signed(by))
        .and_then(|at| at.checked_add_signed(chrono::Duration::seconds(1)).map(|_| at))
        .ok_or_else(|| InvalidInput::new(field, "is past the latest date this client can represent"))
}

#[cfg(test)]
#[path = "edit_tests.rs"]
mod tests;
