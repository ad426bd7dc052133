//! Random event histories for property tests: a few accounts, employees and syncs whose ids and
//! emails overlap, so renames, links, offboardings, grace periods, credentials, stale syncs, recorded
//! settings, exceptions, a leaver's devices and keys, and access reviews with short intervals and
//! action graces interact,
//! over about a thousand minutes from the Unix epoch.

use proptest::prelude::*;
use tailledger::event::{
    Classification, CredentialKind, DeviceSnapshot, EmployeeRecord, Event, FieldChange,
    KeySnapshot, ReviewDecision, ReviewScope, ReviewedAccount, SettingsRecord, SyncErrorClass,
    SystemId,
};
use tailledger::hash::Hash256;
use tailledger::time::Timestamp;

use crate::helpers::snapshot;

fn id() -> impl Strategy<Value = String> {
    "[abc]".prop_map(|letter| letter.to_owned())
}

/// The login name an account or a device is listed with: mostly its own id's, sometimes another
/// one or the same in capitals (a rename, a device registered anew by someone else, a change of
/// case), so the lookups by login name see every way an attribute moves.
fn login_of(id: &str) -> impl Strategy<Value = String> + use<> {
    prop_oneof![3 => Just(id.to_owned()), 1 => "[abcAB]"]
        .prop_map(|name| format!("{name}@acme.example"))
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (0i64..1_000)
        .prop_map(|minute| Timestamp::UNIX_EPOCH.saturating_add_micros(minute * 60_000_000))
}

