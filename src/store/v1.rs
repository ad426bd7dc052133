//! Storage format 1, frozen: the entry and event types exactly as 0.1 stored them, and their
//! conversion into today's types.
//!
//! bincode is not self-describing: a record is read back only through types with the same
//! field order, field types and variant order as the ones that wrote it. So the layout 0.1
//! wrote is kept here, apart from `event`, and must never change. Only types whose stored form
//! is a primitive fixed by their own serde impls are shared with today's code: [`SystemId`]
//! and [`Actor`] (strings), [`Timestamp`] (an integer), [`Hash256`] (bytes) and `NaiveDate`
//! (text); the golden records under `tests/golden/` pin those too.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::entry::Entry;
use crate::event::{self, Actor, SystemId};
use crate::hash::Hash256;
use crate::time::Timestamp;

/// A stored entry of format 1. Field order is part of the format.
#[derive(Deserialize)]
pub(super) struct EntryV1 {
    seq: u64,
    recorded_at: Timestamp,
    actor: Actor,
    prev_hash: Hash256,
    hash: Hash256,
    event: Event,
}

#[derive(Deserialize)]
struct AccountSnapshot {
    id: String,
    login_name: String,
    display_name: String,
    role: String,
    status: String,
    account_type: String,
    created: Option<Timestamp>,
}

