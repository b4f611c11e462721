//! [`Rotation`]: the plan and the steps of the state machine described in the module's documentation.

use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::sink::{Claim, SecretSink};
use super::state::{RotationState, Step, STATE_VERSION};
use super::store::StateStore;
use super::{Event, Rotated, RotationError};
use crate::client::Client;
use crate::error::{code, Error};
use crate::ops::{AgentPortfolio, NewToken};
use crate::token::TokenName;

/// How many creates one run sends at most: each may meet a lost answer, and each lost answer costs a list and a
/// revoke before the next.
const MAX_CREATES: u32 = 3;

/// The new token's expiry, when it should not be the old token's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// At this instant.
    At(DateTime<Utc>),
    /// This long after the rotation is planned.
    In(Duration),
    /// Never.
    Never,
}

/// What [`Rotation::on_event`] calls.
type Observer<'a> = Box<dyn FnMut(&Event) + Send + Sync + 'a>;

/// One rotation: the token to replace and how, before it runs. See the module's documentation.
pub struct Rotation<'a> {
    client: &'a Client,
    portfolio: Uuid,
    old_token: Uuid,
    name: Option<String>,
    scopes: Option<Vec<String>>,
    ips: Option<Vec<Ipv4Addr>>,
    expiry: Option<Expiry>,
    discard_orphan: Option<Uuid>,
    observer: Option<Observer<'a>>,
}

impl std::fmt::Debug for Rotation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("portfolio", &self.portfolio)
            .field("old_token", &self.old_token)
            .field("name", &self.name)
            .field("discard_orphan", &self.discard_orphan)
            .finish_non_exhaustive()
    }
}

/// Whether a [`Plan`] starts a rotation, resumes one, or finds it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanStatus {
    /// No state: a new rotation, recorded when it runs.
    New,
    /// A recorded rotation, resumed from its step (its recorded settings win over the builder's).
    Resume,
    /// A finished rotation: running it sends nothing.
    Finished,
}

/// What [`Rotation::plan`] found, to show (and confirm) before [`Rotation::run`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// The rotation: the new token's name and settings, and for a recorded one its step.
    pub state: RotationState,
    /// New, resumed or finished.
    pub status: PlanStatus,
    /// An orphan of the new name that [`Rotation::discard_orphan`] allows to revoke before creating.
    pub orphan: Option<Uuid>,
}

impl<'a> Rotation<'a> {
    /// The rotation of `old_token` in `portfolio`, through `client` (which must be allowed to list, create and
    /// revoke). The new token copies the old one's scope names, IPv4 allow-list and expiry unless told otherwise.
    pub fn new(client: &'a Client, portfolio: Uuid, old_token: Uuid) -> Self {
        Rotation {
            client,
            portfolio,
            old_token,
            name: None,
            scopes: None,
            ips: None,
            expiry: None,
            discard_orphan: None,
            observer: None,
        }
    }

    /// The new token's name (default [`derived_name`]: the old name, `-rotated-` and 8 hex digits of the old id,
    /// the same for every run of one rotation).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The new token's scope names (default: the old token's).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.scopes = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The new token's IPv4 allow-list (default: the old token's).
    pub fn ips_whitelist(mut self, ips: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        self.ips = Some(ips.into_iter().collect());
        self
    }

    /// The new token's expiry (default: the old token's).
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Allows revoking `token`, a token of the new name that no state of this rotation accounts for (an orphan), or
    /// one whose secret may have reached the sink: say so only once nobody uses its secret.
    pub fn discard_orphan(mut self, token: Uuid) -> Self {
        self.discard_orphan = Some(token);
        self
    }

