//! What `edit` comes to on each selected token (a [`Verdict`]), and how its fields and changes are named to the
//! user: shared by the run (`mod.rs`) and the printing (`check.rs`).

use chrono::{DateTime, Utc};
use etoro_client::{DesiredToken, EditPlan, FieldChange, InvalidInput, TokenEdit, UserToken};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::bulk::journal::Journal;

/// What the edit comes to on one selected token.
pub(crate) enum Verdict {
    /// A PATCH to send (boxed: a plan is large, and most tokens of a selection may not change).
    Change(Box<EditPlan>),
    /// Nothing to change (with the notes that say why, if any).
    Unchanged(Vec<String>),
    /// An earlier run with this journal sent the state the token reads as now.
    DoneBefore,
    /// The edit breaks a rule on this token: nothing is sent for it.
    Refused(InvalidInput),
    /// Named by --token, absent from the listing.
    Missing,
}

/// One selected token and its verdict; `position` numbers the selection from 1 (the engine's "line").
pub(crate) struct Selected {
    pub position: u64,
    pub token: Uuid,
    pub verdict: Verdict,
}

/// The flags behind a field the library names.
pub(crate) fn flag_of(field: &str) -> String {
    let flags: Vec<&str> = field
        .split(", ")
        .map(|field| match field {
            "edit" => "--add-ip, --remove-ip, --add-scope, --remove-scope, --extend, --expires-in, --expires-at",
            "addIps" => "--add-ip",
            "removeIps" => "--remove-ip",
            "addScopes" => "--add-scope",
            "removeScopes" => "--remove-scope",
            "extend" => "--extend",
            "expiresIn" => "--expires-in",
            "expiresAt" => "--expires-at",
            other => other,
        })
        .collect();
    flags.join(", ")
}

/// What the edit comes to on `token`; with a journal, a relative expiry change already made by an earlier run
/// is not made again.
pub(crate) fn verdict(
    edit: &TokenEdit,
    token: &UserToken,
    journal: Option<&Journal>,
    portfolio: Uuid,
    now: DateTime<Utc>,
) -> Verdict {
    if edit.is_relative() && journal.is_some_and(|journal| sent_before(journal, portfolio, token)) {
        return Verdict::DoneBefore;
    }
    match edit.apply(token, now) {
        Ok(plan) if plan.update.is_some() => Verdict::Change(Box::new(plan)),
        Ok(plan) => Verdict::Unchanged(plan.notes),
        Err(err) => Verdict::Refused(err),
    }
}

/// True when the last body the journal recorded for `token` (sent, or perhaps sent) is the state it reads as.
fn sent_before(journal: &Journal, portfolio: Uuid, token: &UserToken) -> bool {
    let Some(last) = journal.history(portfolio, token.id).last() else {
        return false;
    };
    let Ok(body) = serde_json::from_str::<etoro_client::types::UpdateUserTokenRequest>(&last.key.body) else {
        return false;
    };
    let mut desired = DesiredToken::new();
    if let Some(names) = body.scope_names {
        desired = desired.scope_names(names.into_iter().map(String::from));
    }
    if let Some(ips) = body.ips_whitelist {
        desired = desired.ips_whitelist(ips);
    }
    if let Some(at) = body.expires_at {
        desired = desired.expires_at(at);
    }
    // Exact values only, so the instant does not matter (one long ago never finds the expiry past).
    matches!(desired.reconcile(token, DateTime::<Utc>::UNIX_EPOCH), Ok(None))
}

/// The changes as JSON: one object per field.
pub(crate) fn changes_json(changes: &[FieldChange]) -> Value {
    json!(changes
        .iter()
        .map(|change| json!({"field": change.field, "from": change.from, "to": change.to}))
        .collect::<Vec<_>>())
}
