//! What the call types (`UpdateCall`, `CreateCall`, `RevokeCall`) share: a value that holds its request until the first poll,
//! then one boxed future that does the work.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{Error, InvalidInput};

/// The work of a call once it runs.
pub(crate) type Running<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// A call's request until it is first polled, then its running future.
pub(crate) enum Pending<'a, R, T> {
    Ready(R),
    Running(Running<'a, T>),
    Done,
}

impl<'a, R, T> Pending<'a, R, T> {
    /// The request, while options may still be set.
    pub(crate) fn ready_mut(&mut self) -> Option<&mut R> {
        match self {
            Pending::Ready(request) => Some(request),
            _ => None,
        }
    }

    /// Writes the call as `name { .. }` with the fields `fields` adds of its request while it may still be set,
    /// as `name(running)` or `name(done)` after.
    pub(crate) fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        fields: impl FnOnce(&mut fmt::DebugStruct<'_, '_>, &R),
    ) -> fmt::Result {
        match self {
            Pending::Ready(request) => {
                let mut out = f.debug_struct(name);
                fields(&mut out, request);
                out.finish()
            }
            Pending::Running(_) => write!(f, "{name}(running)"),
            Pending::Done => write!(f, "{name}(done)"),
        }
    }

    /// Takes the request out to run it another way (`send`, `dry_run`); `what` names the call in the error.
    pub(crate) fn take(self, what: &str) -> Result<R, Error> {
        match self {
            Pending::Ready(request) => Ok(request),
            _ => Err(InvalidInput::new(what, "this call was already polled; make a new one").into()),
        }
    }

    /// Polls the call, starting it with `start` on the first poll. The call stays a plain, `Unpin` value until
    /// then, so its options can be set, and it can be stored and passed around before it runs.
    pub(crate) fn poll_with(
        &mut self,
        cx: &mut Context<'_>,
        what: &str,
        start: impl FnOnce(R) -> Running<'a, T>,
    ) -> Poll<Result<T, Error>> {
        if matches!(self, Pending::Ready(_)) {
            let Pending::Ready(request) = std::mem::replace(self, Pending::Done) else {
                unreachable!("matched above")
            };
            *self = Pending::Running(start(request));
        }
        match self {
            Pending::Running(future) => {
                let output = std::task::ready!(future.as_mut().poll(cx));
                *self = Pending::Done;
                Poll::Ready(output)
            }
            // Polling a finished future is a caller's bug; an error says so rather than a panic.
            _ => Poll::Ready(Err(
                InvalidInput::new(what, "this call was polled after it completed").into()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use uuid::Uuid;

    use crate::{Client, Error, NewToken, TokenUpdate};

    /// Polls `call` once; the nil portfolio id is refused before anything is sent, so it completes at once.
    fn poll_twice<F: Future<Output = Result<T, Error>>, T: std::fmt::Debug>(call: F, name: &str) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut call = pin!(call);
        match call.as_mut().poll(&mut cx) {
            Poll::Ready(Err(Error::InvalidInput(refused))) => assert_eq!(refused.field, "agentPortfolioId"),
            other => panic!("{name}: the nil id was not refused at once: {other:?}"),
        }
        match call.as_mut().poll(&mut cx) {
            Poll::Ready(Err(Error::InvalidInput(refused))) => {
                assert!(refused.rule.contains("polled after it completed"), "{name}: {refused}")
            }
            other => panic!("{name}: a second poll was not refused: {other:?}"),
        }
    }

    #[test]
    fn every_call_polled_after_it_completed_is_an_error_not_a_panic() {
        let client = Client::builder()
            .api_keys("api-key", "user-key")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let update = client.update_user_token(Uuid::nil(), Uuid::new_v4(), TokenUpdate::new().ips_whitelist([]));
        assert!(
            format!("{update:?}").starts_with("UpdateCall { portfolio: "),
            "{update:?}"
        );
        poll_twice(update, "update");
        let create = client.create_user_token(Uuid::nil(), NewToken::new("bot", ["a:read"]));
        assert!(
            format!("{create:?}").starts_with("CreateCall { portfolio: "),
            "{create:?}"
        );
        poll_twice(create, "create");
        let revoke = client.revoke_user_token(Uuid::nil(), Uuid::new_v4());
        assert!(
            format!("{revoke:?}").starts_with("RevokeCall { portfolio: "),
            "{revoke:?}"
        );
        poll_twice(revoke, "revoke");
    }
}
