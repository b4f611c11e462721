//! `etoro-token rotate`: replace a user token by a new one with the same scopes, IP allow-list and expiry, store
//! the new secret, and only then revoke the old token. The state machine is the library's
//! (`etoro_client::rotation`, where it is documented); this command parses, confirms and prints.
//!
//! The state lives in `$XDG_STATE_HOME/etoro-token/rotations/` (else `~/.local/state/...`), one file per
//! agent-portfolio and old token, so a rerun from any directory resumes it; `--state FILE` puts it elsewhere.

use std::path::{Path, PathBuf};

use clap::Args;
use etoro_client::rotation::{
    absolute, Expiry, FileError, FileSecretSink, FileStateStore, PlanStatus, Rotated, Rotation, RotationError,
};
use etoro_client::ApiVersion;
use uuid::Uuid;

use crate::cmd::confirm;
use crate::cmd::flags::in_flag_terms;
use crate::cmd::rotation::{default_state_dir, exit_of, StdoutSink, STDOUT};
use crate::connect::connect_for_one;
use crate::exit::{Exit, TABLE};
use crate::options::{Connection, TokenSettings, CREDENTIALS_HELP};
use crate::output;

const EXAMPLES: &str = "\
Examples:
  # Rotate the README's token against the embedded mock; the new secret goes to a new file (mode 0600):
  etoro-token rotate --mock --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 \\
      --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f --secret-file bot.secret --yes

  # Interrupted (Ctrl-C, a crash, a lost answer)? Run the same command again, from any directory: it resumes
  # from its state and ends with one new token, its secret stored, the old token revoked.

  # A token listed with deprecated scope ids only: name the new token's scopes.
  etoro-token rotate --portfolio 3fa8... --token 9b2d... --scope etoro-public:trade.real:read --secret-file new.secret";

/// `etoro-token rotate`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{EXAMPLES}"))]
#[command(mut_arg("scopes", |arg| arg.help(
    "The new token's scope names (repeatable) [default: the old token's]. Required when the old token is \
     listed with deprecated scope ids only: no id is mapped to a name by guessing",
)))]
#[command(mut_arg("ips", |arg| arg.help("The new token's IPv4 allow-list (repeatable) [default: the old token's]")))]
#[command(mut_arg("expires_at", |arg| arg.help("The new token's expiry (RFC 3339) [default: the old token's]")))]
#[command(mut_arg("expires_in", |arg| arg.help("The new token's expiry, this long from now (e.g. 90d)")))]
pub struct RotateArgs {
    /// The agent-portfolio that owns the token.
    #[arg(long, value_name = "UUID")]
    pub portfolio: Uuid,

    /// The user token to replace.
    #[arg(long, value_name = "UUID")]
    pub token: Uuid,

    /// The new token's name [default: the old name + "-rotated-" + the first 8 hex digits of the old id].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The new token's settings [default: the old token's].
    #[command(flatten)]
    pub settings: TokenSettings,

    /// Write the new secret to this new file (mode 0600; refused if it exists when the rotation starts) instead
    /// of standard output.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// The rotation's state file [default: $XDG_STATE_HOME/etoro-token/rotations/rotation-PORTFOLIO-TOKEN.json,
    /// else under ~/.local/state].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Revoke this token although no state says whose secret it holds (a token of the new name left by a
    /// rotation whose state was lost, or one created by a run that stopped before its secret was known to be
    /// stored). Give it only once nobody uses that token.
    #[arg(long, value_name = "UUID")]
    pub discard_orphan: Option<Uuid>,

