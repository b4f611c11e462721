//! Agent-portfolios and user tokens: what the mock starts with ([`crate::MockConfig::portfolios`]) and what
//! [`crate::MockServer::portfolios`] shows of its state.
//!
//! Three ways to seed, which combine:
//!
//! - by hand: `Portfolio::new(id, name).token(Token::new(id, name).scope_names([...]))`;
//! - generated: [`Portfolio::generate`]`(n)`, `n` portfolios with one to three tokens each, the same for the same
//!   `n` (and `generate(n)` is the first `n` of `generate(n + 1)`);
//! - from JSON: [`Portfolio::list_from_json`] reads the list answer's own shape,
//!   `{"agentPortfolios": [{"agentPortfolioId": ..., "userTokens": [{"userTokenId": ..., "userTokenName": ...}]}]}`.
//!   Only the ids and token names are required; a missing name, GCID, balance, mirror id, client id or
//!   creation time is derived from the id, as [`Portfolio::new`] and [`Token::new`] do. `ipsWhitelist` entries
//!   must be IPv4 addresses, ids unique, and token names unique within their portfolio.

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::wire::{ListResponse, PortfolioItem, TokenItem};

/// One agent-portfolio and its user tokens, in creation order.
#[derive(Clone, Debug, PartialEq)]
pub struct Portfolio {
    /// `agentPortfolioId`.
    pub id: Uuid,
    /// `agentPortfolioName`.
    pub name: String,
    /// `agentPortfolioGcid`.
    pub gcid: i64,
    /// `agentPortfolioVirtualBalance`, in USD.
    pub virtual_balance: f64,
    /// `mirrorId`.
    pub mirror_id: i64,
    /// `createdAt`.
    pub created_at: DateTime<Utc>,
    /// `userTokens`.
    pub tokens: Vec<Token>,
}

/// One user token as the listing shows it. Its secret is not here: the mock hands it out once, in the answer of
/// the create call, and keeps no copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// `userTokenId`.
    pub id: Uuid,
    /// `userTokenName`, unique within the portfolio.
    pub name: String,
    /// `clientId`.
    pub client_id: Uuid,
    /// `externalApplicationName`, absent unless seeded.
    pub external_application_name: Option<String>,
    /// `scopeNames`; set by an update by name (which clears `scope_ids`).
    pub scope_names: Option<Vec<String>>,
    /// `scopeIds`; set by a v1 update by id (which clears `scope_names`): the mock does not guess the mapping.
    pub scope_ids: Option<Vec<i32>>,
    /// `ipsWhitelist`; `None` is unrestricted (listed as `null`).
    pub ips_whitelist: Option<Vec<Ipv4Addr>>,
    /// `expiresAt`; `None` never expires (listed as `null`).
    pub expires_at: Option<DateTime<Utc>>,
    /// `createdAt`.
    pub created_at: DateTime<Utc>,
}

