//! A token's desired state, and the update that brings a listed token there: `None` when it is there already.
//!
//! Against the real API every request draws from one quota of 60 a minute, and eToro answers an update that
//! changes nothing with `NoChangesDetected`: compare first (one list request), then send only what differs.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::InvalidInput;
use crate::expiry::round_up;
use crate::ops::UserToken;
use crate::setters::token_setters;
use crate::update::{Scopes, TokenUpdate};

/// What a token should look like. Fields left unset are not compared (and not changed).
///
/// ```
/// use std::time::Duration;
/// use etoro_client::{DesiredToken, Utc};
///
/// // "Only our two egress IPs, and valid for at least 30 more days."
/// let desired = DesiredToken::new()
///     .ips_whitelist(["198.51.100.1".parse().unwrap(), "198.51.100.2".parse().unwrap()])
///     .valid_for(Duration::from_secs(30 * 86_400));
/// # let _ = desired;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredToken {
    scopes: Option<Scopes>,
    ips_whitelist: Option<Vec<Ipv4Addr>>,
    expires_at: Option<DateTime<Utc>>,
    valid_for: Option<Duration>,
}

/// How an empty IPv4 allow-list reads for people: eToro takes it as "no restriction", not "no address allowed".
/// The one word for it, wherever a token's allow-list is shown.
pub const ANY_ADDRESS: &str = "any address";

/// One field that differs: what it is now and what it will be, as text for people.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldChange {
    /// The API's field name: `scopeNames`, `scopeIds`, `ipsWhitelist` or `expiresAt`.
    pub field: &'static str,
    /// The current value (`never` for an expiry that is not set, [`ANY_ADDRESS`] for an empty allow-list, `(none)`
    /// for an empty scope list).
    pub from: String,
    /// The value the update sets.
    pub to: String,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.from, self.to)
    }
}

/// The update that brings a token to its desired state, and what it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciliation {
    /// The update to send.
    pub update: TokenUpdate,
    /// What it changes, field by field.
    pub changes: Vec<FieldChange>,
}

