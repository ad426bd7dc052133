//! The direct canonical writer against its oracle: for arbitrary entries of every event type,
//! with strings drawn from all of Unicode and weighted towards what JSON escapes or could get
//! wrong (controls, quotes, backslashes, U+007F, U+2028/2029, astral-plane characters,
//! combining marks, the highest code points), the bytes written directly must be exactly those
//! `serde_json_canonicalizer` gives for the `serde_json::Value` the entry serialised to before
//! (the envelope through serde, the event through `event_object`). Likewise the export line, the
//! hash, and the listing hash.

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tailledger::entry::{Entry, event_object};
use tailledger::event::{
    AccountSnapshot, Actor, ChangeActor, ChangeTarget, Classification, CredentialKind,
    DeliveredEvent, DeviceSnapshot, EmailAlias, EmployeeRecord, Event, FieldChange, KeySnapshot,
    ReviewDecision, ReviewScope, ReviewedAccount, RosterProblem, SettingsRecord, SyncErrorClass,
    SystemId,
};
use tailledger::hash::{Digest, Hash256};
use tailledger::sync::Listing;
use tailledger::time::Timestamp;
use tailledger::verify::read_export_line;

use crate::helpers::golden_chain;

/// The canonical bytes the code produced before the direct writer: a `Value` canonicalised.
fn oracle(entry: &Entry, with_hash: bool) -> Vec<u8> {
    let mut object = Map::new();
    object.insert("v".to_owned(), json!(1));
    object.insert("seq".to_owned(), json!(entry.seq));
    object.insert("recorded_at".to_owned(), json!(entry.recorded_at));
    object.insert("actor".to_owned(), json!(entry.actor));
    object.insert("prev_hash".to_owned(), json!(entry.prev_hash));
    object.insert("event".to_owned(), event_object(&entry.event));
    if with_hash {
        object.insert("hash".to_owned(), json!(entry.hash));
    }
    serde_json_canonicalizer::to_vec(&Value::Object(object)).unwrap()
}

fn assert_matches_oracle(entry: &Entry) -> Result<(), TestCaseError> {
    let expected = oracle(entry, false);
    prop_assert_eq!(
        String::from_utf8(entry.canonical_form()).unwrap(),
        String::from_utf8(expected.clone()).unwrap()
    );
    prop_assert_eq!(entry.computed_hash(), Hash256::of(&expected));
    prop_assert_eq!(
        entry.export_line(),
        String::from_utf8(oracle(entry, true)).unwrap()
    );
    // The canonical text reads back as an entry with the same canonical form, wherever the
    // actor's text form parses (an empty token or system name does not). Not always as the same
    // entry: integers above 2^53 are written as the nearest double, like JCS says.
    if entry.actor.to_string().parse::<Actor>().ok().as_ref() == Some(&entry.actor) {
        let text = String::from_utf8(expected).unwrap();
        let read = Entry::from_canonical_json(&text, entry.hash).unwrap();
        prop_assert_eq!(read.canonical_form(), text.clone().into_bytes());
        // An export line read back takes the direct writer's path, to the same canonical form
        // the general canonicaliser gives.
        let (link, read) = read_export_line(&entry.export_line()).unwrap();
        prop_assert_eq!(link.canonical_form, text.into_bytes());
        prop_assert_eq!(
            read.map(|read| read.export_line()),
            Some(entry.export_line())
        );
    }
    Ok(())
}

/// Characters a JSON writer could get wrong, beside any character at all.
fn text() -> BoxedStrategy<String> {
    let awkward = prop::sample::select(vec![
        '"',
        '\\',
        '/',
        '\u{0}',
        '\u{1}',
        '\u{8}',
        '\t',
        '\n',
        '\u{b}',
        '\u{c}',
        '\r',
        '\u{1f}',
        ' ',
        '\u{7f}',
        '\u{80}',
        '\u{a0}',
        '\u{301}',
        '\u{2028}',
        '\u{2029}',
        '\u{fe0f}',
        '\u{feff}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{1d11e}',
        '\u{1f600}',
        '\u{10ffff}',
        'é',
        'a',
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(awkward, 0..12).prop_map(|chars| chars.into_iter().collect()),
    ]
    .boxed()
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.as_micros()..=Timestamp::MAX.as_micros())
        .prop_map(|micros| Timestamp::from_micros(micros).unwrap())
}

fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

/// Numbers up to 2^53 (exact) and beyond (written as the nearest double).
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1000, any::<u64>()]
}