    /// Rotate without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

/// Runs or resumes the rotation.
pub async fn run(args: RotateArgs) -> Exit {
    rotate(&args).await.err().unwrap_or(Exit::Success)
}

fn fail(exit: Exit, message: &str) -> Exit {
    output::fail(message, exit)
}

fn file_error(err: FileError) -> Exit {
    let exit = match err {
        FileError::Refused(_) => Exit::Invalid,
        _ => Exit::LocalIo,
    };
    fail(exit, &format!("{err} (nothing was sent)"))
}

async fn rotate(args: &RotateArgs) -> Result<(), Exit> {
    for (flag, id) in [("--portfolio", args.portfolio), ("--token", args.token)] {
        if id.is_nil() {
            return Err(fail(
                Exit::Invalid,
                &format!("invalid {flag}: must not be the nil UUID (nothing was sent)"),
            ));
        }
    }
    // The embedded mock forgets everything when the command ends: so does the state of a rotation against it.
    let scratch = match args.connection.mock && args.state.is_none() {
        true => Some(tempfile::tempdir().map_err(|err| fail(Exit::LocalIo, &format!("a temporary directory: {err}")))?),
        false => None,
    };
    let state_dir = scratch
        .as_ref()
        .map(|dir| dir.path().to_owned())
        .or_else(default_state_dir);
    let state_path = match (&args.state, &state_dir) {
        (Some(path), _) => path.clone(),
        (None, Some(dir)) => dir.join(FileStateStore::file_name(args.portfolio, args.token)),
        (None, None) => {
            return Err(fail(
                Exit::Invalid,
                "no state directory: set XDG_STATE_HOME or HOME, or give --state FILE",
            ))
        }
    };
    let mut lock = state_path.clone().into_os_string();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    crate::file_roles::one_file_one_role(&[
        ("--secret-file", args.secret_file.as_deref()),
        ("--state", Some(&state_path)),
        ("the lock of --state", Some(&lock)),
    ])
    .map_err(|message| fail(Exit::Invalid, &message))?;
    let mut store = match (&args.state, &state_dir) {
        (None, Some(dir)) => FileStateStore::in_dir(dir, args.portfolio, args.token),
        _ => FileStateStore::at(&state_path),
    }
    .map_err(file_error)?;
    let recorded = store.read().map_err(file_error)?;
    let destination = match &args.secret_file {
        Some(file) => absolute(file).map_err(|err| fail(Exit::LocalIo, &format!("--secret-file: {err}")))?,
        None => PathBuf::from(STDOUT),
    };
    match recorded
        .as_ref()
        .and_then(|state| state.secret.as_ref().map(|secret| (state, secret)))
    {
        Some((state, secret)) if Path::new(&secret.place) != destination && !state.step.is_past_storing() => {
            let flag = match secret.place.as_str() {
                STDOUT => "without --secret-file".to_owned(),
                place => format!("with --secret-file {place}"),
            };
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "--secret-file: the rotation recorded in {} sends the new secret to {}; run the same command {flag} \
                     (nothing was sent)",
                    store.path().display(),
                    secret.place
                ),
            ));
        }
        None if recorded.is_none() && args.secret_file.as_ref().is_some_and(|f| f.symlink_metadata().is_ok()) => {
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "--secret-file {} already exists, and a secret file is never overwritten (nothing was sent)",
                    destination.display()
                ),
            ));
        }
        _ => {}
    }
    confirm::possible(args.yes, "rotate")?;
    let connected = connect_for_one(&args.connection, ApiVersion::V2).await?;
    let mut rotation =
        Rotation::new(&connected.client, args.portfolio, args.token).on_event(|event| output::note(&event.to_string()));
    if let Some(name) = &args.name {
        rotation = rotation.name(name.clone());
    }
    let settings = &args.settings;
    if !settings.scopes.is_empty() {
        rotation = rotation.scopes(settings.scopes.iter().cloned());
    }
    if !settings.ips.is_empty() {
        rotation = rotation.ips_whitelist(settings.ips.iter().copied());
    }
    match (settings.expires_at, settings.expires_in) {
        (Some(at), _) => rotation = rotation.expiry(Expiry::At(at)),
        (None, Some(after)) => rotation = rotation.expiry(Expiry::In(after)),
        (None, None) => {}
    }
    if let Some(orphan) = args.discard_orphan {
        rotation = rotation.discard_orphan(orphan);
    }
    let plan = rotation.plan(&mut store).await.map_err(|err| stopped(&err, args))?;
    let state = &plan.state;
    let question = match plan.status {
        PlanStatus::Finished => "",
        PlanStatus::Resume => {
            if args.settings.any() {
                output::note(
                    "note: --scope, --ip, --expires-*: ignored, a resumed rotation keeps its recorded settings",
                );
            }
            output::note(&format!(
                "resuming the rotation of user token {} recorded in {} (step: {})",
                state.old_token,
                store.path().display(),
                state.step.name()
            ));
            "Go on with it?"
        }
        _ => {
            let allowed = state.ips_whitelist.as_ref().map_or_else(
                || "any address".to_owned(),
                |ips| ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            );
            output::note(&format!(
                "rotating user token {} ({:?}) of agent-portfolio {}: new token {:?} with scopes {}; allowed from \
                 {allowed}; expires {}; its secret goes to {}; then {} is revoked",
                state.old_token,
                state.old_name.as_deref().unwrap_or("-"),
                state.portfolio,
                state.new_name,
                state.scope_names.join(", "),
                state
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339()),
                destination.display(),
                state.old_token
            ));
            "Rotate?"
        }
    };
    if !question.is_empty() && !args.yes && !confirm::ask(question) {
        return Err(fail(Exit::Invalid, "not confirmed: nothing was changed"));
    }
    let rotated = match &args.secret_file {
        Some(file) => {
            let mut sink = FileSecretSink::new(file).map_err(|err| fail(Exit::LocalIo, &err.to_string()))?;
            rotation.run(plan, &mut store, &mut sink).await
        }
        None => rotation.run(plan, &mut store, &mut StdoutSink).await,
    }
    .map_err(|err| stopped(&err, args))?;
    done(&rotated, scratch.is_none().then(|| store.path()))
}

