//! Running one logical call of any operation: its turn from the pacer, attempts under a timeout, retries under the
//! policy and within the deadline, and progenitor's errors turned into the client's. Every operation goes through
//! [`run`].

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use progenitor_client::ResponseValue;
use reqwest::StatusCode;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::{ApiError, CallInfo, Error, InvalidInput, Problem, QuotaWait, UnexpectedResponse};
use crate::generated::types;
use crate::pacer::{Pacer, Pause, PauseCause};
use crate::rate_limit::RateLimit;
use crate::retry::{usable_hint, GiveUp, RetryPolicy, Setback};
use crate::wire::attempt::AnswerMeta;
use crate::wire::{self, PreparedRequest};

/// What one attempt of a generated operation returns.
pub(crate) type Outcome<T> = Result<ResponseValue<T>, progenitor_client::Error<types::ErrorResponse>>;

/// The client settings every call runs under.
pub(crate) struct Runner<'a> {
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) pacer: &'a Pacer,
    pub(crate) max_body: usize,
    pub(crate) cancel: Option<&'a CancellationToken>,
}

/// A call's time budget ([`RetryPolicy::deadline`]). It starts when the call may first send, after its first turn
/// from the pacer, so queueing behind a shared pacer does not eat it; everything after counts, including a scope
/// check that runs before the update itself.
#[derive(Debug)]
pub(crate) struct Budget {
    total: Duration,
    started: OnceLock<Instant>,
}

impl Budget {
    pub(crate) fn new(total: Duration) -> Self {
        Budget {
            total,
            started: OnceLock::new(),
        }
    }

    /// Starts the clock, if it has not started yet.
    fn start(&self) {
        self.started.get_or_init(Instant::now);
    }

    fn started(&self) -> bool {
        self.started.get().is_some()
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.get().map_or(Duration::ZERO, Instant::elapsed)
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.total.saturating_sub(self.elapsed())
    }
}

/// A documented success.
pub(crate) struct Success<T> {
    pub(crate) value: T,
    pub(crate) call: CallInfo,
    pub(crate) rate_limit: Option<RateLimit>,
}

/// A failed attempt, and whether its request may have reached the server (so a retry could apply it twice).
struct Failure {
    error: Error,
    may_have_arrived: bool,
}

/// Runs `attempt` until it succeeds, fails for good, or the policy, the budget or the cancellation token says
/// stop. `call` names the operation, ids and request id; every attempt the closure builds must carry that request
/// id. The whole call runs in one `etoro.call` tracing span (operation, ids, request id), each attempt in an
/// `etoro.attempt` span (its number) inside it.
pub(crate) async fn run<T, F, Fut>(
    runner: &Runner<'_>,
    budget: &Budget,
    call: CallInfo,
    attempt: F,
) -> Result<Success<T>, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let span = tracing::info_span!(
        "etoro.call",
        operation = call.operation.id(),
        portfolio = call.portfolio.map(tracing::field::display),
        token = call.token.map(tracing::field::display),
        request_id = %call.request_id,
    );
    attempts(runner, budget, call, attempt).instrument(span).await
}

