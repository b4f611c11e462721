//! The mock's state: agent-portfolios and their user tokens, in memory behind one lock.
//!
//! Portfolios are never removed (the spec has no operation for it), so they sit in a `Vec` in listing order with
//! an index by id. Tokens sit in their portfolio in creation order, keyed by a sequence number, with one index by
//! id for all of them (ids are UUIDs, unique across portfolios). A revoked id is remembered and never exists
//! again, in either world, as eToro says of revoked tokens.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::{MockConfig, World};
use crate::error::ApiError;
use crate::seed::{Portfolio, Token};

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) scope_names: Option<Vec<String>>,
    pub(crate) scope_ids: Option<Vec<i32>>,
    pub(crate) ips_whitelist: Option<Vec<Ipv4Addr>>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// A token to create.
#[derive(Debug)]
pub(crate) struct NewToken {
    pub(crate) name: String,
    pub(crate) scope_names: Vec<String>,
    pub(crate) ips_whitelist: Option<Vec<Ipv4Addr>>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub(crate) struct Store {
    world: World,
    missing: HashSet<Uuid>,
    max_tokens: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    portfolios: Vec<Entry>,
    portfolio_index: HashMap<Uuid, usize>,
    /// Token id to (portfolio index, sequence number in that portfolio).
    token_index: HashMap<Uuid, (usize, u64)>,
    revoked: HashSet<Uuid>,
    next_seq: u64,
}

/// A portfolio; its `tokens` field stays empty, the tokens live in `tokens` here.
#[derive(Debug)]
struct Entry {
    portfolio: Portfolio,
    tokens: BTreeMap<u64, Token>,
}

fn portfolio_not_found() -> ApiError {
    ApiError::not_found("Agent-portfolio not found")
}

fn token_not_found() -> ApiError {
    ApiError::not_found("User token not found")
}

impl Store {
    pub(crate) fn new(config: &MockConfig) -> Self {
        let mut inner = Inner::default();
        for seeded in &config.portfolios {
            let mut portfolio = seeded.clone();
            let tokens = std::mem::take(&mut portfolio.tokens);
            // A seed that repeats a portfolio id adds to the first one; a repeated token id keeps the first.
            let index = inner.portfolio(portfolio);
            for token in tokens {
                if !inner.token_index.contains_key(&token.id) {
                    inner.insert_token(index, token);
                }
            }
        }
        Store {
            world: config.world,
            missing: config.missing.clone(),
            max_tokens: config.max_tokens_per_portfolio,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below leaves the state consistent before it can panic, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every portfolio with its tokens, in listing order.
    pub(crate) fn snapshot(&self) -> Vec<Portfolio> {
        let inner = self.lock();
        inner
            .portfolios
            .iter()
            .map(|entry| Portfolio {
                tokens: entry.tokens.values().cloned().collect(),
                ..entry.portfolio.clone()
            })
            .collect()
    }

    /// The portfolio's index, adding it in the open world when unknown.
    fn find_portfolio(&self, inner: &mut Inner, id: Uuid, now: DateTime<Utc>) -> Result<usize, ApiError> {
        if self.missing.contains(&id) {
            return Err(portfolio_not_found());
        }
        match (inner.portfolio_index.get(&id), self.world) {
            (Some(&index), _) => Ok(index),
            (None, World::Closed) => Err(portfolio_not_found()),
            (None, World::Open) => Ok(inner.portfolio(Portfolio {
                created_at: now,
                ..Portfolio::new(id, format!("Agent portfolio {id}"))
            })),
        }
    }

    /// Applies an update to a token, adding the token (and its portfolio) in the open world when unknown.
    pub(crate) fn update(
        &self,
        portfolio: Uuid,
        token: Uuid,
        changes: Changes,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let mut inner = self.lock();
        let index = self.find_portfolio(&mut inner, portfolio, now)?;
        if self.missing.contains(&token) || inner.revoked.contains(&token) {
            return Err(token_not_found());
        }
        let seq = match inner.token_index.get(&token).copied() {
            Some((owner, seq)) if owner == index => seq,
            // The id belongs to another portfolio's token.
            Some(_) => return Err(token_not_found()),
            None if self.world == World::Closed => return Err(token_not_found()),
            None => {
                let added = Token {
                    created_at: now,
                    ..Token::new(token, format!("token {token}"))
                };
                inner.insert_token(index, added)
            }
        };
        let Some(stored) = inner.portfolios[index].tokens.get_mut(&seq) else {
            return Err(token_not_found());
        };
        // Scopes are held the way they were last given: names or (deprecated) ids, never a guessed mix.
        if let Some(names) = changes.scope_names {
            stored.scope_names = Some(names);
            stored.scope_ids = None;
        }
        if let Some(ids) = changes.scope_ids {
            stored.scope_ids = Some(ids);
            stored.scope_names = None;
        }
        if let Some(ips) = changes.ips_whitelist {
            stored.ips_whitelist = Some(ips);
        }
        if let Some(at) = changes.expires_at {
            stored.expires_at = Some(at);
        }
        Ok(())
    }

    /// Creates a token: the portfolio must exist (or, in the open world, is added), the name be new in it, and
    /// the portfolio below its limit. Returns the token as stored.
    pub(crate) fn create(&self, portfolio: Uuid, new: NewToken, now: DateTime<Utc>) -> Result<Token, ApiError> {
        let mut inner = self.lock();
        let index = self.find_portfolio(&mut inner, portfolio, now)?;
        let tokens = &inner.portfolios[index].tokens;
        if tokens.values().any(|t| t.name == new.name) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "UserKeyNameAlreadyExists",
                "UserKeyName already exists",
            ));
        }
        if tokens.len() >= self.max_tokens {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "MaxUserTokensExceeded",
                "Maximum number of user tokens exceeded",
            ));
        }
        // A fresh id: never one the store holds, has revoked, or was told is missing.
        let id = loop {
            let id = Uuid::new_v4();
            if !inner.token_index.contains_key(&id) && !inner.revoked.contains(&id) && !self.missing.contains(&id) {
                break id;
            }
        };
        let token = Token {
            client_id: Uuid::new_v4(),
            scope_names: Some(new.scope_names),
            ips_whitelist: new.ips_whitelist,
            expires_at: new.expires_at,
            created_at: now,
            ..Token::new(id, new.name)
        };
        inner.insert_token(index, token.clone());
        Ok(token)
    }

    /// Revokes a token. In the open world a token the mock never held is revoked too (it existed); a revoked
    /// one answers 404 from then on.
    pub(crate) fn revoke(&self, portfolio: Uuid, token: Uuid) -> Result<(), ApiError> {
        let mut inner = self.lock();
        if self.missing.contains(&portfolio) {
            return Err(portfolio_not_found());
        }
        let known_portfolio = inner.portfolio_index.get(&portfolio).copied();
        if known_portfolio.is_none() && self.world == World::Closed {
            return Err(portfolio_not_found());
        }
        if self.missing.contains(&token) || inner.revoked.contains(&token) {
            return Err(token_not_found());
        }
        match inner.token_index.get(&token).copied() {
            Some((owner, seq)) if Some(owner) == known_portfolio => {
                inner.token_index.remove(&token);
                inner.portfolios[owner].tokens.remove(&seq);
            }
            Some(_) => return Err(token_not_found()),
            None if self.world == World::Closed => return Err(token_not_found()),
            None => {}
        }
        inner.revoked.insert(token);
        Ok(())
    }
}