    /// Calls `observer` with every [`Event`] as it happens.
    pub fn on_event(mut self, observer: impl FnMut(&Event) + Send + Sync + 'a) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Plans and runs the rotation, or resumes it ([`Rotation::plan`], then [`Rotation::run`]).
    pub async fn rotate(
        mut self,
        store: &mut impl StateStore,
        sink: &mut impl SecretSink,
    ) -> Result<Rotated, RotationError> {
        let plan = self.plan(store).await?;
        self.run(plan, store, sink).await
    }

    /// Reads the recorded state; without one, lists the tokens and plans a new rotation. Nothing is changed.
    pub async fn plan(&mut self, store: &mut impl StateStore) -> Result<Plan, RotationError> {
        if let Some(state) = store.load().await.map_err(RotationError::Store)? {
            if (state.portfolio, state.old_token) != (self.portfolio, self.old_token) {
                return Err(RotationError::OtherRotation {
                    portfolio: state.portfolio,
                    token: state.old_token,
                });
            }
            if self.name.as_ref().is_some_and(|name| *name != state.new_name) {
                return Err(RotationError::NameChanged(state.new_name));
            }
            let status = match state.step {
                Step::Done { .. } => PlanStatus::Finished,
                _ => PlanStatus::Resume,
            };
            return Ok(Plan {
                state,
                status,
                orphan: None,
            });
        }
        let portfolios = list(self.client, || "nothing was changed".to_owned()).await?;
        let portfolio = find(&portfolios, self.portfolio)?;
        let Some(old) = portfolio.tokens.iter().find(|token| token.id == self.old_token) else {
            return Err(RotationError::TokenNotListed {
                portfolio: self.portfolio,
                token: self.old_token,
            });
        };
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| derived_name(old.name.as_deref(), old.id));
        let mut token = NewToken::like(old, name.clone());
        if let Some(scopes) = &self.scopes {
            token = token.scopes(scopes.iter().cloned());
        }
        if let Some(ips) = &self.ips {
            token = token.ips_whitelist(ips.iter().copied());
        }
        token = match self.expiry {
            Some(Expiry::At(at)) => token.expires_at(at),
            Some(Expiry::In(after)) => token.expires_in(after),
            Some(Expiry::Never) => token.never_expires(),
            None => token,
        };
        let now = Utc::now();
        token.validate(now).map_err(RotationError::Invalid)?;
        if old.name.as_deref() == Some(name.as_str()) {
            return Err(RotationError::SameName(name));
        }
        let mut orphan = None;
        if let Some(clash) = portfolio
            .tokens
            .iter()
            .find(|t| t.name.as_deref() == Some(name.as_str()))
        {
            if self.discard_orphan == Some(clash.id) {
                orphan = Some(clash.id);
            } else if self.name.is_some() {
                return Err(RotationError::NameTaken { name, token: clash.id });
            } else {
                return Err(RotationError::Orphan { token: clash.id, name });
            }
        }
        let state = RotationState {
            version: STATE_VERSION,
            portfolio: self.portfolio,
            old_token: old.id,
            old_name: old.name.clone(),
            new_name: name,
            scope_names: token.scope_names().to_vec(),
            ips_whitelist: token.ips().map(<[Ipv4Addr]>::to_vec),
            expires_at: token.expiry(),
            secret: None,
            step: Step::Planned,
            updated_at: now,
        };
        Ok(Plan {
            state,
            status: PlanStatus::New,
            orphan,
        })
    }

    /// Runs a plan from its step to the end.
    pub async fn run(
        mut self,
        plan: Plan,
        store: &mut impl StateStore,
        sink: &mut impl SecretSink,
    ) -> Result<Rotated, RotationError> {
        let mut state = plan.state;
        match plan.status {
            PlanStatus::Finished => return Ok(rotated(&state, true)),
            PlanStatus::New => {
                save(store, &mut state, Step::Planned).await?;
                match sink.reserve(Claim::New).await {
                    Ok(reservation) => state.secret = Some(reservation),
                    Err(err) => {
                        let _ = store.remove().await;
                        return Err(RotationError::Reserve(err));
                    }
                }
                save(store, &mut state, Step::Planned).await?;
                if let Some(orphan) = plan.orphan {
                    self.revoke(&state, orphan, "the orphan named to be discarded is not revoked yet")
                        .await?;
                    self.emit(Event::OrphanRevoked { token: orphan });
                }
            }
            PlanStatus::Resume => {
                if !matches!(state.step, Step::SecretStored { .. }) {
                    let claim = state.secret.as_ref().map_or(Claim::Unrecorded, Claim::Recorded);
                    let reservation = sink.reserve(claim).await.map_err(RotationError::Reserve)?;
                    if state.secret.as_ref() != Some(&reservation) {
                        state.secret = Some(reservation);
                        let step = state.step;
                        save(store, &mut state, step).await?;
                    }
                }
            }
        }
        let mut creates = 0;
        loop {
            match state.step {
                Step::Planned | Step::CreateSent { .. } => {
                    self.clear_the_way(&state, store, sink).await?;
                    if creates == MAX_CREATES {
                        return Err(RotationError::TooManyCreates(MAX_CREATES));
                    }
                    creates += 1;
                    self.create(&mut state, store, sink).await?;
                }
                Step::Created { new_token, .. } => {
                    // Only a run that stopped finds this step: whether the secret reached the sink is unknown.
                    let held = sink.may_hold_secret().await.map_err(RotationError::Store)?;
                    if held && self.discard_orphan != Some(new_token) {
                        return Err(RotationError::SecretMayBeHeld {
                            token: new_token,
                            place: place(&state),
                        });
                    }
                    save(store, &mut state, Step::Discarding { new_token }).await?;
                }
                Step::Discarding { new_token } => {
                    self.revoke(
                        &state,
                        new_token,
                        "this new token, whose secret nobody holds, is not revoked yet",
                    )
                    .await?;
                    self.emit(Event::Discarded { token: new_token });
                    sink.clear().await.map_err(RotationError::Store)?;
                    save(store, &mut state, Step::Planned).await?;
                }
                Step::SecretStored { new_token } => {
                    let (request_id, already_gone) = self.revoke_old(&state, new_token).await?;
                    let step = Step::Done {
                        new_token,
                        request_id,
                        already_gone,
                    };
                    save(store, &mut state, step).await?;
                }
                Step::Done { .. } => return Ok(rotated(&state, false)),
            }
        }
    }