async fn attempts<T, F, Fut>(
    runner: &Runner<'_>,
    budget: &Budget,
    mut call: CallInfo,
    mut attempt: F,
) -> Result<Success<T>, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let policy = runner.policy;
    let mut failures = 0;
    let mut rate_limits = 0;
    let mut last: Option<Error> = None;
    loop {
        match turn(runner, budget).await {
            Turn::Go => {}
            Turn::Held { pause, left } => {
                let wait = pause.until.saturating_duration_since(Instant::now());
                return Err(quota_wait(call, wait, pause.cause, left, last));
            }
            Turn::OutOfTime => match last.take() {
                // Queued behind the quota's holds until the deadline: a wait for quota that did not end in time.
                Some(last) if last.is_rate_limited() => {
                    let (wait, cause) = runner.pacer.pause().map_or(
                        (Duration::ZERO, PauseCause::RateLimited { retry_after: None }),
                        |pause| (pause.until.saturating_duration_since(Instant::now()), pause.cause),
                    );
                    return Err(quota_wait(call, wait, cause, budget.remaining(), Some(last)));
                }
                Some(last) => return Err(last),
                None => {}
            },
            Turn::Cancelled => return Err(cancelled(call, last)),
        }
        let remaining = budget.remaining();
        call.attempts += 1;
        let timeout = runner.timeout.min(remaining);
        // Boxed: the generated future is large (2.5 KB for an update), and every layer an attempt passes through
        // would otherwise hold, and move, its own copy of it (an update's call grew to 11 KB, moved whole on
        // each poll that starts a layer).
        let (outcome, answer) = once(Box::pin(attempt()), call, timeout, runner.max_body)
            .instrument(tracing::debug_span!("etoro.attempt", attempt = call.attempts))
            .await;
        if let Some(answer) = &answer {
            // Only a rate limit holds every caller: a 429 `MaxUserTokensExceeded` is a refusal, not the quota.
            let rate_limited = matches!(&outcome, Err(failure) if failure.error.is_rate_limited());
            runner
                .pacer
                .note(rate_limited, answer.rate_limit.as_ref(), answer.retry_after);
        }
        let failure = match outcome {
            Ok(value) => {
                return Ok(Success {
                    value,
                    call,
                    rate_limit: answer.and_then(|answer| answer.rate_limit),
                });
            }
            Err(failure) => failure,
        };
        let cut_short = timeout < runner.timeout && failure.error.is_timeout();
        if cut_short {
            if let Some(mut last) = last {
                // The deadline, not the server, ended this attempt: the failure before it says more.
                if let Some(info) = last.call_mut() {
                    *info = call;
                }
                return Err(last);
            }
        }
        let Some(setback) = setback(&failure, call) else {
            return Err(failure.error);
        };
        match setback {
            Setback::Failure { .. } => {
                failures += 1;
                rate_limits = 0;
            }
            Setback::RateLimited { .. } => rate_limits += 1,
        }
        let delay = match policy.delay_before_next(setback, failures, rate_limits, budget.elapsed()) {
            Ok(delay) => delay,
            Err(GiveUp::PastDeadline { wait, quota: true }) => {
                let hint = match setback {
                    Setback::RateLimited { hint } => hint,
                    Setback::Failure { retry_after } => retry_after,
                };
                let cause = PauseCause::RateLimited { retry_after: hint };
                return Err(quota_wait(call, wait, cause, budget.remaining(), Some(failure.error)));
            }
            Err(GiveUp::Done | GiveUp::PastDeadline { quota: false, .. }) => return Err(failure.error),
        };
        tracing::debug!(
            attempt = call.attempts,
            status = failure.error.status().map(|status| status.as_u16()),
            ?delay,
            error = %failure.error,
            "retrying"
        );
        call.earlier_outcome_unknown |= failure.may_have_arrived && failure.error.outcome_unknown();
        last = Some(failure.error);
        if wait_or_cancel(runner.cancel, tokio::time::sleep(delay)).await.is_none() {
            return Err(cancelled(call, last));
        }
    }
}

/// What came of waiting for a turn.
enum Turn {
    /// Send now.
    Go,
    /// The server holds every request back until past what the call has left (`left`).
    Held { pause: Pause, left: Duration },
    /// Queueing for a turn used up the time an attempt needs.
    OutOfTime,
    /// The cancellation token fired.
    Cancelled,
}

