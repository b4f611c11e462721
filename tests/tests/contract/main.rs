//! Contract tests: the client against Prism, a third-party OpenAPI validator, instead of mocks we wrote ourselves.
//!
//! `.ci/contract` installs Prism (pinned in `contract/package-lock.json`), starts two mock servers and runs these
//! tests with `--ignored`:
//! - `CONTRACT_OURS_URL`: Prism on `openapi/etoro-user-tokens.json`, the spec the client is generated from;
//! - `CONTRACT_ETORO_URL`: Prism on eToro's own published description, as its committed facts-only snapshot
//!   (`openapi/upstream/etoro-agent-portfolios.json`, made by `cargo xtask upstream import`; the paths,
//!   parameters, schemas, statuses and security of eToro's document, without its prose).
//!
//! Both run with `--errors`: a request that breaks the document is answered with a 4xx (400 here, the document's
//! own error response) and an `sl-violations` header naming the broken rule, never with the 204. So a 204
//! reaching the wrapper proves that Prism found no violation in what it sent: path, `x-request-id`, credentials
//! and body. What this does NOT cover: Prism's mock mode makes up its answers from the document, so there is no
//! response to validate; answers are covered by the wiremock tests in `tests/it` and the drift tests.
//!
//! Prism ignores headers a document does not declare, such as the `api-version` header progenitor adds.

use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::Utc;
use etoro_client::{scope, types, ApiVersion, Client, ClientBuilder, Error, TokenUpdate};
use etoro_client_tests::{
    bearer_builder, closed_port_url, key_builder, portfolio, raw_http, token, API_KEY, BEARER, PORTFOLIO, TOKEN,
    USER_KEY,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// Prism on our spec.
const OURS: &str = "CONTRACT_OURS_URL";
/// Prism on eToro's published description.
const ETORO: &str = "CONTRACT_ETORO_URL";

fn prism_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
        _ => panic!(
            "{var} is not set: this contract test needs a running Prism mock server. Run `.ci/contract`, which \
             installs Prism, starts it on our spec and on eToro's description, and sets CONTRACT_OURS_URL and \
             CONTRACT_ETORO_URL"
        ),
    }
}

/// A client for Prism from `builder` (the shared one: credentials, no retries), with a timeout so that a Prism that
/// stops answering fails the test instead of hanging it.
fn for_prism(builder: ClientBuilder) -> Client {
    builder
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a valid client for Prism")
}

fn key_client(base_url: &str) -> Client {
    for_prism(key_builder(base_url))
}

fn bearer_client(base_url: &str) -> Client {
    for_prism(bearer_builder(base_url))
}