/// Prints how the rotation ended.
fn done(rotated: &Rotated, kept: Option<&Path>) -> Result<(), Exit> {
    let state = kept.unwrap_or(Path::new("(a temporary file, the embedded mock's)"));
    let place = rotated.secret.as_ref().map_or(STDOUT, |secret| secret.place.as_str());
    if rotated.already_done {
        output::note(&format!(
            "nothing to do: the rotation recorded in {} is complete (user token {} replaced by {} ({:?}), revoked; \
             its secret went to {place}); nothing was sent",
            state.display(),
            rotated.old_token,
            rotated.new_token,
            rotated.new_name
        ));
        return Ok(());
    }
    let how = match (rotated.revoke_request_id, rotated.old_already_gone) {
        (_, true) => "was already gone (an earlier revoke whose answer was lost, or someone else, did it)".to_owned(),
        (Some(id), false) => format!("is revoked (request id {id})"),
        (None, false) => "is revoked".to_owned(),
    };
    let summary = format!(
        "rotated: user token {} of agent-portfolio {} {how}; its replacement is user token {} ({:?})",
        rotated.old_token, rotated.portfolio, rotated.new_token, rotated.new_name
    );
    if place == STDOUT {
        // Standard output holds the secret alone; people's text goes to standard error.
        output::note(&summary);
    } else {
        output::line(&format!("{summary}; its secret is in {place}"))?;
    }
    if let Some(state) = kept {
        output::note(&format!(
            "{} records the finished rotation (a new run says so and sends nothing); delete it when you like",
            state.display()
        ));
    }
    Ok(())
}

/// Prints why the rotation stopped, and what resolves it.
fn stopped(err: &RotationError, args: &RotateArgs) -> Exit {
    let message = match err {
        RotationError::Invalid(invalid) => format!("{} (a value not given is the old token's)", in_flag_terms(invalid)),
        RotationError::NameTaken { .. } | RotationError::SameName(_) | RotationError::NameChanged(_) => {
            format!("--name: {err}")
        }
        RotationError::Call { .. } => format!("{err}: run the same command again"),
        _ => err.to_string(),
    };
    let exit = output::fail(&message, exit_of(err));
    if let Some(token) = err.undecided_token() {
        output::note(&format!(
            "once nobody uses user token {token}, run: etoro-token rotate --portfolio {} --token {} --discard-orphan \
             {token} (and the other flags of this command)",
            args.portfolio, args.token
        ));
    }
    exit
}
