//! `etoro-token rotate`: replace a user token by a new one with the same scopes, IP allow-list and expiry, store
//! the new secret, and only then revoke the old token. eToro has no "rotate": tokens have no refresh, the secret
//! is returned by the create call only, and a token's state is readable only through the list.
//!
//! # The state machine
//!
//! A rotation is recorded in a small state file (`--state`; by default `<secret-file>.rotation.json`, or
//! `etoro-token-rotation-<old token>.json` in the current directory when the secret goes to standard output),
//! written atomically (temporary file, fsync, rename, directory fsync) before each step that could leave
//! something behind. It holds no secret. Its steps, and what a run that finds each one does:
//!
//! | step | recorded | a run that finds it |
//! |---|---|---|
//! | (no file) | | lists the tokens, takes the old one's settings, fixes the new name, creates the secret file (`O_EXCL`, 0600), records `planned` |
//! | `planned` | before anything is sent | goes on like `createSent` |
//! | `createSent` | just before the create is sent (with its request id once known) | lists the tokens; a token of the new name is one whose create answer was lost: nobody holds its secret, so it is revoked; then records `createSent` and creates |
//! | `created` | as soon as the create answers, with the new id | the secret was never stored: revokes the new token, records `planned`, creates again |
//! | `secretStored` | once the secret is written and flushed to standard output, or written and fsynced (file and directory) | revokes the old token (a 404 counts as done once the list confirms it is gone) |
//! | `oldRevoked` | once the revoke answered | nothing: says the rotation is complete and exits 0 without sending anything |
//!
//! So wherever a run stops (killed, a lost answer, a full disk), running the same command again ends with exactly
//! one new token whose secret was stored, and the old token revoked; the old token is revoked only after the
//! new secret is safe. The crash points:
//!
//! - before the create: `planned` or `createSent`, and the list shows no token of the new name: create;
//! - the create sent, its answer lost (in this run: the library's "outcome unknown"; or the process died):
//!   `createSent`; the list shows the token by its name (eToro refuses a second token of one name with 409, and
//!   a 409 is handled the same way): revoke it, create again;
//! - created, the secret not stored (the process died, standard output or the disk failed): `created`; in the
//!   same run the new token is revoked at once when storing fails (exit 5), else by the next run;
//! - the secret stored, the revoke not done or its answer lost: `secretStored`: revoke the old token again;
//!   eToro's 404 then means an earlier revoke did it;
//! - the old token revoked: `oldRevoked`: a no-op.
//!
//! A create that eToro refuses for good (not "outcome unknown") leaves nothing behind: the state file and the
//! still-empty secret file are removed, so the corrected command starts afresh. The new name is fixed by the
//! first run: `--name`, or the old name (without an earlier `-rotated-…` suffix) plus `-rotated-` and the first
//! 8 hex digits of the old token's id, so it is the same for every run of one rotation, and a token of that name
//! found at the start is the leftover of an earlier rotation of this token whose state was lost (and is revoked
//! like any other leftover). With standard output as the destination, a secret that was printed by a run killed
//! before recording `secretStored` is printed again for a newer token on the next run; the older one is revoked.
//!
//! The state file is locked (`<state>.lock`, `flock`) for the whole run, so two runs of one rotation never
//! interleave. A run that starts from a state takes the recorded settings; flags that would change them are
//! refused (`--secret-file`, `--name`) or ignored with a note (`--scope`, `--ip`, `--expires-*`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use etoro_client::secrecy::ExposeSecret;
use etoro_client::{code, AgentPortfolio, ApiVersion, Client, CreatedToken, Error, NewToken, TokenName};
use uuid::Uuid;

use crate::args::{parse_duration, parse_instant, Connection, CREDENTIALS_HELP};
use crate::cmd::flags::in_flag_terms;
use crate::cmd::rotation::{sibling, Destination, Lock, State, Step, VERSION};
use crate::cmd::secret::{self, Reopen, SecretFile};
use crate::cmd::{confirm, raw};
use crate::connect::connect_for_one;
use crate::exit::{exit_for, Exit, TABLE};
use crate::output;

