//! An answer outside the spec: [`UnexpectedResponse`] and its [`Problem`].

use std::fmt;

use reqwest::StatusCode;

use super::{unknown_outcome, CallInfo, Error};

/// An answer outside the spec, and what was wrong with it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnexpectedResponse {
    /// The call.
    pub call: CallInfo,
    /// The status, when one was read.
    pub status: Option<StatusCode>,
    /// What was wrong.
    pub problem: Problem,
    /// The start of the body, when it helps.
    pub body_snippet: Option<String>,
}

/// What was wrong with an [`UnexpectedResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A success status the operation does not document (the spec says 204 for updates, for example).
    UndocumentedStatus,
    /// The body was longer than the client reads (`ClientBuilder::max_response_bytes`).
    BodyTooLarge {
        /// The most bytes the client reads.
        limit: usize,
    },
    /// The success body did not decode as the spec's schema.
    Undecodable(String),
    /// The body decoded but lacks a field the client needs (named by its path, e.g.
    /// `agentPortfolios[2].userTokens[0].userTokenId`).
    MissingField(String),
    /// The client lost track of the answer's status (a bug of this client: please report it).
    StatusNotRecorded,
}

impl fmt::Display for UnexpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: eToro answered outside the spec", self.call)?;
        if let Some(status) = self.status {
            write!(f, " ({status})")?;
        }
        match &self.problem {
            Problem::UndocumentedStatus => f.write_str(": the spec does not document this status")?,
            Problem::BodyTooLarge { limit } => write!(f, ": the body is larger than the {limit} bytes read")?,
            Problem::Undecodable(error) => write!(f, ": the body does not match the spec: {error}")?,
            Problem::MissingField(field) => write!(f, ": the body lacks `{field}`")?,
            Problem::StatusNotRecorded => f.write_str(": its status was not recorded (a bug of this client)")?,
        }
        if let Some(snippet) = &self.body_snippet {
            write!(f, " (body: {snippet:?})")?;
        }
        f.write_str(unknown_outcome(&self.call, true))?;
        write!(f, " ({})", self.call.reference())
    }
}

impl std::error::Error for UnexpectedResponse {}

impl From<UnexpectedResponse> for Error {
    fn from(unexpected: UnexpectedResponse) -> Self {
        Error::UnexpectedResponse(Box::new(unexpected))
    }
}
