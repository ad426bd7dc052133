//! A normalised listing: the items a system returned, sorted by id, and the accounts' listing
//! with its SHA-256.
//!
//! A listing is kept as a vector sorted by id rather than a map: it is built once per sync from
//! what the API sent (already in id order from Tailscale, so the sort is a single pass), never
//! changed, and read in id order beside the projections' maps, which are sorted by the same key.
//! Walking both at once ([`ById::join`]) plans a sync of 100,000 accounts without a lookup per
//! account and without a copy of any id.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;

use crate::canonical::{self, HashSink};
use crate::event::{AccountSnapshot, DeviceSnapshot, KeySnapshot};
use crate::hash::Hash256;

/// What a listing's items are keyed by.
pub trait Keyed {
    fn key(&self) -> &str;
}

impl Keyed for AccountSnapshot {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for DeviceSnapshot {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for KeySnapshot {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The items of one listing, ordered by id, each id once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ById<T> {
    items: Vec<T>,
}

impl<T: Keyed> ById<T> {
    /// Orders `items` by id; an id listed twice is the error, since such a listing cannot be
    /// trusted as a description of the system.
    pub fn new(mut items: Vec<T>) -> Result<Self, String> {
        items.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        if let Some(pair) = items.windows(2).find(|pair| pair[0].key() == pair[1].key()) {
            return Err(pair[0].key().to_owned());
        }
        Ok(ById { items })
    }

    /// The items in id order.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every id of the listing and of `known` once, in id order: what was listed beside what
    /// `known` holds under its id, or what `known` holds that was not listed.
    pub fn join<'a, S>(&'a self, known: &'a BTreeMap<String, S>) -> Join<'a, T, S> {
        Join {
            listed: self.items.iter().peekable(),
            known: known.iter().peekable(),
        }
    }
}

/// One id of a [`ById::join`].
#[derive(Debug, PartialEq, Eq)]
pub enum Joined<'a, T, S> {
    /// Listed, with what was known under its id, if anything.
    Listed(&'a T, Option<&'a S>),
    /// Known but not listed.
    Unlisted(&'a S),
}

/// The walk of [`ById::join`].
pub struct Join<'a, T, S> {
    listed: Peekable<std::slice::Iter<'a, T>>,
    known: Peekable<std::collections::btree_map::Iter<'a, String, S>>,
}

impl<'a, T: Keyed, S> Iterator for Join<'a, T, S> {
    type Item = Joined<'a, T, S>;

    fn next(&mut self) -> Option<Self::Item> {
        let order = match (self.listed.peek(), self.known.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(listed), Some((id, _))) => listed.key().cmp(id.as_str()),
        };
        Some(match order {
            Ordering::Less => Joined::Listed(self.listed.next()?, None),
            Ordering::Greater => Joined::Unlisted(self.known.next()?.1),
            Ordering::Equal => Joined::Listed(self.listed.next()?, Some(self.known.next()?.1)),
        })
    }
}

/// The accounts of one successful listing, keyed and ordered by account id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    accounts: ById<AccountSnapshot>,
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
        if let Some(account) = accounts.iter().find(|account| account.id.is_empty()) {
            return Err(ListingError::EmptyId {
                login_name: account.login_name.clone(),
            });
        }
        let accounts = ById::new(accounts).map_err(ListingError::DuplicateId)?;
        Ok(Listing { accounts })
    }

    /// The accounts in id order.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountSnapshot> {
        self.accounts.values()
    }

    /// See [`ById::join`].
    pub fn join<'a, S>(&'a self, known: &'a BTreeMap<String, S>) -> Join<'a, AccountSnapshot, S> {
        self.accounts.join(known)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Item(&'static str);

    impl Keyed for Item {
        fn key(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn a_join_gives_every_id_once_in_order_listed_beside_known() {
        let listed = ById::new(vec![Item("d"), Item("b"), Item("a")]).unwrap();
        let known: BTreeMap<String, u8> = [
            ("a".into(), 1),
            ("c".into(), 3),
            ("d".into(), 4),
            ("e".into(), 5),
        ]
        .into();
        let joined: Vec<_> = listed.join(&known).collect();
        assert_eq!(
            joined,
            [
                Joined::Listed(&Item("a"), Some(&1)),
                Joined::Listed(&Item("b"), None),
                Joined::Unlisted(&3),
                Joined::Listed(&Item("d"), Some(&4)),
                Joined::Unlisted(&5),
            ]
        );
    }

    #[test]
    fn an_id_listed_twice_is_refused_and_the_rest_are_in_id_order() {
        assert_eq!(
            ById::new(vec![Item("b"), Item("a"), Item("b")]),
            Err("b".to_owned())
        );
        let listed = ById::new(vec![Item("c"), Item("a")]).unwrap();
        assert_eq!(
            listed.values().collect::<Vec<_>>(),
            [&Item("a"), &Item("c")]
        );
        assert_eq!((listed.len(), listed.is_empty()), (2, false));
        assert!(ById::<Item>::new(Vec::new()).unwrap().is_empty());
    }

    #[test]
    fn a_listing_orders_its_accounts_by_id_and_refuses_empty_and_repeated_ids() {
        let account = |id: &str| AccountSnapshot {
            id: id.to_owned(),
            login_name: format!("{id}@acme.example"),
            display_name: String::new(),
            role: "member".to_owned(),
            status: "active".to_owned(),
            account_type: "member".to_owned(),
            created: None,
        };
        let listing = Listing::new(vec![account("u2"), account("u1")]).unwrap();
        assert_eq!(
            listing.accounts().collect::<Vec<_>>(),
            [&account("u1"), &account("u2")]
        );
        assert_eq!((listing.len(), listing.is_empty()), (2, false));
        assert!(Listing::new(Vec::new()).unwrap().is_empty());
        assert_eq!(
            Listing::new(vec![account("")]),
            Err(ListingError::EmptyId {
                login_name: "@acme.example".to_owned()
            })
        );
        assert_eq!(
            Listing::new(vec![account("u1"), account("u1")]),
            Err(ListingError::DuplicateId("u1".to_owned()))
        );
    }
}