const EXAMPLES: &str = "\
Examples:
  # Rotate the README's token against the embedded mock; the new secret goes to a new file (mode 0600):
  etoro-token rotate --mock --portfolio 3fa85f64-5717-4562-b3fc-2c963f66afa6 \\
      --token 9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f --secret-file bot.secret --yes

  # Interrupted (Ctrl-C, a crash, a lost answer)? Run the same command again: it resumes from
  # bot.secret.rotation.json and ends with one new token, its secret in bot.secret, the old token revoked.

  # A token listed with deprecated scope ids only: name the new token's scopes.
  etoro-token rotate --portfolio 3fa8... --token 9b2d... --scope etoro-public:trade.real:read --secret-file new.secret";

/// How many creates one run sends at most: each may be answered by a lost answer, and each lost answer costs a
/// list and a revoke before the next.
const MAX_CREATES: u32 = 3;

/// `etoro-token rotate`.
#[derive(Debug, Args)]
#[command(after_help = format!("{CREDENTIALS_HELP}\n\n{TABLE}\n\n{EXAMPLES}"))]
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

    /// The new token's scope names (repeatable) [default: the old token's]. Required when the old token is
    /// listed with deprecated scope ids only: no id is mapped to a name by guessing.
    #[arg(long = "scope", value_name = "NAME")]
    pub scopes: Vec<String>,

    /// The new token's IPv4 allow-list (repeatable) [default: the old token's].
    #[arg(long = "ip", value_name = "IPV4")]
    pub ips: Vec<Ipv4Addr>,

    /// The new token's expiry (RFC 3339) [default: the old token's].
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
    pub expires_at: Option<DateTime<Utc>>,

    /// The new token's expiry, this long from now (e.g. 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "expires_at")]
    pub expires_in: Option<Duration>,

    /// Write the new secret to this new file (mode 0600; refused if it exists when the rotation starts) instead
    /// of standard output.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// The rotation's state file [default: SECRET_FILE.rotation.json, or ./etoro-token-rotation-TOKEN.json
    /// without --secret-file].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Rotate without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Where and how to connect.
    #[command(flatten)]
    pub connection: Connection,
}

impl RotateArgs {
    fn state_path(&self) -> PathBuf {
        match (&self.state, &self.secret_file) {
            (Some(state), _) => state.clone(),
            (None, Some(file)) => sibling(file, ".rotation.json"),
            (None, None) => PathBuf::from(format!("etoro-token-rotation-{}.json", self.token)),
        }
    }

    fn destination(&self) -> Destination {
        match &self.secret_file {
            Some(path) => Destination::File {
                path: path.clone(),
                id: None,
            },
            None => Destination::Stdout,
        }
    }
}

/// Runs or resumes the rotation.
pub async fn run(args: RotateArgs) -> Exit {
    match rotate(&args).await {
        Ok(()) => Exit::Success,
        Err(exit) => exit,
    }
}