#[derive(Deserialize)]
struct EmployeeRecord {
    employee_id: String,
    email: String,
    name: Option<String>,
    org_role: String,
    start_date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct FieldChange<T> {
    from: T,
    to: T,
}

#[derive(Deserialize)]
enum Classification {
    Service,
    External,
    Test,
}

#[derive(Deserialize)]
enum SyncErrorClass {
    Auth,
    Permission,
    NotFound,
    RateLimited,
    Unavailable,
    Timeout,
    Malformed,
}

#[derive(Deserialize)]
enum CredentialKind {
    ApiToken,
    OauthClient,
}

/// The events of 0.1, in their order: the variant index is what bincode stores.
#[derive(Deserialize)]
enum Event {
    UserSeen {
        system: SystemId,
        account: AccountSnapshot,
    },
    UserRemoved {
        system: SystemId,
        account_id: String,
        login_name: String,
    },
    RoleChanged {
        system: SystemId,
        account_id: String,
        login_name: String,
        from: String,
        to: String,
    },
    StatusChanged {
        system: SystemId,
        account_id: String,
        login_name: String,
        from: String,
        to: String,
    },
    EmployeeOnboarded {
        employee: EmployeeRecord,
    },
    EmployeeUpdated {
        employee_id: String,
        name: Option<FieldChange<Option<String>>>,
        email: Option<FieldChange<String>>,
        org_role: Option<FieldChange<String>>,
    },
    EmployeeOffboarded {
        employee_id: String,
        effective_at: Timestamp,
        reason: Option<String>,
    },
    EmployeeReinstated {
        employee_id: String,
        reason: Option<String>,
    },
    AccountLinked {
        system: SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    },
    AccountUnlinked {
        system: SystemId,
        account_id: String,
        employee_id: String,
        reason: String,
    },
    AccountClassified {
        system: SystemId,
        account_id: String,
        classification: Classification,
        owner_employee_id: Option<String>,
        reason: String,
    },
    AccountDeclassified {
        system: SystemId,
        account_id: String,
        reason: String,
    },
    AccessPolicySet {
        system: SystemId,
        allowed_org_roles: Vec<String>,
        privileged_org_roles: Vec<String>,
        offboarding_grace_seconds: u64,
        reason: Option<String>,
    },
    SyncCompleted {
        system: SystemId,
        sync_id: String,
        started_at: Timestamp,
        finished_at: Timestamp,
        accounts_observed: u64,
        listing_sha256: Hash256,
        events_appended: u64,
    },
    SyncFailed {
        system: SystemId,
        sync_id: String,
        started_at: Timestamp,
        finished_at: Timestamp,
        error_class: SyncErrorClass,
        message: String,
    },
    SyncAnomaly {
        system: SystemId,
        sync_id: String,
        accounts_before: u64,
        removals_withheld: u64,
        withheld_account_ids: Vec<String>,
    },
    CredentialObserved {
        system: SystemId,
        credential_id: String,
        credential_kind: CredentialKind,
        expires_at: Option<Timestamp>,
    },
}

impl From<EntryV1> for Entry {
    fn from(stored: EntryV1) -> Entry {
        Entry {
            seq: stored.seq,
            recorded_at: stored.recorded_at,
            actor: stored.actor,
            prev_hash: stored.prev_hash,
            hash: stored.hash,
            event: stored.event.into(),
        }
    }
}

impl From<AccountSnapshot> for event::AccountSnapshot {
    fn from(old: AccountSnapshot) -> Self {
        event::AccountSnapshot {
            id: old.id,
            login_name: old.login_name,
            display_name: old.display_name,
            role: old.role,
            status: old.status,
            account_type: old.account_type,
            created: old.created,
        }
    }
}

impl From<EmployeeRecord> for event::EmployeeRecord {
    fn from(old: EmployeeRecord) -> Self {
        event::EmployeeRecord {
            employee_id: old.employee_id,
            email: old.email,
            name: old.name,
            org_role: old.org_role,
            start_date: old.start_date,
        }
    }
}

impl<T> From<FieldChange<T>> for event::FieldChange<T> {
    fn from(old: FieldChange<T>) -> Self {
        event::FieldChange {
            from: old.from,
            to: old.to,
        }
    }
}

impl From<Classification> for event::Classification {
    fn from(old: Classification) -> Self {
        match old {
            Classification::Service => event::Classification::Service,
            Classification::External => event::Classification::External,
            Classification::Test => event::Classification::Test,
        }
    }
}

impl From<SyncErrorClass> for event::SyncErrorClass {
    fn from(old: SyncErrorClass) -> Self {
        match old {
            SyncErrorClass::Auth => event::SyncErrorClass::Auth,
            SyncErrorClass::Permission => event::SyncErrorClass::Permission,
            SyncErrorClass::NotFound => event::SyncErrorClass::NotFound,
            SyncErrorClass::RateLimited => event::SyncErrorClass::RateLimited,
            SyncErrorClass::Unavailable => event::SyncErrorClass::Unavailable,
            SyncErrorClass::Timeout => event::SyncErrorClass::Timeout,
            SyncErrorClass::Malformed => event::SyncErrorClass::Malformed,
        }
    }
}

impl From<CredentialKind> for event::CredentialKind {
    fn from(old: CredentialKind) -> Self {
        match old {
            CredentialKind::ApiToken => event::CredentialKind::ApiToken,
            CredentialKind::OauthClient => event::CredentialKind::OauthClient,
        }
    }
}

impl From<Event> for event::Event {
    /// Every 0.1 event is an event of today: fields added since are absent.
    fn from(old: Event) -> Self {
        use event::Event as Now;
        match old {
            Event::UserSeen { system, account } => Now::UserSeen {
                system,
                account: account.into(),
            },
            Event::UserRemoved {
                system,
                account_id,
                login_name,
            } => Now::UserRemoved {
                system,
                account_id,
                login_name,
                observed_at: None,
            },
            Event::RoleChanged {
                system,
                account_id,
                login_name,
                from,
                to,
            } => Now::RoleChanged {
                system,
                account_id,
                login_name,
                from,
                to,
            },
            Event::StatusChanged {
                system,
                account_id,
                login_name,
                from,
                to,
            } => Now::StatusChanged {
                system,
                account_id,
                login_name,
                from,
                to,
            },
            Event::EmployeeOnboarded { employee } => Now::EmployeeOnboarded {
                employee: employee.into(),
            },
            Event::EmployeeUpdated {
                employee_id,
                name,
                email,
                org_role,
            } => Now::EmployeeUpdated {
                employee_id,
                name: name.map(Into::into),
                email: email.map(Into::into),
                org_role: org_role.map(Into::into),
            },
            Event::EmployeeOffboarded {
                employee_id,
                effective_at,
                reason,
            } => Now::EmployeeOffboarded {
                employee_id,
                effective_at,
                reason,
            },
            Event::EmployeeReinstated {
                employee_id,
                reason,
            } => Now::EmployeeReinstated {
                employee_id,
                reason,
            },
            Event::AccountLinked {
                system,
                account_id,
                employee_id,
                reason,
            } => Now::AccountLinked {
                system,
                account_id,
                employee_id,
                reason,
            },
            Event::AccountUnlinked {
                system,
                account_id,
                employee_id,
                reason,
            } => Now::AccountUnlinked {
                system,
                account_id,
                employee_id,
                reason,
            },
            Event::AccountClassified {
                system,
                account_id,
                classification,
                owner_employee_id,
                reason,
            } => Now::AccountClassified {
                system,
                account_id,
                classification: classification.into(),
                owner_employee_id,
                reason,
            },
            Event::AccountDeclassified {
                system,
                account_id,
                reason,
            } => Now::AccountDeclassified {
                system,
                account_id,
                reason,
            },
            Event::AccessPolicySet {
                system,
                allowed_org_roles,
                privileged_org_roles,
                offboarding_grace_seconds,
                reason,
            } => Now::AccessPolicySet {
                system,
                allowed_org_roles,
                privileged_org_roles,
                offboarding_grace_seconds,
                reason,
            },
            Event::SyncCompleted {
                system,
                sync_id,
                started_at,
                finished_at,
                accounts_observed,
                listing_sha256,
                events_appended,
            } => Now::SyncCompleted {
                system,
                sync_id,
                started_at,
                finished_at,
                accounts_observed,
                listing_sha256,
                events_appended,
            },
            Event::SyncFailed {
                system,
                sync_id,
                started_at,
                finished_at,
                error_class,
                message,
            } => Now::SyncFailed {
                system,
                sync_id,
                started_at,
                finished_at,
                error_class: error_class.into(),
                message,
            },
            Event::SyncAnomaly {
                system,
                sync_id,
                accounts_before,
                removals_withheld,
                withheld_account_ids,
            } => Now::SyncAnomaly {
                system,
                sync_id,
                accounts_before,
                removals_withheld,
                withheld_account_ids,
            },
            Event::CredentialObserved {
                system,
                credential_id,
                credential_kind,
                expires_at,
            } => Now::CredentialObserved {
                system,
                credential_id,
                credential_kind: credential_kind.into(),
                expires_at,
                invalid: None,
            },
        }
    }
}
