//! The devices, keys and audit log parts of a sync (docs/reference/sync.md#devices-keys): what the
//! devices and keys listings and the audit log's entries mean, given what the ledger knows, and the
//! `SyncFailed` of a part that could not be read.
//!
//! Per device, in id order: `DeviceSeen` when it is new or reappears, `DeviceChanged` when its
//! owner (`user`), tags, authorization or key expiry changed; then `DeviceRemoved` for every
//! present device the listing lacks. Keys alike: `KeySeen`, `KeyChanged` (revocation, validity,
//! expiry), `KeyRemoved` — a key that drops out of the list is removed, never taken as revoked,
//! since Tailscale lists only active keys. A part switched off appends nothing and changes
//! nothing; a part that failed appends its own `SyncFailed` and leaves its items as they were.
//! Then a `ChangeAttributed` for each audit log entry about a user, device or key not recorded
//! before (by event group, target and action), in the order the log gave them.

use crate::event::{Coverage, DeviceSnapshot, Event, KeySnapshot};
use crate::projection::Leftovers;
use crate::tailscale::FetchError;
use crate::time::Timestamp;

use super::listing::{ById, Joined, Keyed};
use super::{Observation, SyncContext};

/// One part of an observation: `None` when it is switched off, else its listing by id or why it
/// could not be read.
pub type Part<T> = Option<Result<ById<T>, FetchError>>;

/// How far back each read of the audit log reaches before the last one: entries arrive late.
pub const AUDIT_LOG_OVERLAP_SECONDS: i64 = 3600;
/// How long Tailscale keeps its configuration audit log: no read reaches further back.
pub const AUDIT_LOG_RETENTION_SECONDS: i64 = 90 * 24 * 3600;

/// The span of the audit log a sync reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditWindow {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl AuditWindow {
    /// From the last read, less the overlap, to `now`; the whole retention on a first read.
    pub fn next(state: &Leftovers, now: Timestamp) -> Self {
        let oldest = now.saturating_add_seconds(-AUDIT_LOG_RETENTION_SECONDS);
        let from = state.audit_read_through.map_or(oldest, |read| {
            read.saturating_add_seconds(-AUDIT_LOG_OVERLAP_SECONDS)
                .max(oldest)
        });
        AuditWindow { from, to: now }
    }
}

/// Items by id; two items with one id make the listing unusable.
pub fn by_id<T: Keyed>(items: Vec<T>, what: Coverage) -> Result<ById<T>, FetchError> {
    ById::new(items).map_err(|id| FetchError {
        class: crate::event::SyncErrorClass::Malformed,
        message: format!("the {what} list holds the id `{}` twice", id.escape_debug()),
    })
}

/// The events of the devices, keys and audit log parts of a sync.
pub(super) fn plan_leftovers(
    state: &Leftovers,
    observation: &Observation,
    context: &SyncContext,
    now: Timestamp,
) -> Vec<Event> {
    let system = &context.system;
    let (devices, keys) = (&observation.devices, &observation.keys);
    let mut events = Vec::new();
    match devices {
        None => {}
        Some(Err(error)) => events.push(part_failed(context, now, Coverage::Devices, error)),
        Some(Ok(listed)) => plan_items(
            &mut events,
            listed.join(&state.devices),
            |known| known.present,
            |device, known| match known {
                None => Some(Event::DeviceSeen {
                    system: system.clone(),
                    device: device.clone(),
                }),
                Some(known) => {
                    device_changed(&known.device, device).then(|| Event::DeviceChanged {
                        system: system.clone(),
                        device: device.clone(),
                    })
                }
            },
            |known| Event::DeviceRemoved {
                system: system.clone(),
                device_id: known.device.id.clone(),
                name: known.device.name.clone(),
            },
        ),
    }
    match keys {
        None => {}
        Some(Err(error)) => events.push(part_failed(context, now, Coverage::Keys, error)),
        Some(Ok(listed)) => plan_items(
            &mut events,
            listed.join(&state.keys),
            |known| known.present,
            |key, known| match known {
                None => Some(Event::KeySeen {
                    system: system.clone(),
                    key: key.clone(),
                }),
                Some(known) => key_changed(&known.key, key).then(|| Event::KeyChanged {
                    system: system.clone(),
                    key: key.clone(),
                }),
            },
            |known| Event::KeyRemoved {
                system: system.clone(),
                key_id: known.key.id.clone(),
                description: known.key.description.clone(),
            },
        ),
    }
    match &observation.audit_log {
        None => {}
        Some(Err(error)) => events.push(part_failed(context, now, Coverage::AuditLog, error)),
        Some(Ok(changes)) => {
            // Entries read again inside the overlap, or twice in one read, are recorded once.
            let mut recorded = std::collections::BTreeSet::new();
            for change in changes {
                let key = Leftovers::attribution_key(
                    &change.event_group_id,
                    &change.target.id,
                    &change.action,
                );
                if state.attributed.contains(&key) || !recorded.insert(key) {
                    continue;
                }
                events.push(Event::ChangeAttributed {
                    system: system.clone(),
                    event_time: change.event_time,
                    event_group_id: change.event_group_id.clone(),
                    origin: change.origin.clone(),
                    actor: change.actor.clone(),
                    action: change.action.clone(),
                    target: change.target.clone(),
                    old: change.old.clone(),
                    new: change.new.clone(),
                    error: change.error.clone(),
                });
            }
        }
    }
    events
}