/// Prints an error line and gives its exit code.
fn fail(exit: Exit, message: &str) -> Exit {
    output::fail(message, exit)
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
    let path = args.state_path();
    crate::file_roles::one_file_one_role(&[("--secret-file", args.secret_file.as_deref()), ("--state", Some(&path))])
        .map_err(|message| fail(Exit::Invalid, &message))?;
    if let Some(file) = &args.secret_file {
        let taken = [path.clone(), sibling(&path, ".tmp"), sibling(&path, ".lock")];
        if taken.contains(file) {
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "--secret-file {} is the rotation's state (or its lock): give them different paths (nothing \
                     was sent)",
                    file.display()
                ),
            ));
        }
    }
    let _lock = match Lock::take(&path) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "another etoro-token is running this rotation ({} is locked); nothing was sent",
                    path.display()
                ),
            ))
        }
        Err(err) => {
            return Err(fail(
                Exit::LocalIo,
                &format!("cannot lock the rotation state {}: {err}", path.display()),
            ))
        }
    };
    let loaded = State::load(&path).map_err(|message| fail(Exit::LocalIo, &format!("{message} (nothing was sent)")))?;
    match &loaded {
        Some(state) => {
            check_resume(state, args, &path)?;
            if let Step::OldRevoked { new_token, .. } = state.step {
                output::note(&format!(
                    "nothing to do: the rotation recorded in {} is complete (user token {} replaced by {} ({:?}), \
                     revoked); nothing was sent",
                    path.display(),
                    state.old_token,
                    new_token,
                    state.new_name
                ));
                return Ok(());
            }
        }
        None => {
            if let Some(file) = &args.secret_file {
                if file.symlink_metadata().is_ok() {
                    return Err(fail(
                        Exit::Invalid,
                        &format!(
                            "--secret-file {} already exists, and a secret file is never overwritten (nothing was \
                             sent)",
                            file.display()
                        ),
                    ));
                }
            }
        }
    }
    confirm::possible(args.yes, "rotate")?;
    let mut file = match &loaded {
        Some(state) => reopen_secret_file(state, &path)?,
        None => None,
    };
    let connected = connect_for_one(&args.connection, ApiVersion::V2).await?;
    let client = &connected.client;
    let state = match loaded {
        Some(mut state) => {
            output::note(&format!(
                "resuming the rotation of user token {} recorded in {} (step: {})",
                state.old_token,
                path.display(),
                step_name(&state.step)
            ));
            if !args.yes && !confirm::ask("Go on with it?") {
                return Err(fail(Exit::Invalid, "not confirmed: nothing was sent"));
            }
            if let (Some(new), Destination::File { id, .. }) = (&file, &mut state.secret) {
                if *id != new.id() {
                    // The file was gone and is created again: record the new one as ours before using it.
                    *id = new.id();
                    let step = state.step;
                    save(&mut state, &path, step)?;
                }
            }
            state
        }
        None => {
            let (state, created) = plan(client, args, &path).await?;
            file = created;
            state
        }
    };
    Rotation {
        client,
        state,
        path,
        file,
    }
    .drive()
    .await
}

/// The name of a step, for messages.
fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Planned => "planned",
        Step::CreateSent { .. } => "create sent",
        Step::Created { .. } => "created, secret not stored",
        Step::SecretStored { .. } => "secret stored",
        Step::OldRevoked { .. } => "old token revoked",
    }
}

/// A state found on disk must be the rotation the flags describe.
fn check_resume(state: &State, args: &RotateArgs, path: &Path) -> Result<(), Exit> {
    if state.portfolio != args.portfolio || state.old_token != args.token {
        return Err(fail(
            Exit::Invalid,
            &format!(
                "{} records the rotation of user token {} of agent-portfolio {}, not of --token {} --portfolio {}: \
                 give another --state (or --secret-file) for this one (nothing was sent)",
                path.display(),
                state.old_token,
                state.portfolio,
                args.token,
                args.portfolio
            ),
        ));
    }
    let same_destination = match (&state.secret, &args.secret_file) {
        (Destination::Stdout, None) => true,
        (Destination::File { path, .. }, Some(given)) => path == given,
        _ => false,
    };
    if !same_destination {
        let recorded = match &state.secret {
            Destination::Stdout => "standard output".to_owned(),
            Destination::File { path, .. } => path.display().to_string(),
        };
        return Err(fail(
            Exit::Invalid,
            &format!(
                "--secret-file: {} records that the new secret goes to {recorded}; run it with the same \
                 --secret-file (nothing was sent)",
                path.display()
            ),
        ));
    }
    if args.name.as_ref().is_some_and(|name| *name != state.new_name) {
        return Err(fail(
            Exit::Invalid,
            &format!(
                "--name: {} records the new name {:?}; a rotation keeps its name across runs (nothing was sent)",
                path.display(),
                state.new_name
            ),
        ));
    }
    let ignored: Vec<&str> = [
        ("--scope", !args.scopes.is_empty()),
        ("--ip", !args.ips.is_empty()),
        ("--expires-at", args.expires_at.is_some()),
        ("--expires-in", args.expires_in.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, given)| given.then_some(flag))
    .collect();
    if !ignored.is_empty() && !matches!(state.step, Step::OldRevoked { .. }) {
        output::note(&format!(
            "note: {} ignored: a resumed rotation uses the settings recorded when it started",
            ignored.join(", ")
        ));
    }
    Ok(())
}

