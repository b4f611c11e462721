//! Tests of `TokenEdit`: the rules of an incremental edit, and its properties over any token and any edit: applying an
//! edit twice equals applying it once, an edit that changes nothing is no update, the result never holds what the
//! edit removed (and always holds what it added, on a token with an allow-list), and every update it gives passes
//! the client's own rules.

use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use proptest::prelude::*;

use super::{ExpiryEdit, TokenEdit};
use crate::ops::UserToken;
use crate::update::{Scopes, TokenUpdate};

fn now() -> DateTime<Utc> {
    "2030-12-01T00:00:00.250Z".parse().unwrap()
}

fn token(ips: &[&str], scopes: &[&str], expires_at: Option<&str>) -> UserToken {
    UserToken {
        id: uuid::Uuid::new_v4(),
        name: Some("bot".to_owned()),
        client_id: None,
        external_application_name: None,
        ips_whitelist: ips.iter().map(|ip| (*ip).to_owned()).collect(),
        expires_at: expires_at.map(|at| at.parse().unwrap()),
        scope_names: scopes.iter().map(|name| (*name).to_owned()).collect(),
        scope_ids: vec![],
        created_at: None,
    }
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// The token as eToro would list it after `update`.
fn applied(current: &UserToken, update: &TokenUpdate) -> UserToken {
    let mut next = current.clone();
    if let Some(ips) = update.ips() {
        next.ips_whitelist = ips.iter().map(ToString::to_string).collect();
    }
    if let Some(Scopes::Names(names)) = update.scopes() {
        next.scope_names = names.clone();
    }
    if let Some(at) = update.expiry() {
        next.expires_at = Some(at);
    }
    next
}

#[test]
fn adding_present_and_removing_absent_values_changes_nothing() {
    let current = token(&["198.51.100.1"], &["a:read"], Some("2031-01-01T00:00:00Z"));
    let edit = TokenEdit::new()
        .add_ips([ip("198.51.100.1")])
        .remove_ips([ip("198.51.100.7")])
        .add_scopes(["a:read"])
        .remove_scopes(["b:write"]);
    let plan = edit.apply(&current, now()).unwrap();
    assert_eq!(plan.update, None);
    assert!(plan.changes.is_empty());
}

#[test]
fn an_edit_sends_the_whole_new_lists_and_only_the_fields_that_change() {
    let current = token(
        &["198.51.100.1", "198.51.100.2"],
        &["a:read"],
        Some("2031-01-01T00:00:00Z"),
    );
    let plan = TokenEdit::new()
        .add_ips([ip("198.51.100.9")])
        .remove_ips([ip("198.51.100.1")])
        .apply(&current, now())
        .unwrap();
    assert_eq!(
        plan.update,
        Some(TokenUpdate::new().ips_whitelist([ip("198.51.100.2"), ip("198.51.100.9")]))
    );
    assert_eq!(
        plan.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["ipsWhitelist: 198.51.100.1, 198.51.100.2 -> 198.51.100.2, 198.51.100.9"]
    );
}

#[test]
fn a_token_without_an_allow_list_is_left_open_and_says_so() {
    let current = token(&[], &["a:read"], None);
    let plan = TokenEdit::new()
        .add_ips([ip("198.51.100.9")])
        .apply(&current, now())
        .unwrap();
    assert_eq!(
        plan.update, None,
        "restricting it to one address is not what --add-ip means"
    );
    assert!(plan.notes[0].contains("usable from any address"), "{:?}", plan.notes);
}

#[test]
fn the_last_address_and_the_last_scope_are_never_removed() {
    let current = token(&["198.51.100.1"], &["a:read"], None);
    let err = TokenEdit::new()
        .remove_ips([ip("198.51.100.1")])
        .apply(&current, now())
        .unwrap_err();
    assert_eq!(err.field, "removeIps");
    assert!(err.rule.contains("last address"), "{err}");
    // Replacing it in the same edit is fine.
    let plan = TokenEdit::new()
        .remove_ips([ip("198.51.100.1")])
        .add_ips([ip("198.51.100.2")])
        .apply(&current, now())
        .unwrap();
    assert_eq!(
        plan.update,
        Some(TokenUpdate::new().ips_whitelist([ip("198.51.100.2")]))
    );

    let err = TokenEdit::new()
        .remove_scopes(["a:read"])
        .apply(&current, now())
        .unwrap_err();
    assert_eq!(err.field, "removeScopes");
}

#[test]
fn extend_adds_to_the_expiry_or_to_now_and_leaves_a_token_that_never_expires() {
    let day = Duration::from_secs(86_400);
    let live = token(&["198.51.100.1"], &["a:read"], Some("2030-12-05T10:00:00Z"));
    let plan = TokenEdit::new().extend(30 * day).apply(&live, now()).unwrap();
    assert_eq!(
        plan.update.unwrap().expiry(),
        Some("2031-01-04T10:00:00Z".parse().unwrap())
    );

    let expired = token(&["198.51.100.1"], &["a:read"], Some("2030-01-01T00:00:00Z"));
    let plan = TokenEdit::new().extend(day).apply(&expired, now()).unwrap();
    // From now (rounded up to the second), not from the past expiry.
    assert_eq!(
        plan.update.unwrap().expiry(),
        Some("2030-12-02T00:00:01Z".parse().unwrap())
    );

    let forever = token(&["198.51.100.1"], &["a:read"], None);
    let plan = TokenEdit::new().extend(day).apply(&forever, now()).unwrap();
    assert_eq!(plan.update, None);
    assert!(plan.notes[0].contains("never expires"));
}

#[test]
fn an_edit_that_breaks_a_rule_is_refused_before_any_token_is_looked_at() {
    let past: DateTime<Utc> = "2001-01-01T00:00:00Z".parse().unwrap();
    let cases = [
        (TokenEdit::new(), "edit"),
        (
            TokenEdit::new()
                .add_ips([ip("198.51.100.1")])
                .remove_ips([ip("198.51.100.1")]),
            "addIps, removeIps",
        ),
        (
            TokenEdit::new().add_scopes(["a"]).remove_scopes(["a"]),
            "addScopes, removeScopes",
        ),
        (TokenEdit::new().add_scopes(["a b"]), "addScopes"),
        (TokenEdit::new().expiry(ExpiryEdit::At(past)), "expiresAt"),
        (TokenEdit::new().extend(Duration::ZERO), "extend"),
        (TokenEdit::new().expiry(ExpiryEdit::In(Duration::MAX)), "expiresIn"),
    ];
    for (edit, field) in cases {
        assert_eq!(edit.validate(now()).unwrap_err().field, field, "{edit:?}");
    }
}

#[test]
fn a_token_that_cannot_be_sent_back_whole_is_refused() {
    let mut by_ids = token(&["198.51.100.1"], &[], None);
    by_ids.scope_ids = vec![200];
    let err = TokenEdit::new()
        .add_scopes(["a:read"])
        .apply(&by_ids, now())
        .unwrap_err();
    assert_eq!(err.field, "scopeNames");
    assert!(err.rule.contains("ids only"), "{err}");
    // An edit that leaves the scopes alone is fine on it.
    assert!(TokenEdit::new()
        .add_ips([ip("198.51.100.2")])
        .apply(&by_ids, now())
        .is_ok());

    let unreadable = token(&["198.51.100.1", "not an address"], &["a:read"], None);
    let err = TokenEdit::new()
        .add_ips([ip("198.51.100.2")])
        .apply(&unreadable, now())
        .unwrap_err();
    assert_eq!(err.field, "ipsWhitelist");
    assert!(err.rule.contains("\"not an address\""), "{err}");
}

#[test]
fn a_read_back_that_differs_from_what_was_sent_is_a_conflict() {
    let current = token(&["198.51.100.1"], &["a:read"], None);
    let plan = TokenEdit::new()
        .add_ips([ip("198.51.100.2")])
        .apply(&current, now())
        .unwrap();
    let sent = applied(&current, plan.update.as_ref().unwrap());
    assert!(plan.conflicts(&sent).is_empty(), "reads as sent");
    // Someone else set the list to one address in between.
    let overwritten = token(&["203.0.113.5"], &["a:read"], None);
    let conflicts = plan.conflicts(&overwritten);
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].from, "203.0.113.5", "found");
    assert_eq!(conflicts[0].to, "198.51.100.1, 198.51.100.2", "ours");
}

