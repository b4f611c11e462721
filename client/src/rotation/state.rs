//! What a rotation records between its steps: what it is (the old token, the new token's name and settings,
//! where its secret goes) and how far it got. It never holds a secret.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ops::NewToken;

/// The format's version; a state of another version is refused rather than guessed at.
pub const STATE_VERSION: u32 = 1;

/// One rotation, as a [`super::StateStore`] keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct RotationState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The agent-portfolio.
    pub portfolio: Uuid,
    /// The token being replaced.
    pub old_token: Uuid,
    /// Its name, as listed when the rotation started.
    pub old_name: Option<String>,
    /// The new token's name, fixed when the rotation starts: the key that finds a token whose create answer was
    /// lost.
    pub new_name: String,
    /// The new token's scope names.
    pub scope_names: Vec<String>,
    /// The new token's IPv4 allow-list; `None` is unrestricted.
    pub ips_whitelist: Option<Vec<Ipv4Addr>>,
    /// The new token's expiry; `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Where the new secret goes, once the [`super::SecretSink`] has claimed it.
    pub secret: Option<Reservation>,
    /// How far the rotation got.
    pub step: Step,
    /// When the step was recorded.
    pub updated_at: DateTime<Utc>,
}

/// What a [`super::SecretSink`] claimed for the secret, recorded so that a later run (from any directory) writes
/// to the same place, and can tell it from something else put there since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reservation {
    /// The place, for people and for the sink (a file sink's absolute path).
    pub place: String,
    /// What identifies it beyond its name (a file sink's device and inode), if anything.
    pub identity: Option<String>,
}

/// The steps, in order. Each is recorded before the action that may leave it behind is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "name",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
#[non_exhaustive]
pub enum Step {
    /// Planned; nothing created yet.
    Planned,
    /// A create is about to be sent under this request id: a token of the new name may exist without anyone
    /// holding its secret.
    CreateSent {
        /// The create's `x-request-id`, recorded before it is sent.
        request_id: Uuid,
    },
    /// The new token exists; its secret is being stored.
    Created {
        /// The new token.
        new_token: Uuid,
        /// The create's `x-request-id`.
        request_id: Uuid,
    },
    /// The new token's secret surely went nowhere (storing it failed): it is being revoked.
    Discarding {
        /// The new token.
        new_token: Uuid,
    },
    /// The new secret is stored: the old token is being revoked.
    SecretStored {
        /// The new token.
        new_token: Uuid,
    },
    /// The old token is revoked (or was found gone): the rotation is complete.
    Done {
        /// The new token.
        new_token: Uuid,
        /// The revoke's `x-request-id`, when the run that finished sent one that succeeded.
        request_id: Option<Uuid>,
        /// True when the old token was found gone already.
        already_gone: bool,
    },
}

impl Step {
    /// True once the secret is stored (`secretStored`, `done`): where it went no longer matters to what is left.
    pub fn is_past_storing(&self) -> bool {
        matches!(self, Step::SecretStored { .. } | Step::Done { .. })
    }

    /// The step's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Planned => "planned",
            Step::CreateSent { .. } => "create sent",
            Step::Created { .. } => "created, secret being stored",
            Step::Discarding { .. } => "new token being revoked (its secret was not stored)",
            Step::SecretStored { .. } => "secret stored",
            Step::Done { .. } => "done",
        }
    }
}

impl RotationState {
    /// The token to create.
    pub fn new_token(&self) -> NewToken {
        let mut token = NewToken::new(self.new_name.clone(), self.scope_names.clone());
        if let Some(ips) = &self.ips_whitelist {
            token = token.ips_whitelist(ips.iter().copied());
        }
        if let Some(at) = self.expires_at {
            token = token.expires_at(at);
        }
        token
    }

    /// This state with `step` recorded now.
    pub(crate) fn at(&self, step: Step) -> RotationState {
        RotationState {
            step,
            updated_at: Utc::now(),
            ..self.clone()
        }
    }
}
