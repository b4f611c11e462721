//! Property tests: whatever the input or the answer, the client never panics; it builds a well-formed request
//! or names the rule that failed, and turns any error body into a typed error.

use std::net::Ipv4Addr;

use chrono::{DateTime, Duration, Utc};
use etoro_client::{Error, RetryPolicy, Scopes, TokenUpdate};
use proptest::prelude::*;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

fn scope_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z\\-]{1,12}:[a-z.]{1,12}:(read|write)",
        any::<String>(),
        Just(String::new()),
        "[a-z]{1,5}[ \t\r\n\u{0}\u{7f}][a-z]{0,5}",
    ]
}

#[allow(deprecated)]
fn token_update() -> impl Strategy<Value = TokenUpdate> {
    let scopes = prop_oneof![
        Just(None),
        prop::collection::vec(scope_name(), 0..5).prop_map(|n| Some(Scopes::Names(n))),
        prop::collection::vec(any::<i32>(), 0..5).prop_map(|i| Some(Scopes::Ids(i))),
    ];
    let ips = prop::option::of(prop::collection::vec(any::<u32>().prop_map(Ipv4Addr::from), 0..5));
    let expiry = prop::option::of((-10_000i64..10_000).prop_map(|minutes| Utc::now() + Duration::minutes(minutes)));
    (scopes, ips, expiry).prop_map(|(scopes, ips, expiry)| {
        let mut update = scopes
            .map(|scopes| TokenUpdate::new().with_scopes(scopes))
            .unwrap_or_default();
        if let Some(ips) = ips {
            update = update.ips_whitelist(ips);
        }
        if let Some(at) = expiry {
            update = update.expires_at(at);
        }
        update
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn an_update_becomes_a_valid_body_or_a_named_error(update in token_update()) {
        let now: DateTime<Utc> = Utc::now();
        match update.to_request(now) {
            Ok(body) => {
                let json = serde_json::to_value(&body).unwrap();
                let object = json.as_object().unwrap();
                prop_assert!(!object.is_empty(), "at least one field");
                prop_assert!(!(object.contains_key("scopeIds") && object.contains_key("scopeNames")));
                for list in object.values().filter_map(|v| v.as_array()) {
                    prop_assert!(!list.is_empty());
                    let unique: std::collections::HashSet<String> = list.iter().map(|v| v.to_string()).collect();
                    prop_assert_eq!(unique.len(), list.len(), "no duplicates");
                }
                if let Some(names) = object.get("scopeNames") {
                    for name in names.as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        prop_assert!(!name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c.is_control()));
                    }
                }
                // The body reads back as the same value: what is sent is what was asked for.
                let round_trip: etoro_client::types::UpdateUserTokenRequest = serde_json::from_value(json).unwrap();
                prop_assert_eq!(round_trip, body);
            }
            Err(invalid) => {
                prop_assert!(!invalid.field.is_empty() && !invalid.rule.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_error_body_becomes_a_typed_error(
        status in prop::sample::select(vec![400u16, 401, 403, 404, 429, 500, 502, 503]),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            any::<String>().prop_map(String::into_bytes),
            "\\{\"errorCode\":\"[A-Za-z]{0,20}\",\"errorMessage\":\"[ -~]{0,40}\"(,\"x\":[0-9]{1,3})?\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let err = runtime.block_on(async {
            let server = server().await;
            Mock::given(method("PATCH"))
                .respond_with(ResponseTemplate::new(status).set_body_bytes(body.clone()))
                .mount(&server)
                .await;
            let client = etoro_client::Client::builder()
                .base_url(server.uri())
                .api_keys(API_KEY, USER_KEY)
                .retry(RetryPolicy::none())
                .build()
                .unwrap();
            client
                .update_user_token(portfolio(), token(), TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]))
                .await
                .unwrap_err()
        });
        let Error::Api(api) = &err else { panic!("{err:?}") };
        prop_assert_eq!(api.status.as_u16(), status);
        prop_assert!(!err.to_string().is_empty());
    }
}