/// Addresses and scope names from small pools, so that adds, removes and the token's own values overlap.
fn ips() -> impl Strategy<Value = Vec<Ipv4Addr>> {
    prop::collection::vec((0u8..6).prop_map(|last| Ipv4Addr::new(198, 51, 100, last)), 0..4)
}

fn scopes() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["a:read", "b:read", "c:write", "d:write"]),
        0..3,
    )
    .prop_map(|names| names.into_iter().map(str::to_owned).collect())
}

fn listed() -> impl Strategy<Value = UserToken> {
    (ips(), scopes(), prop::option::of(-100i64..400)).prop_map(|(mut ips, scopes, days)| {
        let mut current = token(&[], &[], None);
        ips.sort();
        ips.dedup();
        current.ips_whitelist = ips.iter().map(ToString::to_string).collect();
        current.scope_names = scopes;
        current.scope_names.sort();
        current.scope_names.dedup();
        if current.scope_names.is_empty() {
            current.scope_names.push("a:read".to_owned());
        }
        current.expires_at = days.map(|days| now() + chrono::Duration::hours(days * 7));
        current
    })
}

fn edits() -> impl Strategy<Value = TokenEdit> {
    let expiry = prop_oneof![
        Just(None),
        (1u64..1000).prop_map(|hours| Some(ExpiryEdit::In(Duration::from_secs(hours * 3600)))),
        (1i64..1000).prop_map(|hours| Some(ExpiryEdit::At(now() + chrono::Duration::hours(hours)))),
    ];
    (ips(), ips(), scopes(), scopes(), expiry).prop_map(|(add_ips, remove_ips, add_scopes, remove_scopes, expiry)| {
        let remove_ips: Vec<_> = remove_ips.into_iter().filter(|ip| !add_ips.contains(ip)).collect();
        let remove_scopes: Vec<_> = remove_scopes
            .into_iter()
            .filter(|name| !add_scopes.contains(name))
            .collect();
        let mut edit = TokenEdit::new()
            .add_ips(add_ips)
            .remove_ips(remove_ips)
            .add_scopes(add_scopes)
            .remove_scopes(remove_scopes);
        if let Some(expiry) = expiry {
            edit = edit.expiry(expiry);
        }
        edit
    })
}