fn system() -> impl Strategy<Value = SystemId> {
    text().prop_map(SystemId)
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        system().prop_map(Actor::Sync),
        Just(Actor::Roster),
        Just(Actor::Config),
        text().prop_map(Actor::Api),
        system().prop_map(Actor::Webhook),
        Just(Actor::Demo),
        text().prop_map(Actor::RosterSource),
        Just(Actor::Alerts),
        Just(Actor::Witnesses),
    ]
}

fn snapshot() -> BoxedStrategy<AccountSnapshot> {
    (
        text(),
        text(),
        text(),
        text(),
        text(),
        text(),
        prop::option::of(timestamp()),
    )
        .prop_map(
            |(id, login_name, display_name, role, status, account_type, created)| AccountSnapshot {
                id,
                login_name,
                display_name,
                role,
                status,
                account_type,
                created,
            },
        )
        .boxed()
}

fn date() -> impl Strategy<Value = NaiveDate> {
    // Days of the common era from far before year 1 to past 9999, where chrono adds a sign.
    (-1_000_000i32..4_000_000).prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..4)
}

/// Every event type, in the order of `Event`; the groups keep `prop_oneof!` small.
fn event() -> BoxedStrategy<Event> {
    let people: BoxedStrategy<Event> = prop_oneof![
        (system(), snapshot()).prop_map(|(system, account)| Event::UserSeen { system, account }),
        (system(), text(), text(), prop::option::of(timestamp())).prop_map(
            |(system, account_id, login_name, observed_at)| Event::UserRemoved {
                system,
                account_id,
                login_name,
                observed_at,
            }
        ),
        (system(), text(), text(), text(), text(), any::<bool>()).prop_map(
            |(system, account_id, login_name, from, to, role)| if role {
                Event::RoleChanged {
                    system,
                    account_id,
                    login_name,
                    from,
                    to,
                }
            } else {
                Event::StatusChanged {
                    system,
                    account_id,
                    login_name,
                    from,
                    to,
                }
            }
        ),
        (
            text(),
            text(),
            prop::option::of(text()),
            text(),
            prop::option::of(date())
        )
            .prop_map(|(employee_id, email, name, org_role, start_date)| {
                Event::EmployeeOnboarded {
                    employee: EmployeeRecord {
                        employee_id,
                        email,
                        name,
                        org_role,
                        start_date,
                    },
                }
            }),
        (
            text(),
            prop::option::of((prop::option::of(text()), prop::option::of(text()))),
            prop::option::of((text(), text())),
            prop::option::of((text(), text())),
        )
            .prop_map(
                |(employee_id, name, email, org_role)| Event::EmployeeUpdated {
                    employee_id,
                    name: name.map(|(from, to)| FieldChange { from, to }),
                    email: email.map(|(from, to)| FieldChange { from, to }),
                    org_role: org_role.map(|(from, to)| FieldChange { from, to }),
                }
            ),
        (text(), timestamp(), prop::option::of(text())).prop_map(
            |(employee_id, effective_at, reason)| Event::EmployeeOffboarded {
                employee_id,
                effective_at,
                reason,
            }
        ),
        (text(), prop::option::of(text())).prop_map(|(employee_id, reason)| {
            Event::EmployeeReinstated {
                employee_id,
                reason,
            }
        }),
    ]
    .boxed();
    let admin_and_syncs: BoxedStrategy<Event> = prop_oneof![
        (system(), text(), text(), text(), any::<bool>()).prop_map(
            |(system, account_id, employee_id, reason, linked)| if linked {
                Event::AccountLinked {
                    system,
                    account_id,
                    employee_id,
                    reason,
                }
            } else {
                Event::AccountUnlinked {
                    system,
                    account_id,
                    employee_id,
                    reason,
                }
            }
        ),
        (
            system(),
            text(),
            prop::sample::select(vec![
                Classification::Service,
                Classification::External,
                Classification::Test
            ]),
            prop::option::of(text()),
            text()
        )
            .prop_map(
                |(system, account_id, classification, owner_employee_id, reason)| {
                    Event::AccountClassified {
                        system,
                        account_id,
                        classification,
                        owner_employee_id,
                        reason,
                    }
                }
            ),
        (system(), text(), text()).prop_map(|(system, account_id, reason)| {
            Event::AccountDeclassified {
                system,
                account_id,
                reason,
            }
        }),
        (
            system(),
            strings(),
            strings(),
            number(),
            prop::option::of(text())
        )
            .prop_map(|(system, allowed, privileged, grace, reason)| {
                Event::AccessPolicySet {
                    system,
                    allowed_org_roles: allowed,
                    privileged_org_roles: privileged,
                    offboarding_grace_seconds: grace,
                    reason,
                }
            }),
        (
            system(),
            text(),
            timestamp(),
            timestamp(),
            number(),
            hash(),
            number()
        )
            .prop_map(
                |(system, sync_id, started_at, finished_at, observed, listing, appended)| {
                    Event::SyncCompleted {
                        system,
                        sync_id,
                        started_at,
                        finished_at,
                        accounts_observed: observed,
                        listing_sha256: listing,
                        events_appended: appended,
                    }
                }
            ),
        (
            system(),
            text(),
            timestamp(),
            timestamp(),
            prop::sample::select(vec![
                SyncErrorClass::Auth,
                SyncErrorClass::Permission,
                SyncErrorClass::NotFound,
                SyncErrorClass::RateLimited,
                SyncErrorClass::Unavailable,
                SyncErrorClass::Timeout,
                SyncErrorClass::Malformed
            ]),
            text()
        )
            .prop_map(
                |(system, sync_id, started_at, finished_at, error_class, message)| {
                    Event::SyncFailed {
                        system,
                        sync_id,
                        started_at,
                        finished_at,
                        error_class,
                        message,
                    }
                }
            ),
        (system(), text(), number(), number(), strings()).prop_map(
            |(system, sync_id, before, withheld, ids)| Event::SyncAnomaly {
                system,
                sync_id,
                accounts_before: before,
                removals_withheld: withheld,
                withheld_account_ids: ids,
            }
        ),
        (
            system(),
            text(),
            prop::sample::select(vec![CredentialKind::ApiToken, CredentialKind::OauthClient]),
            prop::option::of(timestamp()),
            prop::option::of(any::<bool>())
        )
            .prop_map(
                |(system, credential_id, credential_kind, expires_at, invalid)| {
                    Event::CredentialObserved {
                        system,
                        credential_id,
                        credential_kind,
                        expires_at,
                        invalid,
                    }
                }
            ),
    ]
    .boxed();
    let problem =
        (number(), prop::option::of(text()), text()).prop_map(|(line, column, reason)| {
            RosterProblem {
                line,
                column,
                reason,
            }
        });
    let releases_and_rosters: BoxedStrategy<Event> = prop_oneof![
        (system(), text(), strings(), text()).prop_map(|(system, sync_id, account_ids, reason)| {
            Event::RemovalsConfirmed {
                system,
                sync_id,
                account_ids,
                reason,
            }
        }),
        (hash(), number(), prop::collection::vec(problem, 0..4)).prop_map(
            |(sha256, problem_count, problems)| Event::RosterRejected {
                sha256,
                problem_count,
                problems,
            }
        ),
        hash().prop_map(|sha256| Event::RosterAccepted { sha256 }),
    ]
    .boxed();
    let delivered = (text(), prop::option::of(timestamp())).prop_map(|(event_type, timestamp)| {
        DeliveredEvent {
            event_type,
            timestamp,
        }
    });
    let webhooks: BoxedStrategy<Event> = (
        (system(), hash(), number(), timestamp(), number()),
        (
            prop::collection::vec(delivered, 0..4),
            prop::option::of(text()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (system, body_sha256, body_bytes, signed_at, event_count),
                (events, body, starts_sync),
            )| Event::WebhookReceived {
                system,
                body_sha256,
                body_bytes,
                signed_at,
                event_count,
                events,
                body,
                starts_sync,
            },
        )
        .boxed();
    let alias = (text(), text()).prop_map(|(from, to)| EmailAlias { from, to });
    let settings = (
        (prop::collection::vec(alias, 0..3), any::<bool>(), number()),
        (number(), any::<bool>(), number(), text()),
    )
        .prop_map(
            |(
                (email_aliases, include_shared_users, max_removal_fraction_millionths),
                (removal_guard_hold_seconds, suspended_is_removed, sync_interval_seconds, timezone),
            )| SettingsRecord {
                email_aliases,
                include_shared_users,
                max_removal_fraction_millionths,
                removal_guard_hold_seconds,
                suspended_is_removed,
                sync_interval_seconds,
                timezone,
            },
        );
    let audit_window: BoxedStrategy<Event> = prop_oneof![
        (system(), settings, strings()).prop_map(|(system, settings, changed)| {
            Event::SettingsChanged {
                system,
                settings,
                changed,
            }
        }),
        (
            (text(), system(), text(), prop::option::of(text())),
            (
                prop::option::of(text()),
                text(),
                prop::option::of(text()),
                prop::option::of(timestamp()),
            ),
        )
            .prop_map(
                |(
                    (exception_id, system, check_id, account_id),
                    (employee_id, reason, evidence_ref, expires_at),
                )| Event::ExceptionGranted {
                    exception_id,
                    system,
                    check_id,
                    account_id,
                    employee_id,
                    reason,
                    evidence_ref,
                    expires_at,
                },
            ),
        (text(), system(), text()).prop_map(|(exception_id, system, reason)| {
            Event::ExceptionRevoked {
                exception_id,
                system,
                reason,
            }
        }),
    ]
    .boxed();
    prop_oneof![
        people,
        admin_and_syncs,
        releases_and_rosters,
        webhooks,
        audit_window,
        leftovers(),
        reviews(),
        alerts(),
        witnesses()
    ]
    .boxed()
}

/// The witness events (docs/reference/events.md#witness-refused).
fn witnesses() -> BoxedStrategy<Event> {
    (text(), any::<u64>(), any::<u64>(), hash(), text())
        .prop_map(
            |(witness, old_size, size, root, answer)| Event::WitnessRefused {
                witness,
                old_size,
                size,
                root,
                answer,
            },
        )
        .boxed()
}

/// The alert events (docs/reference/events.md#alert-events).
fn alerts() -> BoxedStrategy<Event> {
    (
        (system(), text(), text(), text()),
        (text(), text(), text(), text()),
        (timestamp(), timestamp(), prop::option::of(text())),
    )
        .prop_map(
            |(
                (system, route, destination, notification_id),
                (check_id, reason, subject, state),
                (changed_at, delivered_at, digest_id),
            )| Event::AlertDelivered {
                system,
                route,
                destination,
                notification_id,
                check_id,
                reason,
                subject,
                state,
                changed_at,
                delivered_at,
                digest_id,
            },
        )
        .boxed()
}

/// The access review events (docs/reference/events.md#review-events).
fn reviews() -> BoxedStrategy<Event> {
    let account = (
        (text(), text(), text()),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        texts(),
    )
        .prop_map(
            |((account_id, login_name, role), (employee_id, link, org_role), findings)| {
                ReviewedAccount {
                    account_id,
                    login_name,
                    role,
                    employee_id,
                    link,
                    org_role,
                    findings,
                }
            },
        );
    let scope = prop::sample::select(vec![ReviewScope::All, ReviewScope::Privileged]);
    let decision = prop::sample::select(vec![
        ReviewDecision::Keep,
        ReviewDecision::Modify,
        ReviewDecision::Revoke,
    ]);
    prop_oneof![
        (
            (text(), system(), number(), scope, hash(), number()),
            (number(), number(), prop::collection::vec(account, 0..3)),
            (timestamp(), texts(), number(), number()),
        )
            .prop_map(
                |(
                    (review_id, system, pinned_seq, scope, population_sha256, population_count),
                    (part, parts, population),
                    (due_at, reviewers, action_grace_seconds, interval_seconds),
                )| Event::AccessReviewStarted {
                    review_id,
                    system,
                    pinned_seq,
                    scope,
                    population_sha256,
                    population_count,
                    part,
                    parts,
                    population,
                    due_at,
                    reviewers,
                    action_grace_seconds,
                    interval_seconds,
                }
            ),
        (
            (text(), system(), text(), decision),
            (text(), prop::option::of(text()), text()),
        )
            .prop_map(
                |(
                    (review_id, system, account_id, decision),
                    (reason, new_role, reviewer_employee_id),
                )| Event::AccessReviewDecided {
                    review_id,
                    system,
                    account_id,
                    decision,
                    reason,
                    new_role,
                    reviewer_employee_id,
                }
            ),
        (text(), system(), number()).prop_map(|(review_id, system, decided)| {
            Event::AccessReviewCompleted {
                review_id,
                system,
                decided,
            }
        }),
        ((text(), system()), (text(), text(), text())).prop_map(
            |((review_id, system), (from_employee_id, to_employee_id, reason))| {
                Event::AccessReviewReviewerReassigned {
                    review_id,
                    system,
                    from_employee_id,
                    to_employee_id,
                    reason,
                }
            }
        ),
        (text(), system(), text()).prop_map(|(review_id, system, reason)| {
            Event::AccessReviewCancelled {
                review_id,
                system,
                reason,
            }
        }),
    ]
    .boxed()
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..3)
}

