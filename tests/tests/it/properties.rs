//! Property tests: whatever the input or the answer, the client never panics; it sends exactly the body the spec
//! accepts or refuses the input locally, and turns any error body into a typed error.
//!
//! The oracle for updates is the spec itself, not a copy of the client's rules: the JSON body the caller asked for is
//! built here by hand, from the raw generated inputs, and checked against `UpdateUserTokenRequest` of
//! `openapi/etoro-user-tokens.json` with `jsonschema` (a validator nobody here wrote), plus the two rules the spec
//! states in prose (never both scope kinds; an expiry in the future).

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use etoro_client::{Client, Error, TokenUpdate};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::support::*;

/// The spec's request schema, compiled once.
static SPEC_BODY: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let spec: Value =
        serde_json::from_str(include_str!("../../../openapi/etoro-user-tokens.json")).expect("the spec is JSON");
    let schema = json!({ "$ref": "#/components/schemas/UpdateUserTokenRequest", "components": spec["components"] });
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the spec's body schema compiles")
});

/// What the caller asks for, before the client sees it.
#[derive(Clone, Debug)]
struct Asked {
    names: Option<Vec<String>>,
    ids: Option<Vec<i32>>,
    ips: Option<Vec<Ipv4Addr>>,
    expiry: Option<DateTime<Utc>>,
}

/// Names from a small pool (so duplicates happen), with the characters that matter to the rule.
fn scope_name() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "etoro-public",
        ":",
        "trade.real",
        "read",
        "a",
        "é",
        " ",
        "\t",
        "\n",
        "\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{9b}",
        "\u{a0}",
        "\u{2003}",
        "\u{feff}",
    ]);
    prop_oneof![
        4 => prop::sample::select(vec!["etoro-public:trade.real:read", "etoro-public:trade.real:write", "a:b", "x"])
            .prop_map(str::to_owned),
        1 => prop::collection::vec(pieces, 0..4).prop_map(|pieces| pieces.concat()),
    ]
}

/// Lists of 0 to 40 entries: long enough to take the long-list branch of the duplicate check (more than 16).
fn list<T: std::fmt::Debug + Clone>(item: impl Strategy<Value = T>) -> impl Strategy<Value = Option<Vec<T>>> {
    prop::option::of(prop::collection::vec(item, 0..40))
}

fn asked() -> impl Strategy<Value = Asked> {
    let ip = prop::sample::select(vec![[203, 0, 113, 7], [10, 0, 0, 1], [192, 168, 1, 1]])
        .prop_map(Ipv4Addr::from)
        .boxed();
    let ip = prop_oneof![3 => ip, 1 => any::<u32>().prop_map(Ipv4Addr::from)];
    let id = prop_oneof![3 => prop::sample::select(vec![200, 201, 202, 203, 211]), 1 => any::<i32>()];
    let expiry =
        prop::option::of((-600i64..600).prop_map(|minutes| Utc::now().trunc_subsecs(0) + Duration::minutes(minutes)));
    (
        list(scope_name()),
        prop::option::weighted(0.2, prop::collection::vec(id, 0..40)),
        list(ip),
        expiry,
    )
        .prop_map(|(names, ids, ips, expiry)| Asked {
            names,
            ids,
            ips,
            expiry,
        })
}

impl Asked {
    /// Through the library's setters, as a caller would write it.
    #[allow(deprecated)]
    fn update(&self) -> TokenUpdate {
        let mut update = TokenUpdate::new();
        if let Some(names) = &self.names {
            update = update.scope_names(names.iter().cloned());
        }
        if let Some(ids) = &self.ids {
            update = update.scope_ids(ids.iter().copied());
        }
        if let Some(ips) = &self.ips {
            update = update.ips_whitelist(ips.iter().copied());
        }
        if let Some(at) = self.expiry {
            update = update.expires_at(at);
        }
        update
    }

    /// The body asked for, written by hand from the raw inputs.
    fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(names) = &self.names {
            body.insert("scopeNames".into(), json!(names));
        }
        if let Some(ids) = &self.ids {
            body.insert("scopeIds".into(), json!(ids));
        }
        if let Some(ips) = &self.ips {
            body.insert(
                "ipsWhitelist".into(),
                json!(ips.iter().map(ToString::to_string).collect::<Vec<_>>()),
            );
        }
        if let Some(at) = self.expiry {
            body.insert(
                "expiresAt".into(),
                json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            );
        }
        Value::Object(body)
    }

    /// The spec's verdict: its schema, and the two rules it states in prose.
    fn spec_accepts(&self, now: DateTime<Utc>) -> bool {
        SPEC_BODY.is_valid(&self.body())
            && !(self.names.is_some() && self.ids.is_some())
            && self.expiry.is_none_or(|at| at > now)
    }

    /// The client is stricter than the pattern on purpose (documented in `openapi/README.md`): it also refuses
    /// C1 control characters and U+FEFF in scope names, which no scope name holds.
    fn holds_what_the_client_refuses_beyond_the_spec(&self) -> bool {
        self.names.iter().flatten().any(|name| {
            name.chars()
                .any(|c| ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{feff}')
        })
    }
}

fn dry_run_client() -> Client {
    key_client("http://127.0.0.1:9")
}

/// `expiresAt` as an instant, so that equal instants written differently compare equal.
fn normalized(mut body: Value) -> Value {
    if let Some(at) = body.get_mut("expiresAt") {
        let instant: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
        *at = json!(instant.timestamp());
    }
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn the_client_sends_exactly_what_the_spec_accepts(asked in asked()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let now = Utc::now();
        let outcome = runtime.block_on(dry_run_client().update_user_token(portfolio(), token(), asked.update()).dry_run());
        let accepted = asked.spec_accepts(now);
        match outcome {
            Ok(prepared) => {
                prop_assert!(accepted, "sent what the spec refuses: {}", prepared.body);
                let sent: Value = serde_json::from_str(&prepared.body).unwrap();
                prop_assert_eq!(normalized(sent), normalized(asked.body()), "sent exactly what was asked");
            }
            Err(Error::InvalidInput(invalid)) => {
                prop_assert!(
                    !accepted || asked.holds_what_the_client_refuses_beyond_the_spec(),
                    "refused what the spec accepts: {invalid}"
                );
                prop_assert!(!invalid.field.is_empty() && !invalid.rule.is_empty());
            }
            Err(other) => prop_assert!(false, "a dry run can only succeed or refuse the input: {other}"),
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
            let client = key_client(server.uri());
            update_err(&client, TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST])).await
        });
        let Error::Api(api) = &err else { panic!("{err:?}") };
        prop_assert_eq!(api.status.as_u16(), status);
        prop_assert!(!err.to_string().is_empty());
    }
}