impl Inner {
    /// Adds a portfolio (or finds the one with its id) and returns its index.
    fn portfolio(&mut self, mut portfolio: Portfolio) -> usize {
        if let Some(&index) = self.portfolio_index.get(&portfolio.id) {
            return index;
        }
        portfolio.tokens = Vec::new();
        let index = self.portfolios.len();
        self.portfolio_index.insert(portfolio.id, index);
        self.portfolios.push(Entry {
            portfolio,
            tokens: BTreeMap::new(),
        });
        index
    }

    fn insert_token(&mut self, index: usize, token: Token) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.token_index.insert(token.id, (index, seq));
        self.portfolios[index].tokens.insert(seq, token);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn closed(portfolios: Vec<Portfolio>) -> Store {
        Store::new(&MockConfig {
            world: World::Closed,
            portfolios,
            ..MockConfig::default()
        })
    }

    fn names(changes: &[&str]) -> Changes {
        Changes {
            scope_names: Some(changes.iter().map(|s| (*s).to_owned()).collect()),
            ..Changes::default()
        }
    }

    #[test]
    fn closed_world_knows_only_the_seed() {
        let store = closed(vec![Portfolio::new(id(1), "p").token(Token::new(id(2), "t"))]);
        let now = Utc::now();
        assert!(store.update(id(1), id(2), names(&["a"]), now).is_ok());
        assert_eq!(
            store.update(id(9), id(2), names(&["a"]), now).unwrap_err().message,
            "Agent-portfolio not found"
        );
        assert_eq!(
            store.update(id(1), id(9), names(&["a"]), now).unwrap_err().message,
            "User token not found"
        );
        assert_eq!(store.snapshot().len(), 1);
        assert_eq!(store.snapshot()[0].tokens[0].scope_names, Some(vec!["a".to_owned()]));
    }

