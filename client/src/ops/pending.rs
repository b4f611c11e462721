//! What the call types (`CreateCall`, `RevokeCall`) share: a value that holds its request until the first poll,
//! then one boxed future that does the work.

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
