//! A normalised listing: the accounts a system returned, sorted by id, with its SHA-256.

use std::collections::BTreeMap;

use crate::canonical::{self, HashSink};
use crate::event::AccountSnapshot;
use crate::hash::Hash256;

/// The accounts of one successful listing, keyed and ordered by account id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    accounts: BTreeMap<String, AccountSnapshot>,
}

/// Why a listing cannot be trusted as a description of the system.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ListingError {
    #[error("the listing has an account with an empty id (login name `{login_name}`)")]
    EmptyId { login_name: String },
    #[error("the listing has the account id `{0}` more than once")]
    DuplicateId(String),
}

impl Listing {
    /// Normalises accounts into a listing; every id must be present and unique.
    pub fn new(accounts: Vec<AccountSnapshot>) -> Result<Self, ListingError> {
        let mut by_id = BTreeMap::new();
        for account in accounts {
            if account.id.is_empty() {
                return Err(ListingError::EmptyId {
                    login_name: account.login_name,
                });
            }
            let id = account.id.clone();
            if by_id.insert(id.clone(), account).is_some() {
                return Err(ListingError::DuplicateId(id));
            }
        }
        Ok(Listing { accounts: by_id })
    }

    pub fn get(&self, account_id: &str) -> Option<&AccountSnapshot> {
        self.accounts.get(account_id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &AccountSnapshot> {
        self.accounts.values()
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// SHA-256 of the canonical JSON array of the snapshots in id order: two listings with the
    /// same accounts and attributes have the same hash, whatever order the system sent them in.
    /// An absent `created` is a `null` member here (unlike in entries), as it always was. The
    /// canonical text is streamed into the hash, never built whole.
    pub fn sha256(&self) -> Hash256 {
        let mut sink = HashSink::new();
        canonical::snapshots(&mut sink, self.accounts.values());
        sink.finish()
    }
}
