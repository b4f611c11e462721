//! The rules about expiry dates that every token builder and plan shares: a date `after` from now, an expiry that
//! must lie in the future, and rounding up to the whole second (the precision eToro lists expiries at).

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::InvalidInput;

/// `now + after`, or an error naming `expiresAt` when that is past what a date can hold.
pub(crate) fn from_now(after: std::time::Duration) -> Result<DateTime<Utc>, InvalidInput> {
    chrono::Duration::from_std(after)
        .ok()
        .and_then(|after| Utc::now().checked_add_signed(after))
        .ok_or_else(|| {
            InvalidInput::new(
                "expiresAt",
                format!("{after:?} from now is past the latest date this client can represent"),
            )
        })
}

/// An expiry, when set, must be later than `now`.
pub(crate) fn check_expiry(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), InvalidInput> {
    match expires_at {
        Some(at) if at <= now => Err(InvalidInput::new(
            "expiresAt",
            format!(
                "must be in the future (got {}, now is {})",
                at.to_rfc3339(),
                now.to_rfc3339()
            ),
        )),
        _ => Ok(()),
    }
}

/// `at`, rounded up to the whole second.
pub(crate) fn round_up(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = at.trunc_subsecs(0);
    if down < at {
        down + chrono::Duration::seconds(1)
    } else {
        down
    }
}