/// The secret file of a resumed rotation: the one it created, created again if it is gone, refused if another
/// file took its place. `None` when the secret goes to standard output or is stored already.
fn reopen_secret_file(state: &State, path: &Path) -> Result<Option<SecretFile>, Exit> {
    let Destination::File { path: file, id } = &state.secret else {
        return Ok(None);
    };
    if matches!(state.step, Step::SecretStored { .. } | Step::OldRevoked { .. }) {
        return Ok(None);
    }
    match SecretFile::reopen(file, *id) {
        Ok(file) => Ok(Some(file)),
        Err(Reopen::Gone) => SecretFile::create(file).map(Some).map_err(|err| {
            fail(
                Exit::LocalIo,
                &format!(
                    "--secret-file {}: cannot create it: {err} (nothing was sent)",
                    file.display()
                ),
            )
        }),
        Err(Reopen::Replaced) => Err(fail(
            Exit::Invalid,
            &format!(
                "--secret-file {} is not the file this rotation created (see {}): it is never overwritten; move it \
                 away and run again (nothing was sent)",
                file.display(),
                path.display()
            ),
        )),
        Err(Reopen::Io(err)) => Err(fail(
            Exit::LocalIo,
            &format!("--secret-file {}: {err} (nothing was sent)", file.display()),
        )),
    }
}

/// Records a step, or says why it cannot be recorded (exit 5).
fn save(state: &mut State, path: &Path, step: Step) -> Result<(), Exit> {
    state.save(path, step).map_err(|err| {
        fail(
            Exit::LocalIo,
            &format!("cannot write the rotation state {}: {err}", path.display()),
        )
    })
}

/// The default new name: the old name, without an earlier rotation's suffix, then `-rotated-` and the first 8
/// hex digits of the old id; cut so that it stays within eToro's 100 characters.
fn derived_name(old_name: Option<&str>, old_id: Uuid) -> String {
    let id = old_id.simple().to_string();
    let suffix = format!("-rotated-{}", &id[..8]);
    let base = match old_name {
        Some(name) => strip_rotated(name),
        None => "token",
    };
    let room = TokenName::MAX_CHARS - suffix.chars().count();
    let base: String = base.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

/// `name` without a trailing `-rotated-XXXXXXXX` (8 hex digits).
fn strip_rotated(name: &str) -> &str {
    const MARK: &str = "-rotated-";
    if let Some(at) = name.rfind(MARK) {
        let tail = &name[at + MARK.len()..];
        if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_hexdigit()) && at > 0 {
            return &name[..at];
        }
    }
    name
}

