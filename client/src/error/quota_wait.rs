//! A wait for quota the call's deadline does not allow: [`Error::QuotaWait`], and how stopped calls name their last
//! answer.

use std::fmt;
use std::time::Duration;

use super::{CallInfo, Error};
use crate::pacer::PauseCause;

/// A wait for quota longer than the call's deadline: see [`Error::QuotaWait`].
#[derive(Debug)]
#[non_exhaustive]
pub struct QuotaWait {
    /// The call (`attempts` is 0 when nothing was sent).
    pub call: CallInfo,
    /// How much longer eToro holds every request back.
    pub wait: Duration,
    /// What eToro said.
    pub cause: PauseCause,
    /// The time the call had left to wait (its whole deadline, before the first attempt).
    pub left: Duration,
    /// The failure of the last attempt (say, the 429), when there was one.
    pub last: Option<Error>,
}

impl fmt::Display for QuotaWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (wait, left) = (seconds(self.wait), seconds(self.left));
        write!(f, "{}: ", self.call)?;
        if self.call.attempts == 0 {
            f.write_str("not sent: ")?;
        }
        write!(
            f,
            "eToro asks every request to wait {wait} for quota ({}), longer than the {left} the call's deadline \
             leaves; not waiting",
            self.cause
        )?;
        if let Some(last) = &self.last {
            write!(f, "; the last answer: {}", answer_text(last))?;
        }
        if self.call.attempts > 0 {
            write!(f, " ({})", self.call.reference())?;
        }
        Ok(())
    }
}

impl std::error::Error for QuotaWait {}

impl From<QuotaWait> for Error {
    fn from(wait: QuotaWait) -> Self {
        Error::QuotaWait(Box::new(wait))
    }
}

/// "before it was sent" or "after N attempts, ...", for [`Error::Cancelled`].
pub(super) fn stopped_text(call: &CallInfo, last: Option<&Error>) -> String {
    match last {
        None if call.attempts == 0 => "before it was sent".to_owned(),
        None => format!("({})", call.reference()),
        Some(last) => format!(
            "while waiting to try again; the last answer: {} ({})",
            answer_text(last),
            call.reference()
        ),
    }
}

/// What a failed attempt got, without the call it belongs to: "429 Too Many Requests: TooManyRequests: Too many
/// requests", or the failure's own text.
fn answer_text(error: &Error) -> String {
    match error {
        Error::Api(api) => {
            let mut text = api.status.to_string();
            for part in [&api.error_code, &api.error_message].into_iter().flatten() {
                text.push_str(": ");
                text.push_str(part);
            }
            text
        }
        other => other.to_string(),
    }
}

/// A wait as people read it: "0.5 s", "59 s", "8640000000 s".
fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(10) {
        format!("{:.1} s", duration.as_secs_f64())
    } else {
        format!("{} s", duration.as_secs() + u64::from(duration.subsec_nanos() > 0))
    }
}
