//! Get Allowed Scopes: `GET /api/v2/agent-portfolios/user-tokens/scopes`, and the opt-in check of scope names
//! against it ([`crate::ClientBuilder::check_scopes`]).

use uuid::Uuid;

use crate::call::{self, Budget};
use crate::client::Client;
use crate::error::{CallInfo, Error, Operation};
use crate::scope_check;

impl Client {
    /// The scope names a token may hold, fetched now, with the client's retries.
    pub async fn allowed_scopes(&self) -> Result<Vec<String>, Error> {
        self.allowed_scopes_within(&self.budget()).await
    }

    async fn allowed_scopes_within(&self, budget: &Budget) -> Result<Vec<String>, Error> {
        let request_id = Uuid::new_v4();
        let info = CallInfo::new(Operation::GetAllowedScopes, None, None, request_id);
        let success = call::run(&self.runner(), budget, info, || {
            self.raw.get_allowed_scopes().x_request_id(request_id).send()
        })
        .await?;
        Ok(success.value.scopes.into_iter().filter_map(|item| item.name).collect())
    }

    /// With [`crate::ClientBuilder::check_scopes`], refuses scope names outside the list eToro allows. The lookup
    /// (or the wait for another call's lookup) counts against `budget`; `call` names the call being checked, for
    /// a timeout while waiting.
    pub(crate) async fn check_scope_names(
        &self,
        names: &[String],
        budget: &Budget,
        call: CallInfo,
    ) -> Result<(), Error> {
        let Some(cache) = &self.scopes else {
            return Ok(());
        };
        let lookup = cache.get(|| self.allowed_scopes_within(budget));
        let allowed = match tokio::time::timeout(budget.remaining(), lookup).await {
            Ok(allowed) => allowed?,
            Err(_elapsed) => {
                return Err(Error::Timeout {
                    call,
                    after: budget.elapsed(),
                })
            }
        };
        Ok(scope_check::check(names, &allowed)?)
    }
}