/// Lists the tokens, takes the old one's settings, asks, creates the secret file and records `planned`.
async fn plan(client: &Client, args: &RotateArgs, path: &Path) -> Result<(State, Option<SecretFile>), Exit> {
    let portfolios = client.list_agent_portfolios().await.map_err(|err| report(&err))?;
    let portfolio = find_portfolio(&portfolios, args.portfolio)?;
    let Some(old) = portfolio.tokens.iter().find(|token| token.id == args.token) else {
        return Err(fail(
            Exit::Refused,
            &format!(
                "eToro lists no user token {} in agent-portfolio {} (nothing was changed)",
                args.token, args.portfolio
            ),
        ));
    };
    let scope_names = if !args.scopes.is_empty() {
        args.scopes.clone()
    } else if !old.scope_names.is_empty() {
        old.scope_names.clone()
    } else if !old.scope_ids.is_empty() {
        let ids: Vec<String> = old.scope_ids.iter().map(i32::to_string).collect();
        return Err(fail(
            Exit::Invalid,
            &format!(
                "user token {} is listed with deprecated scope ids only ({}); eToro's own id-to-name tables \
                 disagree, so no name is guessed: give the new token's scope names with --scope (nothing was \
                 changed)",
                old.id,
                ids.join(", ")
            ),
        ));
    } else {
        return Err(fail(
            Exit::Invalid,
            &format!(
                "user token {} is listed without scopes: give the new token's with --scope (nothing was changed)",
                old.id
            ),
        ));
    };
    let ips = if !args.ips.is_empty() {
        Some(args.ips.clone())
    } else if old.ips_whitelist.is_empty() {
        None
    } else {
        let parsed: Result<Vec<Ipv4Addr>, _> = old.ips_whitelist.iter().map(|ip| ip.parse::<Ipv4Addr>()).collect();
        Some(parsed.map_err(|_| {
            fail(
                Exit::Invalid,
                &format!(
                    "user token {} is listed with an IP allow-list that is not all IPv4 ({}): give the new token's \
                     with --ip (nothing was changed)",
                    old.id,
                    output::escape(&old.ips_whitelist.join(", "))
                ),
            )
        })?)
    };
    let now = Utc::now();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| derived_name(old.name.as_deref(), old.id));
    let mut token = NewToken::new(name.clone(), scope_names.clone());
    if let Some(ips) = &ips {
        token = token.ips_whitelist(ips.iter().copied());
    }
    if let Some(at) = args.expires_at {
        token = token.expires_at(at);
    } else if let Some(after) = args.expires_in {
        token = token.expires_in(after);
    } else if let Some(at) = old.expires_at {
        if at <= now {
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "user token {} expired at {at}: give the new token's expiry with --expires-at or --expires-in \
                     (nothing was changed)",
                    old.id
                ),
            ));
        }
        token = token.expires_at(at);
    }
    if let Err(invalid) = token.validate(now) {
        return Err(fail(
            Exit::Invalid,
            &format!("{} (a value not given is the old token's)", in_flag_terms(&invalid)),
        ));
    }
    if old.name.as_deref() == Some(name.as_str()) {
        return Err(fail(
            Exit::Invalid,
            &format!("--name: the new token needs a name other than the old one's ({name:?}) (nothing was changed)"),
        ));
    }
    if let Some(clash) = portfolio
        .tokens
        .iter()
        .find(|token| token.name.as_deref() == Some(name.as_str()))
    {
        if args.name.is_some() {
            return Err(fail(
                Exit::Invalid,
                &format!(
                    "--name: agent-portfolio {} already has a token named {name:?} ({}); choose another name \
                     (nothing was changed)",
                    args.portfolio, clash.id
                ),
            ));
        }
        output::note(&format!(
            "note: token {} is named {name:?}, as this rotation's new token: it is left by an earlier rotation of \
             {} whose state was lost, nobody holds its secret, and it is revoked before the new token is created",
            clash.id, old.id
        ));
    }
    let destination = match &args.secret_file {
        Some(file) => format!("the new file {}", file.display()),
        None => "standard output".to_owned(),
    };
    let expiry = token.expiry().map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
    let allowed = ips.as_ref().map_or_else(
        || "any address".to_owned(),
        |ips| ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    );
    output::note(&format!(
        "rotating user token {} ({:?}) of agent-portfolio {}: new token {name:?} with scopes {}; allowed from {allowed}; \
         expires {expiry}; its secret goes to {destination}; then {} is revoked",
        old.id,
        old.name.as_deref().unwrap_or("-"),
        args.portfolio,
        scope_names.join(", "),
        old.id
    ));
    if !args.yes && !confirm::ask("Rotate?") {
        return Err(fail(Exit::Invalid, "not confirmed: nothing was changed"));
    }
    let mut destination = args.destination();
    let file = match &mut destination {
        Destination::Stdout => None,
        Destination::File { path: file, id } => {
            let created = SecretFile::create(file).map_err(|err| {
                let exit = match err.kind() {
                    std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::NotFound => Exit::Invalid,
                    _ => Exit::LocalIo,
                };
                fail(
                    exit,
                    &format!(
                        "--secret-file {}: cannot create it: {err} (nothing was changed)",
                        file.display()
                    ),
                )
            })?;
            *id = created.id();
            Some(created)
        }
    };
    let mut state = State {
        version: VERSION,
        portfolio: args.portfolio,
        old_token: old.id,
        old_name: old.name.clone(),
        new_name: name,
        scope_names,
        ips_whitelist: ips,
        expires_at: token.expiry(),
        secret: destination,
        step: Step::Planned,
        updated_at: now,
    };
    if let Err(exit) = save(&mut state, path, Step::Planned) {
        if let Some(file) = file {
            let _ = file.remove();
        }
        return Err(exit);
    }
    Ok((state, file))
}