impl DesiredToken {
    /// A desired state that asks for nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    token_setters! {
        /// The token should hold exactly these scope names (compared as a set).
        scope_names(with_scopes);
        /// The token should hold exactly these deprecated scope ids (compared as a set).
        #[deprecated(note = "eToro deprecated scopeIds: use DesiredToken::scope_names instead")]
        scope_ids(with_scopes);
        /// The token should be usable from exactly these addresses (compared as a set).
        ips_whitelist;
        /// The token should expire at exactly this instant (to the second).
        expires_at;
    }

    /// Stores the scopes to compare, replacing any set before (of either kind).
    fn with_scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// The token should stay valid at least this long from the moment of comparison: one that expires later, or
    /// never, is left as is; one that would expire sooner gets `now + duration` plus a margin of 1% of `duration`
    /// (at least a minute, at most a day), rounded up to the second. The margin keeps a second comparison soon
    /// after (a re-run, a plan after an apply) from finding the token short by the seconds that passed.
    pub fn valid_for(mut self, duration: Duration) -> Self {
        self.valid_for = Some(duration);
        self
    }

    /// Checks the desired state on its own: at least one field; not both an exact expiry and a validity rule; no
    /// empty or duplicated list; well-formed scope names; an exact expiry later than `now`.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), InvalidInput> {
        if self.expires_at.is_some() && self.valid_for.is_some() {
            return Err(InvalidInput::new(
                "expiresAt, validFor",
                "give one of them: an exact expiry, or a minimum validity",
            ));
        }
        if self.scopes.is_none() && self.ips_whitelist.is_none() && self.expires_at.is_none() {
            if self.valid_for.is_some() {
                return self.min_expiry(now).map(drop);
            }
            return Err(InvalidInput::new(
                "desired state",
                "set at least one of scopeNames (or scopeIds), ipsWhitelist, expiresAt, validFor",
            ));
        }
        self.as_update(self.expires_at).validate(now)?;
        self.min_expiry(now).map(drop)
    }

    /// The update that brings `current` to this state at `now`, or `None` when it is there already. An error
    /// means the desired state itself breaks a rule (see [`DesiredToken::validate`]); nothing was compared.
    pub fn reconcile(&self, current: &UserToken, now: DateTime<Utc>) -> Result<Option<Reconciliation>, InvalidInput> {
        self.validate(now)?;
        let mut changes = Vec::new();
        let mut update = TokenUpdate::new();
        #[allow(deprecated)]
        match &self.scopes {
            Some(Scopes::Names(names)) => {
                // A token listed with ids only cannot be compared by name (eToro's tables disagree): set the names.
                let comparable = current.scope_ids.is_empty() || !current.scope_names.is_empty();
                if !comparable || !same_set(names.iter(), current.scope_names.iter()) {
                    let from = if comparable {
                        list(&current.scope_names)
                    } else {
                        format!("(scope ids {})", list(&current.scope_ids))
                    };
                    changes.push(FieldChange {
                        field: "scopeNames",
                        from,
                        to: list(names),
                    });
                    update = update.scope_names(names.iter().cloned());
                }
            }
            Some(Scopes::Ids(ids)) if !same_set(ids.iter(), current.scope_ids.iter()) => {
                changes.push(change("scopeIds", &current.scope_ids, ids));
                update = update.scope_ids(ids.iter().copied());
            }
            _ => {}
        }
        if let Some(ips) = &self.ips_whitelist {
            let wanted: BTreeSet<String> = ips.iter().map(Ipv4Addr::to_string).collect();
            let present: BTreeSet<String> = current.ips_whitelist.iter().map(|ip| normalize_ip(ip)).collect();
            if wanted != present {
                let shown = |list_text: String| {
                    if list_text == NONE {
                        ANY_ADDRESS.to_owned()
                    } else {
                        list_text
                    }
                };
                changes.push(FieldChange {
                    field: "ipsWhitelist",
                    from: shown(list(&current.ips_whitelist)),
                    to: shown(list(ips)),
                });
                update = update.ips_whitelist(ips.iter().copied());
            }
        }
        let shown = |at: Option<DateTime<Utc>>| at.map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
        let current_expiry = current.expires_at.map(|at| at.trunc_subsecs(0));
        let target = match (self.expires_at, self.min_expiry(now)?) {
            (Some(at), _) => Some(at.trunc_subsecs(0)).filter(|at| current_expiry != Some(*at)),
            // "At least": a token that never expires, or expires later, already satisfies it.
            (None, Some(min)) => current
                .expires_at
                .is_some_and(|at| at < min)
                .then(|| round_up(min + self.margin())),
            (None, None) => None,
        };
        if let Some(at) = target {
            changes.push(FieldChange {
                field: "expiresAt",
                from: shown(current.expires_at),
                to: at.to_rfc3339(),
            });
            update = update.expires_at(at);
        }
        Ok((!changes.is_empty()).then_some(Reconciliation { update, changes }))
    }

    /// `now + valid_for`: the earliest expiry that satisfies the rule.
    fn min_expiry(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, InvalidInput> {
        let Some(valid_for) = self.valid_for else {
            return Ok(None);
        };
        let too_far = || InvalidInput::new("validFor", "is past the latest date this client can represent");
        // With room for the margin (at most a day), so that adding it later cannot overflow.
        let valid_for = chrono::Duration::from_std(valid_for).map_err(|_| too_far())?;
        now.checked_add_signed(valid_for)
            .and_then(|min| min.checked_add_signed(chrono::Duration::days(1)))
            .ok_or_else(too_far)?;
        Ok(Some(now + valid_for))
    }

    /// 1% of `valid_for`, between a minute and a day.
    fn margin(&self) -> chrono::Duration {
        let margin =
            (self.valid_for.unwrap_or_default() / 100).clamp(Duration::from_secs(60), Duration::from_secs(86_400));
        chrono::Duration::from_std(margin).expect("at most a day")
    }

    fn as_update(&self, expires_at: Option<DateTime<Utc>>) -> TokenUpdate {
        let mut update = TokenUpdate::new();
        if let Some(scopes) = &self.scopes {
            update = update.with_scopes(scopes.clone());
        }
        if let Some(ips) = &self.ips_whitelist {
            update = update.ips_whitelist(ips.iter().copied());
        }
        if let Some(at) = expires_at {
            update = update.expires_at(at);
        }
        update
    }
}

/// The canonical text of a listed address (`010.000.000.001` -> `10.0.0.1`); unparsable text stays as it is and
/// so never matches a wanted address.
fn normalize_ip(text: &str) -> String {
    text.trim()
        .parse::<Ipv4Addr>()
        .map_or_else(|_| text.to_owned(), |ip| ip.to_string())
}

fn same_set<'a, T: Ord + 'a>(a: impl Iterator<Item = &'a T>, b: impl Iterator<Item = &'a T>) -> bool {
    a.collect::<BTreeSet<_>>() == b.collect::<BTreeSet<_>>()
}

fn change<A: fmt::Display, B: fmt::Display>(field: &'static str, from: &[A], to: &[B]) -> FieldChange {
    FieldChange {
        field,
        from: list(from),
        to: list(to),
    }
}

/// An empty list of scopes.
const NONE: &str = "(none)";