    fn emit(&mut self, event: Event) {
        tracing::info!(portfolio = %self.portfolio, old_token = %self.old_token, "rotation: {event}");
        if let Some(observer) = &mut self.observer {
            observer(&event);
        }
    }

    /// Before a create: lists; revokes this rotation's own leftovers (a lost create's token) and an orphan the
    /// caller named; refuses any other token of the new name; abandons the rotation if the old token is gone.
    async fn clear_the_way(
        &mut self,
        state: &RotationState,
        store: &mut impl StateStore,
        sink: &mut impl SecretSink,
    ) -> Result<(), RotationError> {
        let portfolios = list(self.client, || {
            format!("the rotation stands at \"{}\": run it again", state.step.name())
        })
        .await?;
        let portfolio = find(&portfolios, state.portfolio)?;
        let ours = matches!(state.step, Step::CreateSent { .. });
        let leftovers: Vec<Uuid> = portfolio
            .tokens
            .iter()
            .filter(|token| token.name.as_deref() == Some(state.new_name.as_str()) && token.id != state.old_token)
            .map(|token| token.id)
            .collect();
        for token in leftovers {
            let event = if ours {
                Event::LeftoverRevoked { token }
            } else if self.discard_orphan == Some(token) {
                Event::OrphanRevoked { token }
            } else {
                return Err(RotationError::Orphan {
                    token,
                    name: state.new_name.clone(),
                });
            };
            self.revoke(
                state,
                token,
                "this token, whose secret nobody holds, is not revoked yet",
            )
            .await?;
            self.emit(event);
        }
        if !portfolio.tokens.iter().any(|token| token.id == state.old_token) {
            let _ = sink.release().await;
            store.remove().await.map_err(RotationError::Store)?;
            return Err(RotationError::OldTokenGone(state.old_token));
        }
        Ok(())
    }

    /// Sends one create under a request id recorded first; when it answers, stores the secret.
    async fn create(
        &mut self,
        state: &mut RotationState,
        store: &mut impl StateStore,
        sink: &mut impl SecretSink,
    ) -> Result<(), RotationError> {
        let request_id = Uuid::new_v4();
        save(store, state, Step::CreateSent { request_id }).await?;
        self.emit(Event::Creating { request_id });
        let created = match self
            .client
            .create_user_token(state.portfolio, state.new_token())
            .request_id(request_id)
            .await
        {
            Ok(created) => created,
            Err(err) if err.code() == Some(code::USER_KEY_NAME_ALREADY_EXISTS) || err.outcome_unknown() => {
                // The token may exist: the next list finds it by name (the state still says "create sent").
                self.emit(Event::CreateUnanswered {
                    request_id,
                    why: err.to_string(),
                });
                return Ok(());
            }
            Err(error) if error.is_safe_to_retry() || matches!(error, Error::Cancelled { .. }) => {
                // Surely not sent (a connection never made, a quota wait past the deadline, a cancellation before
                // sending): nothing was created; the state stays, and a rerun lists and creates.
                return Err(RotationError::Call {
                    error,
                    left: "this create made no token; the rotation stands at \"create sent\": run it again".to_owned(),
                });
            }
            Err(err) => {
                let _ = sink.release().await;
                store.remove().await.map_err(RotationError::Store)?;
                return Err(RotationError::CreateRefused(err));
            }
        };
        let new_token = created.id;
        if let Err(err) = save(store, state, Step::Created { new_token, request_id }).await {
            // The state still says "create sent", so a rerun would find the token by name; revoke it now anyway.
            let _ = self.client.revoke_user_token(state.portfolio, new_token).await;
            return Err(err);
        }
        self.emit(Event::Created {
            token: new_token,
            request_id,
        });
        let unusable = created.secret.unusable();
        let stored = match unusable {
            Some(why) => Err(why.to_owned()),
            None => sink.store(&created).await.map_err(|err| err.to_string()),
        };
        if let Err(cause) = stored {
            save(store, state, Step::Discarding { new_token }).await?;
            self.revoke(
                state,
                new_token,
                "this new token, whose secret nobody holds, is not revoked yet",
            )
            .await?;
            let _ = sink.clear().await;
            save(store, state, Step::Planned).await?;
            return Err(RotationError::SecretNotStored {
                token: new_token,
                cause,
                unusable: unusable.is_some(),
            });
        }
        save(store, state, Step::SecretStored { new_token }).await?;
        self.emit(Event::SecretStored { token: new_token });
        Ok(())
    }