fn find_portfolio(portfolios: &[AgentPortfolio], id: Uuid) -> Result<&AgentPortfolio, Exit> {
    portfolios.iter().find(|portfolio| portfolio.id == id).ok_or_else(|| {
        fail(
            Exit::Refused,
            &format!("eToro lists no agent-portfolio {id} for these credentials"),
        )
    })
}

/// Prints a failed call (escaped, on stderr) and gives its exit code.
fn report(err: &Error) -> Exit {
    output::note(&format!("error: {err}"));
    exit_for(err)
}

/// How a revoke that tolerates "already gone" ended.
enum Gone {
    /// Revoked now.
    Revoked { request_id: Uuid, already_gone: bool },
    /// eToro answered 404 and the list no longer shows the token.
    Absent,
}

/// Revokes `token`; a 404 counts as done when the list confirms that the token is gone (an earlier revoke whose
/// answer was lost, or someone else, revoked it).
async fn revoke_until_gone(client: &Client, portfolio: Uuid, token: Uuid) -> Result<Gone, Error> {
    match client.revoke_user_token(portfolio, token).await {
        Ok(revoked) => Ok(Gone::Revoked {
            request_id: revoked.request_id,
            already_gone: revoked.already_gone,
        }),
        Err(err) if err.is_not_found() => {
            let listed = client.list_agent_portfolios().await?;
            let still_there = listed
                .iter()
                .filter(|listed| listed.id == portfolio)
                .flat_map(|listed| &listed.tokens)
                .any(|listed| listed.id == token);
            if still_there {
                Err(err)
            } else {
                Ok(Gone::Absent)
            }
        }
        Err(err) => Err(err),
    }
}

/// A rotation on its way: the client, the state and where it is recorded, the secret file (when the secret goes
/// to one and is not stored yet).
struct Rotation<'a> {
    client: &'a Client,
    state: State,
    path: PathBuf,
    file: Option<SecretFile>,
}