fn device() -> impl Strategy<Value = DeviceSnapshot> {
    (
        (text(), text(), text(), texts()),
        (any::<bool>(), any::<bool>(), prop::option::of(timestamp())),
        (text(), prop::option::of(timestamp())),
    )
        .prop_map(
            |(
                (id, name, user, tags),
                (authorized, key_expiry_disabled, expires),
                (os, created),
            )| DeviceSnapshot {
                id,
                name,
                user,
                tags,
                authorized,
                key_expiry_disabled,
                expires,
                os,
                created,
            },
        )
}

fn key() -> impl Strategy<Value = KeySnapshot> {
    (
        (text(), text(), text(), text()),
        (
            prop::option::of(timestamp()),
            prop::option::of(timestamp()),
            prop::option::of(timestamp()),
        ),
        (any::<bool>(), any::<bool>(), texts()),
    )
        .prop_map(
            |(
                (id, key_type, description, user_id),
                (created, expires, revoked),
                (invalid, reusable, tags),
            )| KeySnapshot {
                id,
                key_type,
                description,
                user_id,
                created,
                expires,
                revoked,
                invalid,
                reusable,
                tags,
            },
        )
}

/// The device and key events (docs/reference/events.md#leftover-events).
fn leftovers() -> BoxedStrategy<Event> {
    prop_oneof![
        (system(), device()).prop_map(|(system, device)| Event::DeviceSeen { system, device }),
        (system(), device()).prop_map(|(system, device)| Event::DeviceChanged { system, device }),
        (system(), text(), text()).prop_map(|(system, device_id, name)| Event::DeviceRemoved {
            system,
            device_id,
            name
        }),
        (system(), key()).prop_map(|(system, key)| Event::KeySeen { system, key }),
        (system(), key()).prop_map(|(system, key)| Event::KeyChanged { system, key }),
        (system(), text(), text()).prop_map(|(system, key_id, description)| {
            Event::KeyRemoved {
                system,
                key_id,
                description,
            }
        }),
        change_attributed(),
    ]
    .boxed()
}