/// Waits for the pacer's turn, within the call's budget: the first turn may queue behind other calls for as long
/// as that takes (the budget starts after it), but not for a pause of the server's longer than the whole
/// deadline; a later turn must come while an attempt still fits in the budget.
async fn turn(runner: &Runner<'_>, budget: &Budget) -> Turn {
    let min_time = runner.policy.min_time();
    let retry = budget.started();
    let turn = if retry {
        let left = budget.remaining().saturating_sub(min_time);
        let queued = tokio::time::timeout(left, runner.pacer.acquire_within(left));
        match wait_or_cancel(runner.cancel, queued).await {
            None => return Turn::Cancelled,
            Some(Err(_elapsed)) => return Turn::OutOfTime,
            Some(Ok(turn)) => turn.map_err(|pause| (pause, left)),
        }
    } else {
        let left = runner.policy.total_deadline();
        match wait_or_cancel(runner.cancel, runner.pacer.acquire_within(left)).await {
            None => return Turn::Cancelled,
            Some(turn) => turn.map_err(|pause| (pause, left)),
        }
    };
    match turn {
        Ok(()) => {
            budget.start();
            if retry && budget.remaining() < min_time {
                return Turn::OutOfTime;
            }
            Turn::Go
        }
        Err((pause, left)) => Turn::Held { pause, left },
    }
}

/// Runs `wait` unless the token fires first: `None` when it did (the wait is dropped: nothing is in flight during
/// a wait).
async fn wait_or_cancel<W: Future>(cancel: Option<&CancellationToken>, wait: W) -> Option<W::Output> {
    match cancel {
        None => Some(wait.await),
        Some(cancel) => tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            output = wait => Some(output),
        },
    }
}

fn quota_wait(call: CallInfo, wait: Duration, cause: PauseCause, left: Duration, last: Option<Error>) -> Error {
    tracing::debug!(?wait, %cause, ?left, "not waiting for quota past the deadline");
    QuotaWait {
        call,
        wait,
        cause,
        left,
        last,
    }
    .into()
}

fn cancelled(call: CallInfo, last: Option<Error>) -> Error {
    Error::Cancelled {
        call,
        last: last.map(Box::new),
    }
}

/// Whether a failed attempt is worth another, and what kind of wait it calls for.
fn setback(failure: &Failure, call: CallInfo) -> Option<Setback> {
    // A create whose request may have reached eToro is never repeated blindly: a second create makes a second
    // token. Only a failure before sending (no connection) or an explicit rate limit is safe to retry.
    let repeatable = call.operation.is_idempotent() || !failure.may_have_arrived;
    match &failure.error {
        Error::Api(api) if api.is_rate_limited() => Some(Setback::RateLimited {
            hint: usable_hint(api.retry_after).or(usable_hint(api.rate_limit.as_ref().and_then(|limit| limit.reset))),
        }),
        Error::Api(api) if repeatable && crate::retry::is_transient_status(api.status) => Some(Setback::Failure {
            retry_after: api.retry_after,
        }),
        Error::Transport { .. } | Error::Timeout { .. } if repeatable => Some(Setback::Failure { retry_after: None }),
        _ => None,
    }
}

/// Builds the request `attempt` would send, through the generated code and the hooks, without sending it.
pub(crate) async fn dry_run<T, Fut>(attempt: Fut) -> Result<PreparedRequest, Error>
where
    Fut: Future<Output = Outcome<T>>,
{
    let (result, prepared) = wire::dry_run::capture(attempt).await;
    if let Err(progenitor_client::Error::InvalidRequest(message)) = result {
        return Err(InvalidInput::new("request", message).into());
    }
    prepared.ok_or_else(|| {
        InvalidInput::new(
            "request",
            "the generated client built no request (a bug of this client)",
        )
        .into()
    })
}

/// One attempt, with the slot the `exec` hook fills in. Returns what `exec` saw of the answer too.
async fn once<T>(
    attempt: impl Future<Output = Outcome<T>>,
    call: CallInfo,
    timeout: Duration,
    max_body: usize,
) -> (Result<T, Failure>, Option<AnswerMeta>) {
    let (result, answer) = wire::attempt::run(attempt, timeout, max_body).await;
    let outcome = interpret(result, answer.as_ref(), call, timeout).await;
    (outcome, answer)
}

