//! `etoro-token update` with flags: one token. (`--from FILE` is the bulk mode, in `crate::bulk`.)

use etoro_client::{Client, Error, PreparedRequest, TokenUpdate};
use serde_json::{json, Map, Value};

use crate::args::UpdateArgs;
use crate::cmd::flags;
use crate::connect::connect_for_one;
use crate::exit::Exit;
use crate::report::Report;
use crate::{bulk, output, report_error};

/// Runs `update`: one token from the flags, or a file with `--from`.
pub async fn run(args: UpdateArgs) -> Exit {
    if let Some(flag) = args.bulk_flag_without_from() {
        output::note(&format!(
            "error: {flag} applies to bulk mode only: give --from FILE.jsonl (nothing was sent)"
        ));
        return Exit::Invalid;
    }
    if let Some(path) = &args.from {
        // Bulk mode builds its own client: one pace for every attempt, and a deadline that waits for quota.
        return bulk::update_from(&args, path).await;
    }
    let connected = match connect_for_one(&args.connection, args.api.into()).await {
        Ok(connected) => connected,
        Err(exit) => return exit,
    };
    single(&connected.client, &args).await
}

/// The update the flags describe.
fn update_from_flags(args: &UpdateArgs) -> TokenUpdate {
    let mut update = TokenUpdate::new();
    if !args.scopes.is_empty() {
        update = update.scope_names(args.scopes.iter().cloned());
    } else if !args.scope_ids.is_empty() {
        output::note("warning: --scope-id sends the deprecated scopeIds; eToro prefers scope names (--scope)");
        #[allow(deprecated)]
        {
            update = update.scope_ids(args.scope_ids.iter().copied());
        }
    }
    if !args.ips.is_empty() {
        update = update.ips_whitelist(args.ips.iter().copied());
    }
    if let Some(at) = args.expires_at {
        update = update.expires_at(at);
    }
    if let Some(after) = args.expires_in {
        update = update.expires_in(after);
    }
    update
}

async fn single(client: &Client, args: &UpdateArgs) -> Exit {
    let (Some(portfolio), Some(token)) = (args.portfolio, args.token) else {
        unreachable!("clap requires --portfolio and --token without --from");
    };
    let mut call = client.update_user_token(portfolio, token, update_from_flags(args));
    if let Some(id) = args.request_id {
        call = call.request_id(id);
    }
    let result = if args.dry_run {
        call.dry_run().await.map(|request| print_prepared(&request, args.json))
    } else {
        call.await.map(|updated| {
            if args.json {
                output::line(&Report::updated(&updated).to_json())
            } else {
                output::line(&format!(
                    "updated user token {token} of agent-portfolio {portfolio} (request id {})",
                    updated.request_id
                ))
            }
        })
    };
    match result {
        Ok(printed) => printed.err().unwrap_or(Exit::Success),
        Err(Error::InvalidInput(invalid)) if !args.json => {
            output::note(&format!("error: {}", flags::in_flag_terms(&invalid)));
            Exit::Invalid
        }
        Err(err) => report_error(&err, args.json),
    }
}

/// Prints a dry-run request: as a JSON object, or as a `curl` command to paste into a ticket.
pub fn print_prepared(request: &PreparedRequest, as_json: bool) -> Result<(), Exit> {
    if as_json {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::String(request.body.clone()));
        let shown =
            json!({ "dryRun": true, "method": request.method, "url": request.url, "headers": headers, "body": body });
        return output::line(&shown.to_string());
    }
    request.to_string().lines().try_for_each(output::line)
}