fn change_attributed() -> impl Strategy<Value = Event> {
    let actor = (text(), text(), text()).prop_map(|(id, actor_type, login_name)| ChangeActor {
        id,
        actor_type,
        login_name,
    });
    let target = (text(), text(), text(), prop::option::of(text())).prop_map(
        |(id, name, target_type, property)| ChangeTarget {
            id,
            name,
            target_type,
            property,
        },
    );
    (
        (system(), timestamp(), text(), text()),
        (prop::option::of(actor), text(), target),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
    )
        .prop_map(
            |(
                (system, event_time, event_group_id, origin),
                (actor, action, target),
                (old, new, error),
            )| Event::ChangeAttributed {
                system,
                event_time,
                event_group_id,
                origin,
                actor,
                action,
                target,
                old,
                new,
                error,
            },
        )
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        prop::option::of((number(), hash())),
        timestamp(),
        actor(),
        event(),
    )
        .prop_map(|(prev, recorded_at, actor, event)| {
            let prev = prev.map(|(seq, hash)| Digest {
                seq: seq.min(u64::MAX - 1),
                hash,
            });
            Entry::seal(prev, recorded_at, actor, event)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_direct_writer_matches_the_oracle(entry in entry()) {
        assert_matches_oracle(&entry)?;
    }

    #[test]
    fn the_streamed_listing_hash_matches_the_oracle(
        accounts in prop::collection::vec(snapshot(), 0..6)
    ) {
        let Ok(listing) = Listing::new(accounts) else {
            return Ok(());
        };
        let snapshots: Vec<&AccountSnapshot> = listing.accounts().collect();
        let value = serde_json::to_value(snapshots).unwrap();
        let expected = serde_json_canonicalizer::to_vec(&value).unwrap();
        prop_assert_eq!(listing.sha256(), Hash256::of(&expected));
    }
}

#[test]
fn every_kind_of_event_matches_the_oracle() {
    // The golden chain holds one event of every type, whatever the random cases drew.
    for entry in golden_chain() {
        assert_matches_oracle(&entry).unwrap();
    }
}
