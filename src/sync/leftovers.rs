//! The devices and keys part of a sync (SPEC §14): what the devices and keys listings mean,
//! given what the ledger knows, and the `SyncFailed` of a part that could not be listed.
//!
//! Per device, in id order: `DeviceSeen` when it is new or reappears, `DeviceChanged` when its
//! owner (`user`), tags, authorization or key expiry changed; then `DeviceRemoved` for every
//! present device the listing lacks. Keys alike: `KeySeen`, `KeyChanged` (revocation, validity,
//! expiry), `KeyRemoved` — a key that drops out of the list is removed, never taken as revoked,
//! since Tailscale lists only active keys. A part switched off appends nothing and changes
//! nothing; a part that failed appends its own `SyncFailed` and leaves its items as they were.

use std::collections::BTreeMap;

use crate::event::{Coverage, DeviceSnapshot, Event, KeySnapshot};
use crate::projection::Leftovers;
use crate::tailscale::FetchError;
use crate::time::Timestamp;

use super::SyncContext;

/// One part of an observation: `None` when it is switched off, else its listing by id or why it
/// could not be read.
pub type Part<T> = Option<Result<BTreeMap<String, T>, FetchError>>;

/// Items by id; two items with one id make the listing unusable.
pub fn by_id<T>(
    items: impl IntoIterator<Item = T>,
    id: impl Fn(&T) -> &str,
    what: Coverage,
) -> Result<BTreeMap<String, T>, FetchError> {
    let mut listed = BTreeMap::new();
    for item in items {
        let key = id(&item).to_owned();
        if listed.contains_key(&key) {
            return Err(FetchError {
                class: crate::event::SyncErrorClass::Malformed,
                message: format!(
                    "the {what} list holds the id `{}` twice",
                    key.escape_debug()
                ),
            });
        }
        listed.insert(key, item);
    }
    Ok(listed)
}

/// The events of the devices and keys parts of a sync.
pub(super) fn plan_leftovers(
    state: &Leftovers,
    devices: &Part<DeviceSnapshot>,
    keys: &Part<KeySnapshot>,
    context: &SyncContext,
    now: Timestamp,
) -> Vec<Event> {
    let system = &context.system;
    let mut events = Vec::new();
    match devices {
        None => {}
        Some(Err(error)) => events.push(part_failed(context, now, Coverage::Devices, error)),
        Some(Ok(listed)) => {
            for device in listed.values() {
                let known = state.devices.get(&device.id).filter(|known| known.present);
                let event = match known {
                    None => Some(Event::DeviceSeen {
                        system: system.clone(),
                        device: device.clone(),
                    }),
                    Some(known) if device_changed(&known.device, device) => {
                        Some(Event::DeviceChanged {
                            system: system.clone(),
                            device: device.clone(),
                        })
                    }
                    Some(_) => None,
                };
                events.extend(event);
            }
            events.extend(
                state
                    .present_devices()
                    .filter(|known| !listed.contains_key(&known.device.id))
                    .map(|known| Event::DeviceRemoved {
                        system: system.clone(),
                        device_id: known.device.id.clone(),
                        name: known.device.name.clone(),
                    }),
            );
        }
    }
    match keys {
        None => {}
        Some(Err(error)) => events.push(part_failed(context, now, Coverage::Keys, error)),
        Some(Ok(listed)) => {
            for key in listed.values() {
                let known = state.keys.get(&key.id).filter(|known| known.present);
                let event = match known {
                    None => Some(Event::KeySeen {
                        system: system.clone(),
                        key: key.clone(),
                    }),
                    Some(known) if key_changed(&known.key, key) => Some(Event::KeyChanged {
                        system: system.clone(),
                        key: key.clone(),
                    }),
                    Some(_) => None,
                };
                events.extend(event);
            }
            events.extend(
                state
                    .present_keys()
                    .filter(|known| !listed.contains_key(&known.key.id))
                    .map(|known| Event::KeyRemoved {
                        system: system.clone(),
                        key_id: known.key.id.clone(),
                        description: known.key.description.clone(),
                    }),
            );
        }
    }
    events
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