pub(crate) fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return NONE.to_owned();
    }
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> UserToken {
        UserToken {
            id: uuid::Uuid::new_v4(),
            name: Some("bot".to_owned()),
            client_id: None,
            external_application_name: None,
            ips_whitelist: vec!["198.51.100.2".to_owned(), "198.51.100.1".to_owned()],
            expires_at: Some("2031-01-01T00:00:00Z".parse().unwrap()),
            scope_names: vec!["b:read".to_owned(), "a:read".to_owned()],
            scope_ids: vec![],
            created_at: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2030-12-01T00:00:00.250Z".parse().unwrap()
    }

    fn ips(list: &[&str]) -> Vec<Ipv4Addr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn a_token_in_the_desired_state_needs_no_update() {
        let desired = DesiredToken::new()
            .scope_names(["a:read", "b:read"])
            .ips_whitelist(ips(&["198.51.100.1", "198.51.100.2"]))
            .expires_at("2031-01-01T00:00:00.900Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(
            desired.reconcile(&token(), now()).unwrap(),
            None,
            "sets, and expiry to the second"
        );
    }

    #[test]
    fn only_the_fields_that_differ_are_sent() {
        let desired = DesiredToken::new()
            .scope_names(["a:read", "b:read"])
            .ips_whitelist(ips(&["198.51.100.1"]));
        let plan = desired.reconcile(&token(), now()).unwrap().unwrap();
        assert_eq!(plan.update, TokenUpdate::new().ips_whitelist(ips(&["198.51.100.1"])));
        assert_eq!(
            plan.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["ipsWhitelist: 198.51.100.2, 198.51.100.1 -> 198.51.100.1"]
        );
    }

    #[test]
    fn valid_for_is_a_minimum_and_holds_at_its_boundary() {
        let thirty_days = Duration::from_secs(30 * 86_400);
        let boundary: DateTime<Utc> = "2030-12-31T00:00:00.250Z".parse().unwrap(); // now + 30 days
        let mut current = token();
        current.expires_at = Some(boundary);
        let desired = DesiredToken::new().valid_for(thirty_days);
        assert_eq!(
            desired.reconcile(&current, now()).unwrap(),
            None,
            "exactly the minimum satisfies it"
        );

        current.expires_at = Some(boundary - chrono::Duration::milliseconds(1));
        let plan = desired.reconcile(&current, now()).unwrap().unwrap();
        // Plus 1% of 30 days (7.2 hours), rounded up to the second.
        let expected: DateTime<Utc> = "2030-12-31T07:12:01Z".parse().unwrap();
        assert_eq!(plan.update.expiry(), Some(expected));
        assert_eq!(plan.changes[0].field, "expiresAt");

        // Applied, then compared again a little later: satisfied, thanks to the margin.
        current.expires_at = Some(expected);
        assert_eq!(
            desired.reconcile(&current, now() + chrono::Duration::hours(7)).unwrap(),
            None
        );

        current.expires_at = None;
        assert_eq!(
            desired.reconcile(&current, now()).unwrap(),
            None,
            "a token that never expires satisfies it"
        );
    }

    #[test]
    fn names_cannot_be_compared_with_ids() {
        let mut current = token();
        current.scope_names.clear();
        current.scope_ids = vec![200];
        let plan = DesiredToken::new()
            .scope_names(["a:read"])
            .reconcile(&current, now())
            .unwrap()
            .unwrap();
        assert_eq!(plan.changes[0].from, "(scope ids 200)");
        #[allow(deprecated)]
        let by_ids = DesiredToken::new().scope_ids([200]);
        assert_eq!(by_ids.reconcile(&current, now()).unwrap(), None);
    }

    #[test]
    fn listed_addresses_are_read_leniently() {
        let mut current = token();
        current.ips_whitelist = vec![" 198.51.100.1".to_owned(), "not an address".to_owned()];
        let plan = DesiredToken::new()
            .ips_whitelist(ips(&["198.51.100.1"]))
            .reconcile(&current, now())
            .unwrap();
        assert!(plan.is_some(), "an unreadable listed entry never matches");
        current.ips_whitelist = vec![" 198.51.100.1".to_owned()];
        let plan = DesiredToken::new()
            .ips_whitelist(ips(&["198.51.100.1"]))
            .reconcile(&current, now())
            .unwrap();
        assert_eq!(plan, None);
    }

    #[test]
    fn a_desired_state_that_breaks_a_rule_is_refused() {
        let at: DateTime<Utc> = "2031-01-01T00:00:00Z".parse().unwrap();
        let cases = [
            (DesiredToken::new(), "desired state"),
            (
                DesiredToken::new().expires_at(at).valid_for(Duration::from_secs(1)),
                "expiresAt, validFor",
            ),
            (DesiredToken::new().ips_whitelist(Vec::new()), "ipsWhitelist"),
            (DesiredToken::new().scope_names(["a b"]), "scopeNames[0]"),
            (DesiredToken::new().valid_for(Duration::MAX), "validFor"),
            (
                DesiredToken::new().expires_at("2001-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()),
                "expiresAt",
            ),
        ];
        for (desired, field) in cases {
            assert_eq!(desired.reconcile(&token(), now()).unwrap_err().field, field);
        }
    }

    #[test]
    fn an_empty_allow_list_reads_any_address() {
        let mut open = token();
        open.ips_whitelist = vec![];
        let change = DesiredToken::new()
            .ips_whitelist(ips(&["198.51.100.1"]))
            .reconcile(&open, now())
            .unwrap()
            .unwrap();
        assert_eq!(
            change.changes[0].to_string(),
            "ipsWhitelist: any address -> 198.51.100.1"
        );
    }
}