    /// Revokes a token; a 404 means it is gone already, which is what was wanted.
    async fn revoke(&self, state: &RotationState, token: Uuid, left: &str) -> Result<(), RotationError> {
        match self.client.revoke_user_token(state.portfolio, token).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_not_found() => Ok(()),
            Err(error) => Err(RotationError::Call {
                error,
                left: format!("user token {token}: {left}; run the rotation again"),
            }),
        }
    }

    /// Revokes the old token, now that the new secret is stored. A 404 (already gone) finishes the rotation too.
    async fn revoke_old(&self, state: &RotationState, new_token: Uuid) -> Result<(Option<Uuid>, bool), RotationError> {
        match self.client.revoke_user_token(state.portfolio, state.old_token).await {
            Ok(revoked) => Ok((Some(revoked.request_id), revoked.already_gone)),
            Err(err) if err.is_not_found() => Ok((None, true)),
            Err(error) => Err(RotationError::Call {
                error,
                left: format!(
                    "the new token {new_token} holds its stored secret; the old token {} is not revoked yet: run \
                     the rotation again",
                    state.old_token
                ),
            }),
        }
    }
}

async fn save(store: &mut impl StateStore, state: &mut RotationState, step: Step) -> Result<(), RotationError> {
    let next = state.at(step);
    store.save(&next).await.map_err(RotationError::Store)?;
    *state = next;
    Ok(())
}

/// Lists the agent-portfolios; a failure says what the rotation `left` behind.
async fn list(client: &Client, left: impl FnOnce() -> String) -> Result<Vec<AgentPortfolio>, RotationError> {
    client
        .list_agent_portfolios()
        .await
        .map_err(|error| RotationError::Call { error, left: left() })
}

fn find(portfolios: &[AgentPortfolio], id: Uuid) -> Result<&AgentPortfolio, RotationError> {
    portfolios
        .iter()
        .find(|portfolio| portfolio.id == id)
        .ok_or(RotationError::PortfolioNotListed(id))
}

fn place(state: &RotationState) -> String {
    state
        .secret
        .as_ref()
        .map_or_else(|| "the secret's place".to_owned(), |secret| secret.place.clone())
}

fn rotated(state: &RotationState, already_done: bool) -> Rotated {
    let Step::Done {
        new_token,
        request_id,
        already_gone,
    } = state.step
    else {
        unreachable!("called at the end only")
    };
    Rotated {
        portfolio: state.portfolio,
        old_token: state.old_token,
        new_token,
        new_name: state.new_name.clone(),
        secret: state.secret.clone(),
        revoke_request_id: request_id,
        old_already_gone: already_gone,
        already_done,
    }
}

/// The default new name: the old name, without an earlier rotation's suffix, then `-rotated-` and the first 8
/// hex digits of the old id; cut so that it stays within eToro's 100 characters. The same for every run of one
/// rotation, and it does not grow over rotations.
pub fn derived_name(old_name: Option<&str>, old_id: Uuid) -> String {
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
        let spaced = format!("{} tail", "a".repeat(82));
        assert!(TokenName::new(derived_name(Some(&spaced), old)).is_ok());
    }
}
