//! The accounts of one system, its credential, and its sync count, as the events describe them.

use std::collections::BTreeMap;

use crate::entry::Entry;
use crate::event::{AccountSnapshot, CredentialKind, Event};
use crate::time::Timestamp;

/// One account as last observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The latest attributes; role and status follow `RoleChanged` and `StatusChanged`.
    pub snapshot: AccountSnapshot,
    /// Whether the account was in the last successful listing.
    pub present: bool,
    /// When the ledger first recorded the account.
    pub first_seen: Timestamp,
    /// When the ledger recorded the account's latest removal, while it is absent.
    pub removed_at: Option<Timestamp>,
}

/// The credential a system integration was last seen using.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialState {
    pub id: String,
    pub kind: CredentialKind,
    pub expires_at: Option<Timestamp>,
}

/// What the ledger knows about one system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemState {
    /// Every account ever seen, by the system's own id, including removed ones.
    pub accounts: BTreeMap<String, AccountState>,
    pub credential: Option<CredentialState>,
    /// How many syncs have finished, successfully or not.
    pub syncs_finished: u64,
}

impl SystemState {
    /// The accounts in the last successful listing.
    pub fn present_accounts(&self) -> impl Iterator<Item = &AccountState> {
        self.accounts.values().filter(|account| account.present)
    }

    pub(super) fn apply(&mut self, entry: &Entry) {
        match &entry.event {
            Event::UserSeen { account, .. } => {
                let first_seen = self
                    .accounts
                    .get(&account.id)
                    .map_or(entry.recorded_at, |known| known.first_seen);
                self.accounts.insert(
                    account.id.clone(),
                    AccountState {
                        snapshot: account.clone(),
                        present: true,
                        first_seen,
                        removed_at: None,
                    },
                );
            }
            Event::UserRemoved { account_id, .. } => {
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.present = false;
                    account.removed_at = Some(entry.recorded_at);
                }
            }
            Event::RoleChanged { account_id, to, .. } => {
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.snapshot.role = to.clone();
                }
            }
            Event::StatusChanged { account_id, to, .. } => {
                if let Some(account) = self.accounts.get_mut(account_id) {
                    account.snapshot.status = to.clone();
                }
            }
            Event::CredentialObserved {
                credential_id,
                credential_kind,
                expires_at,
                ..
            } => {
                self.credential = Some(CredentialState {
                    id: credential_id.clone(),
                    kind: *credential_kind,
                    expires_at: *expires_at,
                });
            }
            Event::SyncCompleted { .. } | Event::SyncFailed { .. } => self.syncs_finished += 1,
            _ => {}
        }
    }
}
