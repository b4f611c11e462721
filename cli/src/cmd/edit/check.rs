//! `edit`'s printing outside the bulk engine: the plan, the tokens it does not send, and the check after the
//! run that every updated token reads as it was sent (a lost update otherwise: conflict, exit 7).

use std::collections::HashMap;

use etoro_client::{CancellationToken, Client, EditPlan, FieldChange};
use serde_json::json;
use uuid::Uuid;

use super::selection::{changes_json, flag_of, Selected, Verdict};
use crate::bulk::interrupt::{Interrupt, Signal};
use crate::exit::Exit;
use crate::output;
use crate::report::report_error;

/// Prints the plan and returns its exit code: refused tokens (2) and missing ones (3) first, then 6 when
/// something would change, else 0.
pub(crate) fn print_plan(portfolio: Uuid, selection: &[Selected], as_json: bool) -> Exit {
    let (mut change, mut unchanged, mut refused, mut missing) = (0u64, 0u64, 0u64, 0u64);
    for selected in selection {
        let head = json!({"portfolio": portfolio, "token": selected.token});
        let (action, shown) = match &selected.verdict {
            Verdict::Change(plan) => {
                change += 1;
                let mut lines = vec![format!("~ token {} of agent-portfolio {portfolio}", selected.token)];
                lines.extend(plan.changes.iter().map(|change| format!("    {change}")));
                lines.extend(plan.notes.iter().map(|note| format!("    note: {note}")));
                let mut object = head;
                object["changes"] = changes_json(&plan.changes);
                object["notes"] = json!(plan.notes);
                ("change", Some((lines, object)))
            }
            Verdict::Unchanged(notes) => {
                unchanged += 1;
                let lines = notes
                    .iter()
                    .map(|note| format!("= token {} of agent-portfolio {portfolio}: {note}", selected.token))
                    .collect();
                let mut object = head;
                object["notes"] = json!(notes);
                ("unchanged", Some((lines, object)))
            }
            Verdict::DoneBefore => {
                unchanged += 1;
                ("unchanged", None)
            }
            Verdict::Refused(err) => {
                refused += 1;
                let message = format!("{}: {}", flag_of(&err.field), err.rule);
                let lines = vec![format!(
                    "! token {} of agent-portfolio {portfolio}: refused: {message}",
                    selected.token
                )];
                let mut object = head;
                object["error"] = json!(message);
                ("refused", Some((lines, object)))
            }
            Verdict::Missing => {
                missing += 1;
                let message = format!("token {} is not in agent-portfolio {portfolio}", selected.token);
                let mut object = head;
                object["error"] = json!(message);
                ("missing", Some((vec![format!("! {message}")], object)))
            }
        };
        let printed = match shown {
            Some((_, mut object)) if as_json => {
                object["action"] = json!(action);
                output::line(&object.to_string())
            }
            Some((lines, _)) => lines.iter().try_for_each(|line| output::line(line)),
            None => Ok(()),
        };
        if let Err(exit) = printed {
            return exit;
        }
    }
    let broken = [
        (refused > 0).then_some(Exit::Invalid),
        (missing > 0).then_some(Exit::Refused),
    ];
    let pending = if change > 0 { Exit::Changes } else { Exit::Success };
    let exit = broken.into_iter().flatten().max().unwrap_or(pending);
    let printed = if as_json {
        output::line(
            &json!({"plan": {"change": change, "unchanged": unchanged, "refused": refused, "missing": missing,
                              "exitCode": exit as i32}})
            .to_string(),
        )
    } else {
        output::line(&format!(
            "plan: {change} to change, {unchanged} unchanged, {refused} refused, {missing} missing; nothing was changed"
        ))
    };
    match printed {
        Ok(()) => exit,
        Err(io) => io,
    }
}

/// Reports a token that is not sent: the JSON result on stdout, or each note on stderr.
pub(crate) fn report_unchanged(
    portfolio: Uuid,
    token: Uuid,
    notes: &[String],
    outcome: &str,
    as_json: bool,
) -> Result<(), Exit> {
    if as_json {
        let key = if outcome == "refused" { "error" } else { "notes" };
        let value = if outcome == "refused" {
            json!(notes.join("; "))
        } else {
            json!(notes)
        };
        return output::line(
            &json!({"portfolio": portfolio, "token": token, "outcome": outcome, key: value}).to_string(),
        );
    }
    for note in notes {
        output::note(&format!("token {token} of agent-portfolio {portfolio}: {note}"));
    }
    Ok(())
}