proptest! {
    #[test]
    fn an_edit_applied_twice_equals_it_applied_once(current in listed(), edit in edits()) {
        prop_assume!(!edit.is_empty());
        let Ok(plan) = edit.apply(&current, now()) else {
            return Ok(()); // Refused on this token (its last address or scope): nothing to apply.
        };
        let once = match &plan.update {
            Some(update) => {
                prop_assert!(update.validate(now()).is_ok(), "{:?}", update.validate(now()));
                prop_assert!(!plan.changes.is_empty());
                applied(&current, update)
            }
            None => {
                prop_assert!(plan.changes.is_empty(), "no update, no change");
                current.clone()
            }
        };
        // `In` is relative to the moment: applied again at the same moment, it is the same expiry.
        let again = edit.apply(&once, now()).unwrap();
        prop_assert_eq!(again.update, None, "a second application changes nothing");
        prop_assert!(plan.conflicts(&once).is_empty(), "the result reads as sent");
    }

    #[test]
    fn the_result_never_holds_what_the_edit_removed(
        current in listed(),
        add in ips(),
        remove in ips(),
        add_scopes in scopes(),
        remove_scopes in scopes(),
    ) {
        let remove: Vec<_> = remove.into_iter().filter(|ip| !add.contains(ip)).collect();
        let remove_scopes: Vec<_> = remove_scopes.into_iter().filter(|name| !add_scopes.contains(name)).collect();
        let edit = TokenEdit::new()
            .add_ips(add.clone())
            .remove_ips(remove.clone())
            .add_scopes(add_scopes.clone())
            .remove_scopes(remove_scopes.clone());
        prop_assume!(!edit.is_empty());
        let Ok(plan) = edit.apply(&current, now()) else {
            return Ok(());
        };
        let result = plan.update.as_ref().map_or_else(|| current.clone(), |update| applied(&current, update));
        for ip in &remove {
            prop_assert!(!result.ips_whitelist.contains(&ip.to_string()), "{ip} removed but present");
        }
        for name in &remove_scopes {
            prop_assert!(!result.scope_names.contains(name), "{name} removed but present");
        }
        for name in &add_scopes {
            prop_assert!(result.scope_names.contains(name), "{name} added but absent");
        }
        if !current.ips_whitelist.is_empty() {
            for ip in &add {
                prop_assert!(result.ips_whitelist.contains(&ip.to_string()), "{ip} added but absent");
            }
        } else {
            prop_assert!(result.ips_whitelist.is_empty(), "an open token stays open");
        }
        // Expiries are untouched by an edit that does not name them.
        prop_assert_eq!(result.expires_at.map(|at| at.trunc_subsecs(0)), current.expires_at.map(|at| at.trunc_subsecs(0)));
    }
}
