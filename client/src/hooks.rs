//! The generated client's `ClientHooks`: where the wrapper meets every request and response on the wire. Each
//! job is its own module; this file only dispatches to them.
//!
//! - `pre` adds the authentication headers and the user agent ([`crate::auth`]): the only place a secret is put on
//!   a request.
//! - `exec` hands a dry run's request to [`crate::wire::dry_run`] instead of sending it; otherwise it sends under
//!   the attempt's timeout, reads the answer with a cap and notes what it said ([`crate::wire::attempt`]).

use progenitor_client::{ClientHooks, OperationInfo};

use crate::auth::Auth;
use crate::generated::Client as GeneratedClient;
use crate::wire::{attempt, dry_run};

impl ClientHooks<Auth> for GeneratedClient {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        self.inner.apply(request.headers_mut());
        Ok(())
    }

    async fn exec(&self, mut request: reqwest::Request, _info: &OperationInfo) -> reqwest::Result<reqwest::Response> {
        if let Some(answer) = dry_run::intercept(&request) {
            return Ok(answer);
        }
        let (timeout, max_body) = attempt::asked();
        if timeout.is_some() {
            // reqwest's per-request timeout covers connecting, sending and reading the whole body.
            *request.timeout_mut() = timeout;
        }
        let response = self.client.execute(request).await?;
        let status = response.status();
        let (response, truncated_at) = attempt::read_capped(response, max_body).await?;
        attempt::note(status, response.headers(), truncated_at);
        Ok(response)
    }
}