/// Turns progenitor's result into the client's, keeping the status even where progenitor drops it.
async fn interpret<T>(
    result: Outcome<T>,
    answer: Option<&AnswerMeta>,
    call: CallInfo,
    timeout: Duration,
) -> Result<T, Failure> {
    use progenitor_client::Error as Gen;
    let answered = |error: Error| Failure {
        error,
        may_have_arrived: true,
    };
    let unexpected = |status: Option<StatusCode>, problem: Problem, body: Option<&[u8]>| {
        answered(
            UnexpectedResponse {
                call,
                status,
                problem,
                body_snippet: body.filter(|body| !body.is_empty()).map(snippet),
            }
            .into(),
        )
    };
    if let Some(AnswerMeta {
        status,
        truncated_at: Some(limit),
        ..
    }) = answer
    {
        if status.is_success() {
            return Err(unexpected(Some(*status), Problem::BodyTooLarge { limit: *limit }, None));
        }
    }
    let api = |status: StatusCode, body: types::ErrorResponse, snippet_of: Option<&[u8]>| {
        answered(
            ApiError {
                call,
                status,
                error_code: body.error_code,
                error_message: body.error_message,
                body_snippet: snippet_of.filter(|body| !body.is_empty()).map(snippet),
                retry_after: answer.and_then(|answer| answer.retry_after),
                rate_limit: answer.and_then(|answer| answer.rate_limit.clone()),
            }
            .into(),
        )
    };
    let err = match result {
        Ok(value) => return Ok(value.into_inner()),
        Err(err) => err,
    };
    match err {
        Gen::ErrorResponse(value) => {
            let status = value.status();
            Err(api(status, value.into_inner(), None))
        }
        // A documented status whose body does not decode: an HTML error page from a proxy, an empty body.
        Gen::InvalidResponsePayload(bytes, error) => match answer.map(|answer| answer.status) {
            None => Err(unexpected(None, Problem::StatusNotRecorded, Some(&bytes))),
            Some(status) if status.is_success() => Err(unexpected(
                Some(status),
                Problem::Undecodable(error.to_string()),
                Some(&bytes),
            )),
            Some(status) => Err(api(status, types::ErrorResponse::default(), Some(&bytes))),
        },
        Gen::UnexpectedResponse(response) => {
            let status = response.status();
            if status.is_success() {
                return Err(unexpected(Some(status), Problem::UndocumentedStatus, None));
            }
            if status.is_redirection() {
                return Err(answered(Error::Redirect {
                    call,
                    status,
                    location: answer.and_then(|answer| answer.location.clone()),
                }));
            }
            // Undocumented error statuses (502, 503, ...) may still carry an `ErrorResponse`. The `exec` hook has
            // already read the (capped) body into memory, so this cannot block or fail.
            let bytes = response.bytes().await.unwrap_or_default();
            match serde_json::from_slice::<types::ErrorResponse>(&bytes) {
                Ok(body) if body.error_code.is_some() || body.error_message.is_some() => Err(api(status, body, None)),
                _ => Err(api(status, types::ErrorResponse::default(), Some(&bytes))),
            }
        }
        Gen::CommunicationError(source) | Gen::ResponseBodyError(source) | Gen::InvalidUpgrade(source) => {
            // A connection that could not be made never carried the request.
            let may_have_arrived = !source.is_connect();
            let error = if source.is_timeout() {
                Error::Timeout { call, after: timeout }
            } else {
                Error::Transport { call, source }
            };
            Err(Failure {
                error,
                may_have_arrived,
            })
        }
        // The wrapper validated and typed every input, so the generated builder cannot refuse one.
        Gen::InvalidRequest(message) | Gen::Custom(message) => Err(Failure {
            error: InvalidInput::new("request", message).into(),
            may_have_arrived: false,
        }),
    }
}

/// The first 200 characters of a body, lossily decoded, for error messages.
fn snippet(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 200;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4 * MAX_CHARS)]);
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() || bytes.len() > 4 * MAX_CHARS {
        out.push('…');
    }
    out
}