/// The creation time of everything seeded without one: fixed, so that seeds are the same on every run.
fn seeded_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// A number in `0..modulus` taken from `id`, for the fields derived from an id.
fn derived(id: Uuid, salt: u128, modulus: u64) -> u64 {
    ((id.as_u128() ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 64) as u64 % modulus
}

impl Portfolio {
    /// A portfolio without tokens. Its GCID, virtual balance and mirror id are derived from `id` (the same id
    /// always gets the same ones) and it was created at 2026-01-01T00:00:00Z.
    pub fn new(id: Uuid, name: impl Into<String>) -> Self {
        Portfolio {
            id,
            name: name.into(),
            gcid: 10_000_000 + derived(id, 1, 90_000_000) as i64,
            virtual_balance: (1_000 + derived(id, 2, 99_000) * 10) as f64,
            mirror_id: 1_000_000 + derived(id, 3, 9_000_000) as i64,
            created_at: seeded_at(),
            tokens: Vec::new(),
        }
    }

    /// Adds a token.
    pub fn token(mut self, token: Token) -> Self {
        self.tokens.push(token);
        self
    }

    /// The ids of the spec's examples and the README: portfolio `3fa85f64-5717-4562-b3fc-2c963f66afa6` with token
    /// `9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f` ("readme-token", two `trade.real` scope names, no IP restriction,
    /// no expiry). `etoro-token mock` and `etoro-token --mock` always hold it.
    pub fn example() -> Self {
        Portfolio::new(
            Uuid::from_u128(0x3fa85f64_5717_4562_b3fc_2c963f66afa6),
            "README example",
        )
        .token(
            Token::new(Uuid::from_u128(0x9b2d3c4e_1f2a_4b5c_8d9e_0a1b2c3d4e5f), "readme-token")
                .scope_names(["etoro-public:trade.real:read", "etoro-public:trade.real:write"]),
        )
    }

    /// `count` generated portfolios with one to three tokens each: random-looking but the same for the same
    /// `count`, and `generate(n)` is a prefix of `generate(n + 1)`. Ids are UUID v4 in form; IP addresses come
    /// from 198.51.100.0/24 (TEST-NET-2); expiries, when set, are in 2099.
    pub fn generate(count: usize) -> Vec<Portfolio> {
        const NAMES: [&str; 4] = [
            "etoro-public:trade.real:read",
            "etoro-public:trade.real:write",
            "etoro-public:trade.demo:read",
            "etoro-public:trade.demo:write",
        ];
        let mut rng = fastrand::Rng::with_seed(0x5eed_e70e_0000_0001);
        let uuid = |rng: &mut fastrand::Rng| uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid();
        (0..count)
            .map(|p| {
                let mut portfolio = Portfolio::new(uuid(&mut rng), format!("Generated portfolio {}", p + 1));
                for t in 0..rng.usize(1..=3) {
                    let mut names: Vec<String> = NAMES.iter().filter(|_| rng.bool()).map(|n| (*n).to_owned()).collect();
                    if names.is_empty() {
                        names.push(NAMES[rng.usize(..NAMES.len())].to_owned());
                    }
                    let mut token = Token::new(uuid(&mut rng), format!("token-{}", t + 1)).scope_names(names);
                    if rng.bool() {
                        token = token.ips_whitelist([Ipv4Addr::new(198, 51, 100, rng.u8(1..=254))]);
                    }
                    if rng.bool() {
                        let at = Utc
                            .with_ymd_and_hms(2099, rng.u32(1..=12), rng.u32(1..=28), 0, 0, 0)
                            .single();
                        token.expires_at = at;
                    }
                    portfolio.tokens.push(token);
                }
                portfolio
            })
            .collect()
    }

    /// Reads portfolios from JSON in the shape of the list answer (an object with `agentPortfolios`, each with its `userTokens`, as `GET /api/v1/agent-portfolios` answers).
    ///
    /// # Errors
    /// When the text is not such JSON, or breaks a rule of the module documentation; the error says where.
    pub fn list_from_json(text: &str) -> Result<Vec<Portfolio>, SeedError> {
        let list: ListResponse =
            serde_json::from_str(text).map_err(|err| SeedError(format!("not a list of agent-portfolios: {err}")))?;
        let mut portfolio_ids = HashSet::new();
        let mut token_ids = HashSet::new();
        let mut portfolios = Vec::with_capacity(list.agent_portfolios.len());
        for (p, item) in list.agent_portfolios.into_iter().enumerate() {
            let at = format!("agentPortfolios[{p}]");
            if !portfolio_ids.insert(item.agent_portfolio_id) {
                return Err(SeedError(format!(
                    "{at}: agentPortfolioId {} appears twice",
                    item.agent_portfolio_id
                )));
            }
            let mut portfolio = portfolio_from(item.agent_portfolio_id, &item);
            let mut names = HashSet::new();
            for (t, token) in item.user_tokens.into_iter().enumerate() {
                let at = format!("{at}.userTokens[{t}]");
                if !token_ids.insert(token.user_token_id) {
                    return Err(SeedError(format!(
                        "{at}: userTokenId {} appears twice",
                        token.user_token_id
                    )));
                }
                if !names.insert(token.user_token_name.clone()) {
                    return Err(SeedError(format!(
                        "{at}: userTokenName {:?} appears twice in the portfolio",
                        token.user_token_name
                    )));
                }
                portfolio.tokens.push(token_from(token, &at)?);
            }
            portfolios.push(portfolio);
        }
        Ok(portfolios)
    }

    /// The list answer's JSON for `portfolios`: what `GET /api/v1/agent-portfolios` sends, and what
    /// [`Portfolio::list_from_json`] reads back.
    pub fn list_to_json(portfolios: &[Portfolio]) -> String {
        let list = ListResponse {
            agent_portfolios: portfolios.iter().map(PortfolioItem::from).collect(),
        };
        serde_json::to_string_pretty(&list).unwrap_or_default()
    }
}

fn portfolio_from(id: Uuid, item: &PortfolioItem) -> Portfolio {
    let mut portfolio = Portfolio::new(id, item.agent_portfolio_name.clone().unwrap_or_else(|| id.to_string()));
    if let Some(gcid) = item.agent_portfolio_gcid {
        portfolio.gcid = gcid;
    }
    if let Some(balance) = item.agent_portfolio_virtual_balance {
        portfolio.virtual_balance = balance;
    }
    if let Some(mirror_id) = item.mirror_id {
        portfolio.mirror_id = mirror_id;
    }
    if let Some(created_at) = item.created_at {
        portfolio.created_at = created_at;
    }
    portfolio
}

fn token_from(item: TokenItem, at: &str) -> Result<Token, SeedError> {
    let mut token = Token::new(item.user_token_id, item.user_token_name);
    if let Some(client_id) = item.client_id {
        token.client_id = client_id;
    }
    if let Some(created_at) = item.created_at {
        token.created_at = created_at;
    }
    token.external_application_name = item.external_application_name;
    token.scope_ids = item.scope_ids;
    token.scope_names = item.scope_names;
    token.expires_at = item.expires_at;
    token.ips_whitelist = match item.ips_whitelist {
        None => None,
        Some(ips) => Some(
            ips.iter()
                .enumerate()
                .map(|(i, ip)| {
                    ip.parse()
                        .map_err(|_| SeedError(format!("{at}.ipsWhitelist[{i}]: {ip:?} is not an IPv4 address")))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(token)
}

impl Token {
    /// A token without scopes, IP restriction or expiry. Its client id is derived from `id` and it was created
    /// at 2026-01-01T00:00:00Z.
    pub fn new(id: Uuid, name: impl Into<String>) -> Self {
        let client = (id.as_u128() ^ 0xc11e_47c1_1e47_c11e_47c1_1e47_c11e_47c1).to_le_bytes();
        Token {
            id,
            name: name.into(),
            client_id: uuid::Builder::from_random_bytes(client).into_uuid(),
            external_application_name: None,
            scope_names: None,
            scope_ids: None,
            ips_whitelist: None,
            expires_at: None,
            created_at: seeded_at(),
        }
    }

    /// Sets the scope names.
    pub fn scope_names<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.scope_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the deprecated scope ids.
    pub fn scope_ids<I: IntoIterator<Item = i32>>(mut self, ids: I) -> Self {
        self.scope_ids = Some(ids.into_iter().collect());
        self
    }

    /// Restricts the token to these addresses.
    pub fn ips_whitelist<I: IntoIterator<Item = Ipv4Addr>>(mut self, ips: I) -> Self {
        self.ips_whitelist = Some(ips.into_iter().collect());
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// A seed that cannot be read: the message says where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedError(String);

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SeedError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_seeds_are_deterministic_prefixes() {
        let five = Portfolio::generate(5);
        assert_eq!(five, Portfolio::generate(5));
        assert_eq!(&Portfolio::generate(8)[..5], &five[..]);
        assert!(five.iter().all(|p| (1..=3).contains(&p.tokens.len())));
        let ids: HashSet<Uuid> = five.iter().flat_map(|p| p.tokens.iter().map(|t| t.id)).collect();
        assert_eq!(ids.len(), five.iter().map(|p| p.tokens.len()).sum::<usize>());
        assert!(five
            .iter()
            .flat_map(|p| &p.tokens)
            .all(|t| t.scope_names.as_ref().is_some_and(|n| !n.is_empty())));
    }

    #[test]
    fn the_list_json_reads_back() {
        let mut portfolios = Portfolio::generate(4);
        portfolios.push(Portfolio::example());
        portfolios[0].tokens[0].scope_ids = Some(vec![200]);
        portfolios[0].tokens[0].external_application_name = Some("bot".to_owned());
        let json = Portfolio::list_to_json(&portfolios);
        assert_eq!(Portfolio::list_from_json(&json).unwrap(), portfolios);
    }

    #[test]
    fn a_minimal_seed_file_gets_derived_fields() {
        let json = r#"{"agentPortfolios": [{"agentPortfolioId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "userTokens": [{"userTokenId": "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f", "userTokenName": "t"}]}]}"#;
        let read = Portfolio::list_from_json(json).unwrap();
        let example = Portfolio::example();
        assert_eq!((read[0].id, read[0].gcid), (example.id, example.gcid));
        assert_eq!(read[0].tokens[0].client_id, example.tokens[0].client_id);
        assert_eq!(read[0].tokens[0].expires_at, None);
    }

    #[test]
    fn bad_seed_files_say_where() {
        let p = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
        let t = "9b2d3c4e-1f2a-4b5c-8d9e-0a1b2c3d4e5f";
        let u = "7e9a201e-089e-44b8-a998-66a08d2d2ecc";
        for (json, says) in [
            ("[]".to_owned(), "not a list of agent-portfolios"),
            (r#"{"agentPortfolios": [{"id": 1}]}"#.to_owned(), "unknown field `id`"),
            (
                format!(r#"{{"agentPortfolios": [{{"agentPortfolioId": "{p}"}}, {{"agentPortfolioId": "{p}"}}]}}"#),
                "agentPortfolios[1]: agentPortfolioId",
            ),
            (
                format!(
                    r#"{{"agentPortfolios": [{{"agentPortfolioId": "{p}", "userTokens": [
                    {{"userTokenId": "{t}", "userTokenName": "a"}}, {{"userTokenId": "{u}", "userTokenName": "a"}}]}}]}}"#
                ),
                "agentPortfolios[0].userTokens[1]: userTokenName \"a\" appears twice",
            ),
            (
                format!(
                    r#"{{"agentPortfolios": [{{"agentPortfolioId": "{p}", "userTokens": [
                    {{"userTokenId": "{t}", "userTokenName": "a", "ipsWhitelist": ["::1"]}}]}}]}}"#
                ),
                "agentPortfolios[0].userTokens[0].ipsWhitelist[0]: \"::1\" is not an IPv4 address",
            ),
        ] {
            let err = Portfolio::list_from_json(&json).unwrap_err().to_string();
            assert!(err.contains(says), "{json}: {err}");
        }
    }
}