    #[test]
    fn open_world_adds_what_it_is_told_about() {
        let store = Store::new(&MockConfig::default());
        let now = Utc::now();
        store.update(id(1), id(2), names(&["a"]), now).unwrap();
        store.update(id(1), id(3), Changes::default(), now).unwrap();
        let listed = store.snapshot();
        assert_eq!(listed.len(), 1);
        let ids: Vec<Uuid> = listed[0].tokens.iter().map(|t| t.id).collect();
        assert_eq!(ids, [id(2), id(3)]);
        // A token id of one portfolio is not a token of another.
        assert_eq!(
            store.update(id(4), id(2), Changes::default(), now).unwrap_err().status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn scopes_are_names_or_ids_as_last_given() {
        let store = closed(vec![Portfolio::new(id(1), "p").token(Token::new(id(2), "t"))]);
        let now = Utc::now();
        let ids = Changes {
            scope_ids: Some(vec![200]),
            ..Changes::default()
        };
        store.update(id(1), id(2), names(&["a"]), now).unwrap();
        store.update(id(1), id(2), ids, now).unwrap();
        let token = &store.snapshot()[0].tokens[0];
        assert_eq!(
            (token.scope_names.clone(), token.scope_ids.clone()),
            (None, Some(vec![200]))
        );
    }

    fn new_token(name: &str) -> NewToken {
        NewToken {
            name: name.to_owned(),
            scope_names: vec!["a".to_owned()],
            ips_whitelist: None,
            expires_at: None,
        }
    }

    #[test]
    fn create_checks_name_then_limit() {
        let store = Store::new(&MockConfig {
            world: World::Closed,
            portfolios: vec![Portfolio::new(id(1), "p")],
            max_tokens_per_portfolio: 2,
            ..MockConfig::default()
        });
        let now = Utc::now();
        let first = store.create(id(1), new_token("a"), now).unwrap();
        assert_eq!(
            store.create(id(1), new_token("a"), now).unwrap_err().code,
            "UserKeyNameAlreadyExists"
        );
        store.create(id(1), new_token("b"), now).unwrap();
        assert_eq!(
            store.create(id(1), new_token("c"), now).unwrap_err().code,
            "MaxUserTokensExceeded"
        );
        assert_eq!(store.create(id(2), new_token("c"), now).unwrap_err().code, "NotFound");
        // Revoking one makes room again.
        store.revoke(id(1), first.id).unwrap();
        assert!(store.create(id(1), new_token("a"), now).is_ok());
    }

    #[test]
    fn revoked_ids_never_come_back() {
        for world in [World::Open, World::Closed] {
            let store = Store::new(&MockConfig {
                world,
                portfolios: vec![Portfolio::new(id(1), "p").token(Token::new(id(2), "t"))],
                ..MockConfig::default()
            });
            let now = Utc::now();
            store.revoke(id(1), id(2)).unwrap();
            assert!(store.snapshot()[0].tokens.is_empty());
            assert_eq!(store.revoke(id(1), id(2)).unwrap_err().status, StatusCode::NOT_FOUND);
            assert_eq!(
                store.update(id(1), id(2), names(&["a"]), now).unwrap_err().status,
                StatusCode::NOT_FOUND,
                "{world:?}"
            );
        }
    }

    #[test]
    fn open_world_revokes_unknown_tokens_once() {
        let store = Store::new(&MockConfig::default());
        assert!(store.revoke(id(1), id(2)).is_ok());
        assert!(store.revoke(id(1), id(2)).is_err());
        assert!(store.snapshot().is_empty(), "nothing is added to be revoked");
    }

    #[test]
    fn missing_ids_are_missing_in_either_world() {
        let store = Store::new(&MockConfig {
            missing: [id(1), id(3)].into_iter().collect(),
            portfolios: vec![Portfolio::new(id(1), "p").token(Token::new(id(2), "t"))],
            ..MockConfig::default()
        });
        let now = Utc::now();
        assert_eq!(
            store.update(id(1), id(2), Changes::default(), now).unwrap_err().message,
            "Agent-portfolio not found"
        );
        assert_eq!(
            store.update(id(5), id(3), Changes::default(), now).unwrap_err().message,
            "User token not found"
        );
        assert!(store.create(id(1), new_token("x"), now).is_err());
        assert!(store.revoke(id(5), id(3)).is_err());
    }
}