/// A client pointed at a loopback port where nothing listens: anything it sent would come back as
/// `Error::Transport`, so `Error::InvalidInput` proves nothing left the process.
fn unreachable_client() -> Client {
    key_builder(closed_port_url())
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// Valid updates of every shape the wrapper can make.
fn valid_updates() -> Vec<(&'static str, TokenUpdate)> {
    let expiry = Utc::now() + chrono::Duration::days(30);
    let ips = [Ipv4Addr::new(203, 0, 113, 7), Ipv4Addr::new(198, 51, 100, 1)];
    #[allow(deprecated)]
    let ids_only = TokenUpdate::new().scope_ids([211, 212]);
    #[allow(deprecated)]
    let ids_and_the_rest = TokenUpdate::new()
        .scope_ids([200])
        .ips_whitelist(ips)
        .expires_at(expiry);
    vec![
        (
            "scope names only",
            TokenUpdate::new().scope_names([scope::TRADE_REAL_READ, scope::TRADE_REAL_WRITE]),
        ),
        ("deprecated scope ids only", ids_only),
        ("IP allow-list only", TokenUpdate::new().ips_whitelist(ips)),
        ("expiry only", TokenUpdate::new().expires_at(expiry)),
        (
            "all fields (scope names)",
            TokenUpdate::new()
                .scope_names([scope::TRADE_DEMO_READ, scope::DEMO_WRITE])
                .ips_whitelist(ips)
                .expires_at(expiry),
        ),
        ("all fields (deprecated scope ids)", ids_and_the_rest),
    ]
}

/// Sends every valid update the client's API version takes (v2 takes no deprecated scope ids) through the real
/// wrapper and requires Prism's 204 for each.
async fn assert_all_accepted(client: &Client, document: &str) {
    let v2 = client.api_version() == ApiVersion::V2;
    let mut failures = Vec::new();
    for (shape, update) in valid_updates()
        .into_iter()
        .filter(|(shape, _)| !(v2 && shape.contains("scope ids")))
    {
        // The body as the wrapper builds it, for the failure message.
        let body = if v2 {
            serde_json::to_string(&update.to_request_v2(Utc::now()).expect("a valid v2 update"))
        } else {
            serde_json::to_string(&update.to_request(Utc::now()).expect("a valid update"))
        }
        .expect("the body serializes");
        match client.update_user_token(portfolio(), token(), update).await {
            Ok(done) if done.status == StatusCode::NO_CONTENT => {}
            Ok(done) => failures.push(format!("{shape}: expected 204, got {} (body {body})", done.status)),
            Err(err) => failures.push(format!("{shape}: {err} (body {body})")),
        }
    }
    assert!(
        failures.is_empty(),
        "Prism on {document} refused requests the wrapper built from valid updates:\n  {}",
        failures.join("\n  ")
    );
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn every_valid_update_passes_prism_on_our_spec() {
    let url = prism_url(OURS);
    assert_all_accepted(&key_client(&url), "our spec (x-api-key + x-user-key)").await;
    assert_all_accepted(&bearer_client(&url), "our spec (Authorization: Bearer)").await;
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn every_valid_update_passes_prism_on_etoros_description() {
    // eToro's document declares x-api-key and x-user-key as required header parameters and has no
    // securitySchemes, so only the key pair can satisfy it (a bearer-only request is refused there).
    assert_all_accepted(&key_client(&prism_url(ETORO)), "eToro's published description").await;
}

/// A client for API v2 (`PATCH /api/v2/...`), with the key pair or a bearer token.
fn v2_client(base_url: &str, bearer: bool) -> Client {
    let builder = if bearer {
        bearer_builder(base_url)
    } else {
        key_builder(base_url)
    };
    for_prism(builder.api_version(ApiVersion::V2))
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn every_valid_v2_update_passes_prism_on_both_documents() {
    let ours = prism_url(OURS);
    assert_all_accepted(&v2_client(&ours, false), "our spec (v2, key pair)").await;
    assert_all_accepted(&v2_client(&ours, true), "our spec (v2, bearer)").await;
    assert_all_accepted(&v2_client(&prism_url(ETORO), false), "eToro's description (v2)").await;
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn the_allowed_scopes_lookup_passes_prism_on_both_documents() {
    for (document, url) in [("our spec", prism_url(OURS)), ("eToro's description", prism_url(ETORO))] {
        let names = key_client(&url)
            .allowed_scopes()
            .await
            .unwrap_or_else(|err| panic!("Prism on {document} refused the scopes lookup: {err}"));
        // Prism answers with the document's example where there is one: our spec's holds the two trade.real
        // names. eToro's snapshot holds no examples (facts only), so there Prism makes a name up from the schema.
        if document == "our spec" {
            assert!(
                names.iter().any(|name| name == scope::TRADE_REAL_READ),
                "{document}: {names:?}"
            );
        } else {
            assert!(!names.is_empty(), "{document}: {names:?}");
        }
    }
}

/// A PATCH with valid headers and this raw body, sent with plain reqwest (not the wrapper).
async fn send_raw(base_url: &str, body: &Value, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let url = format!("{base_url}/api/v1/agent-portfolios/{PORTFOLIO}/user-tokens/{TOKEN}");
    let mut request = raw_http()
        .patch(&url)
        .header("x-request-id", Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(10));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|err| panic!("Prism at {url} did not answer: {err}"));
    let violations = response
        .headers()
        .get("sl-violations")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    (response.status(), violations)
}

/// Extra request headers: (name, value) pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

const KEYS: Headers<'static> = &[("x-api-key", API_KEY), ("x-user-key", USER_KEY)];

/// Bodies our spec forbids, the Prism violation code each must produce, the `TokenUpdate` that says the same
/// thing, and the field the wrapper must blame.
struct BadBody {
    what: &'static str,
    body: Value,
    violation: &'static str,
    update: TokenUpdate,
    field: &'static str,
}

/// One row of [`bad_bodies`].
fn bad(what: &'static str, body: Value, violation: &'static str, update: TokenUpdate, field: &'static str) -> BadBody {
    BadBody {
        what,
        body,
        violation,
        update,
        field,
    }
}

/// A body whose only field is the list `scopeNames: names`.
fn scope_names(what: &'static str, names: &[&str], violation: &'static str, field: &'static str) -> BadBody {
    let update = TokenUpdate::new().scope_names(names.iter().copied());
    bad(what, json!({ "scopeNames": names }), violation, update, field)
}

/// A body whose only field is the list `scopeIds: ids`.
#[allow(deprecated)]
fn scope_ids(what: &'static str, ids: &[i32], violation: &'static str, field: &'static str) -> BadBody {
    let update = TokenUpdate::new().scope_ids(ids.iter().copied());
    bad(what, json!({ "scopeIds": ids }), violation, update, field)
}

/// A body whose only field is the list `ipsWhitelist: ips`.
fn ips(what: &'static str, ips: &[&str], violation: &'static str, field: &'static str) -> BadBody {
    let update = TokenUpdate::new().ips_whitelist(ips.iter().map(|ip| ip.parse::<Ipv4Addr>().unwrap()));
    bad(what, json!({ "ipsWhitelist": ips }), violation, update, field)
}

fn bad_bodies() -> Vec<BadBody> {
    const READ: &str = scope::TRADE_REAL_READ;
    let expiry = "2030-12-31T23:59:59Z";
    vec![
        bad("empty object", json!({}), "minProperties", TokenUpdate::new(), "update"),
        scope_names("empty scopeNames list", &[], "minItems", "scopeNames"),
        scope_ids("empty scopeIds list", &[], "minItems", "scopeIds"),
        ips("empty ipsWhitelist", &[], "minItems", "ipsWhitelist"),
        ips(
            "duplicate IPs",
            &["203.0.113.7", "203.0.113.7"],
            "uniqueItems",
            "ipsWhitelist[1]",
        ),
        scope_names("duplicate scope names", &[READ, READ], "uniqueItems", "scopeNames[1]"),
        scope_ids("duplicate scope ids", &[211, 211], "uniqueItems", "scopeIds[1]"),
        scope_names(
            "scope name with a space",
            &["etoro-public:trade.real:read etoro-public:trade.real:write"],
            "pattern",
            "scopeNames[0]",
        ),
        scope_names(
            "scope name with a newline",
            &["etoro-public:trade.real:read\n"],
            "pattern",
            "scopeNames[0]",
        ),
        scope_names("empty scope name", &[""], "minLength", "scopeNames[0]"),
        bad(
            "a valid field next to an empty list",
            json!({"expiresAt": expiry, "ipsWhitelist": []}),
            "minItems",
            TokenUpdate::new()
                .expires_at(expiry.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
                .ips_whitelist(Vec::<Ipv4Addr>::new()),
            "ipsWhitelist",
        ),
    ]
}

/// What the wrapper does with an update when nothing is listening: it must refuse it locally.
async fn wrapper_refusal(update: TokenUpdate) -> Result<etoro_client::InvalidInput, String> {
    match unreachable_client()
        .update_user_token(portfolio(), token(), update)
        .await
    {
        Err(Error::InvalidInput(invalid)) => Ok(invalid),
        Err(err @ Error::Transport { .. }) => Err(format!("the wrapper SENT it (nothing listens there): {err}")),
        Err(other) => Err(format!("expected Error::InvalidInput, got {other:?}")),
        Ok(done) => Err(format!("expected Error::InvalidInput, got success {done:?}")),
    }
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn the_wrapper_refuses_locally_what_prism_rejects() {
    let url = prism_url(OURS);
    let mut failures = Vec::new();
    for case in bad_bodies() {
        // 1. Prism, on our spec, rejects the raw JSON for the expected rule.
        let (status, violations) = send_raw(&url, &case.body, KEYS).await;
        if !status.is_client_error() || !violations.contains(&format!("\"code\":\"{}\"", case.violation)) {
            failures.push(format!(
                "{} {}: expected Prism to reject it with a 4xx and an sl-violations `{}`, got {status} \
                 (sl-violations: {violations:?})",
                case.what, case.body, case.violation
            ));
        }
        // 2. The wrapper refuses the equivalent TokenUpdate before sending, blaming the same field.
        match wrapper_refusal(case.update).await {
            Ok(invalid) if invalid.field == case.field => {}
            Ok(invalid) => failures.push(format!(
                "{}: the wrapper refused it but blamed {:?} ({}), expected {:?}",
                case.what, invalid.field, invalid.rule, case.field
            )),
            Err(problem) => failures.push(format!("{}: {problem}", case.what)),
        }
        // 3. The same raw JSON, read the way a bulk file is (typed body, then TokenUpdate), never gets sent
        //    either: it is refused while parsing, converting, or validating.
        match serde_json::from_value::<types::UpdateUserTokenRequest>(case.body.clone()) {
            Err(_refused_while_parsing) => {}
            Ok(body) => match TokenUpdate::try_from(body) {
                Err(_refused_while_converting) => {}
                Ok(update) => {
                    if let Err(problem) = wrapper_refusal(update).await {
                        failures.push(format!("{} read from JSON: {problem}", case.what));
                    }
                }
            },
        }
    }
    assert!(failures.is_empty(), "\n  {}", failures.join("\n  "));
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn bodies_prism_rejects_cannot_even_be_typed() {
    // Rules the wrapper enforces through types rather than checks: `Ipv4Addr`, `i32`, `DateTime<Utc>` and a
    // struct without a catch-all field. Prism on our spec rejects each raw body; the generated body type (the
    // only way into the wrapper, via `TokenUpdate` or `TokenUpdate::try_from`) cannot hold it.
    let url = prism_url(OURS);
    let cases = [
        (
            "an address that is not IPv4",
            json!({"ipsWhitelist": ["203.0.113.300"]}),
            "format",
        ),
        ("an IPv6 address", json!({"ipsWhitelist": ["2001:db8::1"]}), "format"),
        (
            "a scope id beyond int32",
            json!({"scopeIds": [3_000_000_000u64]}),
            "format",
        ),
        ("a fractional scope id", json!({"scopeIds": [211.5]}), "type"),
        (
            "an expiry that is not a date-time",
            json!({"expiresAt": "next tuesday"}),
            "format",
        ),
        (
            "an unknown field",
            json!({"scopeNames": [scope::TRADE_REAL_READ], "note": "x"}),
            "additionalProperties",
        ),
        (
            "scopeNames that is not a list",
            json!({"scopeNames": scope::TRADE_REAL_READ}),
            "type",
        ),
    ];
    let mut failures = Vec::new();
    for (what, body, violation) in cases {
        let (status, violations) = send_raw(&url, &body, KEYS).await;
        if !status.is_client_error() || !violations.contains(&format!("\"code\":\"{violation}\"")) {
            failures.push(format!(
                "{what} {body}: expected Prism to reject it with a 4xx and an sl-violations `{violation}`, got \
                 {status} (sl-violations: {violations:?})"
            ));
        }
        if let Ok(typed) = serde_json::from_value::<types::UpdateUserTokenRequest>(body.clone()) {
            failures.push(format!(
                "{what} {body}: the generated body type accepted it as {typed:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n  {}", failures.join("\n  "));
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn scope_ids_and_scope_names_together() {
    // The wrapper can never send both: `Scopes` is one enum, and reading a body that has both is refused.
    let both = json!({"scopeIds": [211], "scopeNames": [scope::TRADE_REAL_READ]});
    let typed: types::UpdateUserTokenRequest =
        serde_json::from_value(both.clone()).expect("the generated type can hold both lists");
    let refused = TokenUpdate::try_from(typed).expect_err("TokenUpdate must refuse scopeIds together with scopeNames");
    assert_eq!(refused.field, "scopeIds, scopeNames");

    // Our spec says "never both" only in prose: its schema has no rule for it, so Prism lets it through.
    // If this starts failing, the spec gained that rule: move this case into `bad_bodies`.
    let (status, violations) = send_raw(&prism_url(OURS), &both, KEYS).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "Prism on our spec now rejects scopeIds together with scopeNames (sl-violations: {violations:?}): the \
         spec encodes the rule now, so move this body into `bad_bodies` and delete this assertion"
    );
}

#[tokio::test]
#[ignore = "needs Prism: run .ci/contract"]
async fn our_spec_requires_the_whole_key_pair_or_a_bearer_token() {
    // Our spec models credentials as security requirements: {x-api-key AND x-user-key} OR OAuth2. Prism enforces
    // them, which is what makes the wrapper's 204s above prove its credential headers right.
    let url = prism_url(OURS);
    let body = json!({"scopeNames": [scope::TRADE_REAL_READ]});
    let bearer = format!("Bearer {BEARER}");
    let cases: [(&str, Headers, bool); 5] = [
        ("both keys", KEYS, true),
        ("a bearer token", &[("authorization", bearer.as_str())], true),
        ("x-api-key alone", &[("x-api-key", API_KEY)], false),
        ("x-user-key alone", &[("x-user-key", USER_KEY)], false),
        ("no credentials", &[], false),
    ];
    for (what, headers, accepted) in cases {
        let (status, violations) = send_raw(&url, &body, headers).await;
        if accepted {
            assert_eq!(status, StatusCode::NO_CONTENT, "{what}: sl-violations {violations:?}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: sl-violations {violations:?}");
        }
    }
}