/// The events of one listing joined with what the ledger knew, in id order: for each listed
/// item, what `listed` says given the known item if it is present; then the removal of each
/// present item the listing lacks.
fn plan_items<'a, T: Keyed + 'a, S: 'a>(
    events: &mut Vec<Event>,
    joined: impl Iterator<Item = Joined<'a, T, S>>,
    present: impl Fn(&S) -> bool,
    listed: impl Fn(&T, Option<&S>) -> Option<Event>,
    removed: impl Fn(&S) -> Event,
) {
    let mut removals = Vec::new();
    for joined in joined {
        match joined {
            Joined::Listed(item, known) => {
                events.extend(listed(item, known.filter(|known| present(known))));
            }
            Joined::Unlisted(known) => removals.extend(present(known).then(|| removed(known))),
        }
    }
    events.extend(removals);
}

/// The `SyncFailed` of one part of the sync: the sync itself goes on and completes.
fn part_failed(
    context: &SyncContext,
    now: Timestamp,
    coverage: Coverage,
    error: &FetchError,
) -> Event {
    Event::SyncFailed {
        system: context.system.clone(),
        sync_id: coverage.sync_id(&context.sync_id),
        started_at: context.started_at,
        finished_at: now,
        error_class: error.class,
        message: error.message.clone(),
    }
}

/// What `DeviceChanged` is about: who owns the device and whether it may connect. A new name or
/// operating system alone is not recorded.
fn device_changed(before: &DeviceSnapshot, now: &DeviceSnapshot) -> bool {
    before.user != now.user
        || before.tags != now.tags
        || before.authorized != now.authorized
        || before.expires != now.expires
        || before.key_expiry_disabled != now.key_expiry_disabled
}

/// What `KeyChanged` is about: whether the key still works.
fn key_changed(before: &KeySnapshot, now: &KeySnapshot) -> bool {
    before.revoked != now.revoked || before.invalid != now.invalid || before.expires != now.expires
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceSnapshot {
        DeviceSnapshot {
            id: "n1".to_owned(),
            name: "laptop".to_owned(),
            user: "dana@acme.example".to_owned(),
            tags: Vec::new(),
            authorized: true,
            key_expiry_disabled: false,
            expires: None,
            os: "linux".to_owned(),
            created: None,
        }
    }

    fn key() -> KeySnapshot {
        KeySnapshot {
            id: "k1".to_owned(),
            key_type: "auth".to_owned(),
            description: "ci".to_owned(),
            user_id: "u1".to_owned(),
            created: None,
            expires: None,
            revoked: None,
            invalid: false,
            reusable: false,
            tags: Vec::new(),
        }
    }

    /// What is changed, how, and whether that is a change to record.
    type Change<T> = (&'static str, fn(&mut T), bool);

    #[test]
    fn each_owner_or_access_attribute_alone_changes_a_device_and_its_name_or_os_do_not() {
        let changes: [Change<DeviceSnapshot>; 7] = [
            ("user", |d| d.user = "sam@acme.example".to_owned(), true),
            ("tags", |d| d.tags = vec!["tag:ci".to_owned()], true),
            ("authorized", |d| d.authorized = false, true),
            ("expires", |d| d.expires = Some(Timestamp::UNIX_EPOCH), true),
            ("key expiry", |d| d.key_expiry_disabled = true, true),
            ("name", |d| d.name = "renamed".to_owned(), false),
            ("os", |d| d.os = "macOS".to_owned(), false),
        ];
        for (what, change, recorded) in changes {
            let mut now = device();
            change(&mut now);
            assert_eq!(device_changed(&device(), &now), recorded, "{what}");
        }
        let changes: [Change<KeySnapshot>; 4] = [
            ("revoked", |k| k.revoked = Some(Timestamp::UNIX_EPOCH), true),
            ("invalid", |k| k.invalid = true, true),
            ("expires", |k| k.expires = Some(Timestamp::UNIX_EPOCH), true),
            ("description", |k| k.description = "other".to_owned(), false),
        ];
        for (what, change, recorded) in changes {
            let mut now = key();
            change(&mut now);
            assert_eq!(key_changed(&key(), &now), recorded, "{what}");
        }
    }

    #[test]
    fn the_audit_log_is_read_from_the_last_read_less_an_hour_and_never_past_ninety_days() {
        let now = Timestamp::UNIX_EPOCH.saturating_add_seconds(200 * 24 * 3600);
        let mut state = Leftovers::default();
        let first = AuditWindow::next(&state, now);
        assert_eq!(
            first,
            AuditWindow {
                from: now.saturating_add_seconds(-90 * 24 * 3600),
                to: now
            }
        );
        let read = now.saturating_add_seconds(-7200);
        state.audit_read_through = Some(read);
        assert_eq!(
            AuditWindow::next(&state, now).from,
            read.saturating_add_seconds(-3600)
        );
        state.audit_read_through = Some(Timestamp::UNIX_EPOCH);
        assert_eq!(AuditWindow::next(&state, now).from, first.from);
    }
}