impl Rotation<'_> {
    fn save(&mut self, step: Step) -> Result<(), Exit> {
        save(&mut self.state, &self.path, step)
    }

    fn new_token(&self) -> NewToken {
        let mut token = NewToken::new(self.state.new_name.clone(), self.state.scope_names.clone());
        if let Some(ips) = &self.state.ips_whitelist {
            token = token.ips_whitelist(ips.iter().copied());
        }
        if let Some(at) = self.state.expires_at {
            token = token.expires_at(at);
        }
        token
    }

    /// Runs the steps from the recorded one to the end.
    async fn drive(mut self) -> Result<(), Exit> {
        let mut creates = 0;
        loop {
            match self.state.step {
                Step::Planned | Step::CreateSent { .. } => {
                    self.discard_leftovers().await?;
                    if creates == MAX_CREATES {
                        return Err(fail(
                            Exit::Failed,
                            &format!(
                                "{MAX_CREATES} creates in a row ended without a usable answer; nothing of them is \
                                 left (each was revoked): run the same command again later"
                            ),
                        ));
                    }
                    creates += 1;
                    self.create().await?;
                }
                Step::Created { new_token, .. } => {
                    output::note(&format!(
                        "user token {new_token} was created by an earlier run, but its secret was never stored: \
                         revoking it, then creating another"
                    ));
                    self.discard(new_token).await?;
                    if let Some(file) = &mut self.file {
                        file.clear()
                            .map_err(|err| fail(Exit::LocalIo, &format!("cannot empty the secret file: {err}")))?;
                    }
                    self.save(Step::Planned)?;
                }
                Step::SecretStored { new_token } => return self.revoke_old(new_token).await,
                Step::OldRevoked { .. } => return Ok(()),
            }
        }
    }

    /// Revokes every token of the new name (not the old token): a create whose answer was lost made it, and
    /// nobody holds its secret. Also checks that the old token is still there to be replaced.
    async fn discard_leftovers(&mut self) -> Result<(), Exit> {
        let portfolios = self.client.list_agent_portfolios().await.map_err(|err| report(&err))?;
        let portfolio = find_portfolio(&portfolios, self.state.portfolio)?;
        let leftovers: Vec<Uuid> = portfolio
            .tokens
            .iter()
            .filter(|token| token.name.as_deref() == Some(self.state.new_name.as_str()))
            .filter(|token| token.id != self.state.old_token)
            .map(|token| token.id)
            .collect();
        let old_listed = portfolio.tokens.iter().any(|token| token.id == self.state.old_token);
        for leftover in leftovers {
            output::note(&format!(
                "found user token {leftover} named {:?}: made by a create whose answer was lost, nobody holds its \
                 secret; revoking it",
                self.state.new_name
            ));
            self.discard(leftover).await?;
        }
        if !old_listed {
            self.abandon();
            return Err(fail(
                Exit::Refused,
                &format!(
                    "user token {} is no longer listed (revoked elsewhere?): there is nothing to rotate; no new \
                     token was left behind, and the rotation's state is removed",
                    self.state.old_token
                ),
            ));
        }
        Ok(())
    }

    /// Revokes a new token whose secret nobody holds.
    async fn discard(&mut self, token: Uuid) -> Result<(), Exit> {
        match revoke_until_gone(self.client, self.state.portfolio, token).await {
            Ok(_) => Ok(()),
            Err(err) => {
                let exit = report(&err);
                output::note(&format!(
                    "user token {token} (whose secret nobody holds) is not revoked yet: run the same command again"
                ));
                Err(exit)
            }
        }
    }

    /// Nothing of this rotation exists on eToro's side: removes its state and its still-empty secret file.
    fn abandon(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = file.remove();
        }
        if let Err(err) = State::remove(&self.path) {
            output::note(&format!("warning: cannot remove {}: {err}", self.path.display()));
        }
    }

    /// Sends one create and, when it answers, stores the secret.
    async fn create(&mut self) -> Result<(), Exit> {
        self.save(Step::CreateSent { request_id: None })?;
        match self
            .client
            .create_user_token(self.state.portfolio, self.new_token())
            .await
        {
            Ok(created) => self.store(created).await,
            Err(err) if err.code() == Some(code::USER_KEY_NAME_ALREADY_EXISTS) => {
                output::note(&format!(
                    "eToro already has a token named {:?} (an earlier create's answer was lost?); looking for it",
                    self.state.new_name
                ));
                self.save(Step::CreateSent {
                    request_id: err.request_id(),
                })
            }
            Err(err) if err.outcome_unknown() => {
                output::note(&format!("warning: {err}"));
                output::note("looking for it by name before anything else");
                self.save(Step::CreateSent {
                    request_id: err.request_id(),
                })
            }
            Err(err) => {
                let exit = report(&err);
                self.abandon();
                output::note(
                    "nothing was changed: eToro refused the new token, no token of this rotation exists, and its \
                     state is removed; fix the cause and run the command again",
                );
                Err(exit)
            }
        }
    }

    /// Records the new token, stores its secret and records that; when storing fails, revokes the new token.
    async fn store(&mut self, created: CreatedToken) -> Result<(), Exit> {
        if let Err(exit) = self.save(Step::Created {
            new_token: created.id,
            request_id: created.request_id,
        }) {
            // The state still says "create sent", so the next run finds the token by name; revoke it now anyway.
            let _ = revoke_until_gone(self.client, self.state.portfolio, created.id).await;
            return Err(exit);
        }
        let secret = created.secret.expose_secret();
        let stored = match (secret::unusable(secret), &mut self.file) {
            (Some(why), _) => Err((Exit::Failed, why.to_owned())),
            (None, Some(file)) => file
                .store(secret)
                .map_err(|err| (Exit::LocalIo, format!("cannot write it to the secret file: {err}"))),
            (None, None) if matches!(self.state.secret, Destination::Stdout) => raw::secret_line(secret)
                .map_err(|err| (Exit::LocalIo, format!("cannot write it to standard output: {err}"))),
            (None, None) => Err((Exit::LocalIo, "the secret file is not open (a bug)".to_owned())),
        };
        if let Err((exit, why)) = stored {
            output::note(&format!(
                "error: user token {} ({:?}) was created, but its secret could not be stored: {why}; revoking it \
                 (the old token {} is untouched)",
                created.id, created.name, self.state.old_token
            ));
            if let Err(revoke) = self.discard(created.id).await {
                return Err(exit.max(revoke));
            }
            if let Some(file) = &mut self.file {
                let _ = file.clear();
            }
            self.save(Step::Planned)?;
            output::note("the new token is revoked; run the same command again once the secret can be stored");
            return Err(exit);
        }
        self.file = None;
        self.save(Step::SecretStored { new_token: created.id })?;
        let place = match &self.state.secret {
            Destination::Stdout => "on standard output, shown this once".to_owned(),
            Destination::File { path, .. } => format!("in {}", path.display()),
        };
        output::note(&format!(
            "created user token {} ({:?}) (request id {}); its secret is {place}",
            created.id, created.name, created.request_id
        ));
        Ok(())
    }

    /// Revokes the old token, now that the new secret is safe, and records the end.
    async fn revoke_old(&mut self, new_token: Uuid) -> Result<(), Exit> {
        let old = self.state.old_token;
        let (request_id, already_gone) = match revoke_until_gone(self.client, self.state.portfolio, old).await {
            Ok(Gone::Revoked {
                request_id,
                already_gone,
            }) => (Some(request_id), already_gone),
            Ok(Gone::Absent) => (None, true),
            Err(err) => {
                let exit = report(&err);
                output::note(&format!(
                    "the new token {new_token} holds its stored secret; the old token {old} is not revoked yet: run \
                     the same command again"
                ));
                return Err(exit);
            }
        };
        self.save(Step::OldRevoked {
            new_token,
            request_id,
            already_gone,
        })?;
        let how = match (request_id, already_gone) {
            (_, true) => "was already gone (an earlier revoke whose answer was lost did it)".to_owned(),
            (Some(id), false) => format!("is revoked (request id {id})"),
            (None, false) => "is revoked".to_owned(),
        };
        let summary = format!(
            "rotated: user token {old} of agent-portfolio {} {how}; its replacement is user token {new_token} ({:?})",
            self.state.portfolio, self.state.new_name
        );
        match self.state.secret {
            // Standard output holds the secret alone; people's text goes to standard error.
            Destination::Stdout => {
                output::note(&summary);
                Ok(())
            }
            Destination::File { ref path, .. } => {
                output::line(&format!("{summary}; its secret is in {}", path.display()))
            }
        }?;
        output::note(&format!(
            "{} records the finished rotation (a new run says so and sends nothing); delete it when you like",
            self.path.display()
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_is_fixed_by_the_old_token_and_does_not_grow() {
        let old = Uuid::parse_str("9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f").unwrap();
        assert_eq!(derived_name(Some("bot"), old), "bot-rotated-9b2d3c4e");
        assert_eq!(derived_name(Some("bot-rotated-0a1b2c3d"), old), "bot-rotated-9b2d3c4e");
        assert_eq!(
            derived_name(Some("bot-rotated-later"), old),
            "bot-rotated-later-rotated-9b2d3c4e"
        );
        assert_eq!(derived_name(None, old), "token-rotated-9b2d3c4e");
        let long = "é".repeat(100);
        let name = derived_name(Some(&long), old);
        assert_eq!(name.chars().count(), 100);
        assert!(TokenName::new(name.as_str()).is_ok());
        // A base cut just before a space keeps no trailing whitespace inside the name.
        let spaced = format!("{} tail", "a".repeat(82));
        assert!(TokenName::new(derived_name(Some(&spaced), old)).is_ok());
    }
}