/// How the read-back ended.
pub(crate) struct Checked {
    /// 0, 7 for a conflict, or the exit code of a failed read-back.
    pub exit: Exit,
    /// How many updated tokens were read back, and how many of them differ.
    pub checked: usize,
    pub conflicts: usize,
}

/// Reads the tokens again and compares every updated one with what was sent: one that differs (or is gone) was
/// written by someone else after our listing; it is reported with both states and not written again (exit 7).
/// Ctrl-C or SIGTERM ends the read-back at once (the process exits 130 or 143, saying what was not checked).
pub(crate) async fn check(
    client: &Client,
    portfolio: Uuid,
    updated: &[(Uuid, Uuid)],
    plans: &HashMap<Uuid, EditPlan>,
    as_json: bool,
) -> Checked {
    let mut checked = Checked {
        exit: Exit::Success,
        checked: 0,
        conflicts: 0,
    };
    if updated.is_empty() {
        return checked;
    }
    let stop = CancellationToken::new();
    let interrupt = Interrupt::listen(
        stop.clone(),
        "The updates were made; they were not read back.".to_owned(),
    );
    let listing = tokio::select! {
        listing = client.list_agent_portfolios() => listing,
        () = stop.cancelled() => {
            let signal = interrupt.as_ref().ok().and_then(Interrupt::received).unwrap_or(Signal::Interrupt);
            output::note(&format!(
                "interrupted ({}) while reading the {} updated token(s) back: they were updated, but not checked for \
                 writes by someone else; check them with `etoro-token list`",
                signal.name(),
                updated.len()
            ));
            std::process::exit(signal.exit_code());
        }
    };
    drop(interrupt);
    let listing = match listing {
        Ok(listing) => listing,
        Err(err) => {
            output::note(
                "error: the tokens were updated, but reading them back to check for writes by someone else failed:",
            );
            checked.exit = report_error(&err, as_json);
            return checked;
        }
    };
    let tokens: HashMap<Uuid, _> = listing
        .into_iter()
        .filter(|listed| listed.id == portfolio)
        .flat_map(|listed| listed.tokens)
        .map(|token| (token.id, token))
        .collect();
    for (_, token) in updated {
        let Some(plan) = plans.get(token) else {
            continue;
        };
        let found: Option<Vec<FieldChange>> = tokens.get(token).map(|reread| plan.conflicts(reread));
        checked.checked += 1;
        if found.as_ref().is_some_and(Vec::is_empty) {
            continue;
        }
        checked.conflicts += 1;
        let printed = if as_json {
            let side = |ours: bool| {
                found.as_ref().map(|changes| {
                    changes
                        .iter()
                        .map(|change| {
                            let value = if ours { &change.to } else { &change.from };
                            json!({"field": change.field, "value": value})
                        })
                        .collect::<Vec<_>>()
                })
            };
            output::line(
                &json!({"portfolio": portfolio, "token": token, "outcome": "conflict",
                        "ours": side(true), "found": side(false)})
                .to_string(),
            )
        } else {
            output::note(&format!(
                "conflict: token {token} of agent-portfolio {portfolio} was written by someone else after our \
                 listing; not written again:"
            ));
            match &found {
                Some(changes) => {
                    for change in changes {
                        output::note(&format!(
                            "    {}: sent {}, found {}",
                            change.field, change.to, change.from
                        ));
                    }
                }
                None => output::note("    it is no longer listed (revoked?)"),
            }
            Ok(())
        };
        if let Err(exit) = printed {
            checked.exit = exit;
            return checked;
        }
    }
    if checked.conflicts > 0 {
        output::note(&format!(
            "{} token(s) read back differently from what was sent (exit 7): check them with `etoro-token list`",
            checked.conflicts
        ));
        checked.exit = Exit::Conflict;
    }
    checked
}