fn event() -> impl Strategy<Value = Event> {
    let system = || SystemId::tailscale();
    prop_oneof![
        (
            id().prop_flat_map(|id| (login_of(&id), Just(id))),
            "(member|admin|owner)",
            "(active|idle|suspended|weird)"
        )
            .prop_map(move |((login, id), role, status)| {
                Event::UserSeen {
                    system: system(),
                    account: snapshot(&id, &login, &role, &status),
                }
            }),
        (id(), proptest::option::of(instant())).prop_map(move |(id, observed_at)| {
            Event::UserRemoved {
                system: system(),
                login_name: format!("{id}@acme.example"),
                account_id: id,
                observed_at,
            }
        }),
        (proptest::collection::vec(id(), 0..3), "[st]").prop_map(move |(ids, sync_id)| {
            Event::SyncAnomaly {
                system: system(),
                sync_id,
                accounts_before: 3,
                removals_withheld: ids.len() as u64,
                withheld_account_ids: ids,
            }
        }),
        (id(), "(member|admin)").prop_map(move |(id, to)| Event::RoleChanged {
            system: system(),
            login_name: format!("{id}@acme.example"),
            account_id: id,
            from: "x".to_owned(),
            to,
        }),
        (id(), "(active|suspended|needs-approval)").prop_map(move |(id, to)| {
            Event::StatusChanged {
                system: system(),
                login_name: format!("{id}@acme.example"),
                account_id: id,
                from: "x".to_owned(),
                to,
            }
        }),
        (id(), "(IT|Engineer)").prop_map(|(id, org_role)| Event::EmployeeOnboarded {
            employee: EmployeeRecord {
                employee_id: id.clone(),
                email: format!("{id}@acme.example"),
                name: None,
                org_role,
                start_date: None
            },
        }),
        (id(), id()).prop_map(|(id, other)| Event::EmployeeUpdated {
            employee_id: id.clone(),
            name: None,
            email: Some(FieldChange {
                from: format!("{id}@acme.example"),
                to: format!("{other}@acme.example")
            }),
            org_role: Some(FieldChange {
                from: "IT".to_owned(),
                to: "Sales".to_owned()
            }),
        }),
        (id(), instant()).prop_map(|(employee_id, effective_at)| Event::EmployeeOffboarded {
            employee_id,
            effective_at,
            reason: None
        }),
        id().prop_map(|employee_id| Event::EmployeeReinstated {
            employee_id,
            reason: None
        }),
        (id(), id()).prop_map(move |(account_id, employee_id)| Event::AccountLinked {
            system: system(),
            account_id,
            employee_id,
            reason: "r".to_owned()
        }),
        (id(), id()).prop_map(move |(account_id, employee_id)| Event::AccountUnlinked {
            system: system(),
            account_id,
            employee_id,
            reason: "r".to_owned()
        }),
        id().prop_map(move |account_id| Event::AccountClassified {
            system: system(),
            account_id,
            classification: Classification::Service,
            owner_employee_id: None,
            reason: "r".to_owned(),
        }),
        id().prop_map(move |account_id| Event::AccountDeclassified {
            system: system(),
            account_id,
            reason: "r".to_owned()
        }),
        (0u64..3).prop_map(|problems| Event::RosterRejected {
            sha256: Hash256::of(&problems.to_le_bytes()),
            problem_count: problems,
            problems: Vec::new(),
        }),
        Just(Event::RosterAccepted {
            sha256: Hash256::of(b"roster"),
        }),
        instant().prop_map(move |at| Event::WebhookReceived {
            system: system(),
            body_sha256: Hash256::of(b"[]"),
            body_bytes: 2,
            signed_at: at,
            event_count: 0,
            events: Vec::new(),
            body: Some("[]".to_owned()),
            starts_sync: false,
        }),
        (any::<bool>(), 10u64..100).prop_map(move |(suspended_is_removed, interval)| {
            Event::SettingsChanged {
                system: system(),
                settings: SettingsRecord {
                    email_aliases: Vec::new(),
                    include_shared_users: true,
                    max_removal_fraction_millionths: 500_000,
                    removal_guard_hold_seconds: 0,
                    suspended_is_removed,
                    sync_interval_seconds: interval,
                    timezone: "UTC".to_owned(),
                },
                changed: vec!["tailscale.sync_interval".to_owned()],
            }
        }),
        (0u64..3, proptest::option::of(instant())).prop_map(move |(number, expires_at)| {
            Event::ExceptionGranted {
                exception_id: format!("EX-{number}"),
                system: system(),
                check_id: "user-identified".to_owned(),
                account_id: Some("a".to_owned()),
                employee_id: None,
                reason: "r".to_owned(),
                evidence_ref: None,
                expires_at,
            }
        }),
        (0u64..3).prop_map(move |number| Event::ExceptionRevoked {
            exception_id: format!("EX-{number}"),
            system: system(),
            reason: "r".to_owned(),
        }),
        (
            id().prop_flat_map(|id| (login_of(&id), Just(id))),
            any::<bool>()
        )
            .prop_map(move |((user, id), tagged)| Event::DeviceSeen {
                system: system(),
                device: DeviceSnapshot {
                    id: format!("n{id}"),
                    name: format!("{id}-laptop"),
                    user,
                    tags: if tagged {
                        vec!["tag:ci".to_owned()]
                    } else {
                        Vec::new()
                    },
                    authorized: true,
                    key_expiry_disabled: false,
                    expires: None,
                    os: "linux".to_owned(),
                    created: None,
                },
            }),
        id().prop_map(move |id| Event::DeviceRemoved {
            system: system(),
            device_id: format!("n{id}"),
            name: format!("{id}-laptop"),
        }),
        (
            id().prop_flat_map(|letter| (
                prop_oneof![3 => Just(letter.clone()), 1 => id()],
                Just(letter)
            )),
            proptest::option::of(instant())
        )
            .prop_map(move |((user_id, id), expires)| Event::KeySeen {
                system: system(),
                key: KeySnapshot {
                    id: format!("k{id}"),
                    key_type: "auth".to_owned(),
                    description: "ci".to_owned(),
                    user_id,
                    created: None,
                    expires,
                    revoked: None,
                    invalid: false,
                    reusable: true,
                    tags: Vec::new(),
                },
            }),
        (0u64..3, any::<bool>(), 0u64..3_600, 60u64..30_000).prop_map(
            move |(number, privileged, action_grace_seconds, interval_seconds)| {
                let population: Vec<ReviewedAccount> = ["a", "b", "c"]
                    .into_iter()
                    .map(|id| ReviewedAccount {
                        account_id: id.to_owned(),
                        login_name: format!("{id}@acme.example"),
                        role: "admin".to_owned(),
                        employee_id: None,
                        link: None,
                        org_role: None,
                        findings: Vec::new(),
                    })
                    .collect();
                Event::AccessReviewStarted {
                    review_id: format!("AR-{number}"),
                    system: system(),
                    pinned_seq: 0,
                    scope: if privileged {
                        ReviewScope::Privileged
                    } else {
                        ReviewScope::All
                    },
                    population_sha256: Hash256::ZERO,
                    population_count: 3,
                    part: 1,
                    parts: 1,
                    population,
                    due_at: Timestamp::UNIX_EPOCH,
                    reviewers: vec!["E".to_owned()],
                    action_grace_seconds,
                    interval_seconds,
                }
            },
        ),
        (0u64..3, id(), 0usize..3, "(member|admin)").prop_map(
            move |(number, id, decision, role)| {
                let decision = [
                    ReviewDecision::Keep,
                    ReviewDecision::Modify,
                    ReviewDecision::Revoke,
                ][decision];
                Event::AccessReviewDecided {
                    review_id: format!("AR-{number}"),
                    system: system(),
                    account_id: id,
                    decision,
                    reason: "r".to_owned(),
                    new_role: (decision == ReviewDecision::Modify).then_some(role),
                    reviewer_employee_id: "E".to_owned(),
                }
            },
        ),
        (0u64..3).prop_map(move |number| Event::AccessReviewCompleted {
            review_id: format!("AR-{number}"),
            system: system(),
            decided: 0,
        }),
        (0u64..3, "[EF]").prop_map(move |(number, to)| {
            Event::AccessReviewReviewerReassigned {
                review_id: format!("AR-{number}"),
                system: system(),
                from_employee_id: "E".to_owned(),
                to_employee_id: to,
                reason: "r".to_owned(),
            }
        }),
        (0u64..3).prop_map(move |number| Event::AccessReviewCancelled {
            review_id: format!("AR-{number}"),
            system: system(),
            reason: "r".to_owned(),
        }),
        (0u64..100_000).prop_map(move |grace| Event::AccessPolicySet {
            system: system(),
            allowed_org_roles: vec!["IT".to_owned()],
            privileged_org_roles: vec![],
            offboarding_grace_seconds: grace,
            reason: None,
        }),
        instant().prop_map(move |at| Event::SyncCompleted {
            system: system(),
            sync_id: "s".to_owned(),
            started_at: at,
            finished_at: at,
            accounts_observed: 0,
            listing_sha256: Hash256::ZERO,
            events_appended: 0,
        }),
        instant().prop_map(move |at| Event::SyncFailed {
            system: system(),
            sync_id: "s".to_owned(),
            started_at: at,
            finished_at: at,
            error_class: SyncErrorClass::Timeout,
            message: "m".to_owned(),
        }),
        proptest::option::of(instant()).prop_map(move |expires_at| Event::CredentialObserved {
            system: system(),
            credential_id: "k".to_owned(),
            credential_kind: CredentialKind::ApiToken,
            expires_at,
            invalid: None,
        }),
        proptest::option::of(instant()).prop_map(move |expires_at| Event::CredentialObserved {
            system: system(),
            credential_id: "k".to_owned(),
            credential_kind: CredentialKind::OauthClient,
            expires_at,
            invalid: Some(true),
        }),
    ]
}

/// Batches of events, each with the minutes that pass before it (0 means the same instant).
pub fn history() -> impl Strategy<Value = Vec<(i64, Vec<Event>)>> {
    prop::collection::vec((0i64..3, prop::collection::vec(event(), 1..5)), 1..40)
}
