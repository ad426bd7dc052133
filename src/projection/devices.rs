//! What a system holds besides its accounts (docs/reference/sync.md#devices-keys): its devices and
//! keys as last listed, including those that are gone, which parts of the listing the last syncs
//! could not read, and who made each change its configuration audit log reported.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::lookup::{Lookup, login_key};
use super::{FailedSync, Mark};
use crate::event::{ChangeActor, ChangeTarget, Coverage, DeviceSnapshot, KeySnapshot};
use crate::time::Timestamp;

/// One device as last listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub device: DeviceSnapshot,
    /// Whether the device was in the last successful devices listing.
    pub present: bool,
    /// The entry that made the device present, the last time it became present.
    pub present_since: Mark,
    /// The latest entry about this device.
    pub last_change: Mark,
}

/// One key as last listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub key: KeySnapshot,
    /// Whether the key was in the last successful keys listing.
    pub present: bool,
    pub present_since: Mark,
    pub last_change: Mark,
}

impl KeyState {
    /// Whether the key still works at `now`: listed, neither revoked nor invalid, not expired.
    pub fn is_valid(&self, now: Timestamp) -> bool {
        self.present
            && !self.key.invalid
            && self.key.revoked.is_none()
            && self.key.expires.is_none_or(|expires| now < expires)
    }
}

/// A part of a sync that failed, and the sync it was part of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingCoverage {
    pub sync_id: String,
    pub failed: FailedSync,
}

/// A system's devices and keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftovers {
    /// Every device ever listed, by id, including removed ones.
    pub devices: BTreeMap<String, DeviceState>,
    /// Every key ever listed, by id, including removed ones.
    pub keys: BTreeMap<String, KeyState>,
    /// The parts the latest successful sync could not read, with why.
    pub missing: BTreeMap<Coverage, MissingCoverage>,
    /// What the audit log said was done to each target, by target id, oldest first.
    pub attributions: BTreeMap<String, Vec<Attribution>>,
    /// The audit entries recorded, by (event group, target id, action): each is recorded once.
    pub attributed: BTreeSet<(String, String, String)>,
    /// The start of the latest completed sync that read the audit log: the next read starts
    /// there (less an overlap).
    pub audit_read_through: Option<Timestamp>,
    /// The ids in `devices` by the login name in their `user`, lower-cased.
    devices_by_user: Lookup,
    /// The ids in `keys` by their `user_id`.
    keys_by_user: Lookup,
}

/// One change the audit log attributed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    pub event_time: Timestamp,
    pub actor: Option<ChangeActor>,
    pub action: String,
    pub target: ChangeTarget,
    /// Whether the change failed (the entry had an `error`): it was attempted, not done.
    pub failed: bool,
    pub mark: Mark,
}

impl Leftovers {
    /// The devices in the last successful devices listing.
    pub fn present_devices(&self) -> impl Iterator<Item = &DeviceState> {
        self.devices.values().filter(|device| device.present)
    }

    /// The keys in the last successful keys listing.
    pub fn present_keys(&self) -> impl Iterator<Item = &KeyState> {
        self.keys.values().filter(|key| key.present)
    }

    /// The devices registered by the login name `login_name` (compared case-insensitively),
    /// removed ones included, as last listed.
    pub fn devices_registered_by(&self, login_name: &str) -> impl Iterator<Item = &DeviceState> {
        self.devices_by_user
            .ids(&login_key(login_name))
            .filter_map(|id| self.devices.get(id))
    }

    /// The keys the account `account_id` created, removed ones included, as last listed.
    pub fn keys_created_by(&self, account_id: &str) -> impl Iterator<Item = &KeyState> {
        self.keys_by_user
            .ids(account_id)
            .filter_map(|id| self.keys.get(id))
    }

    /// A device listed, new, reappearing or changed.
    pub(super) fn device_listed(&mut self, device: &DeviceSnapshot, mark: Mark) {
        let filed = self.devices.get(&device.id).map(|known| &known.device.user);
        if filed != Some(&device.user) {
            let from = filed.map(|user| login_key(user));
            self.devices_by_user
                .file(&device.id, from.as_deref(), &login_key(&device.user));
        }
        let state = self
            .devices
            .entry(device.id.clone())
            .or_insert_with(|| DeviceState {
                device: device.clone(),
                present: false,
                present_since: mark,
                last_change: mark,
            });
        if !state.present {
            state.present_since = mark;
        }
        state.device = device.clone();
        state.present = true;
        state.last_change = mark;
    }

    pub(super) fn device_removed(&mut self, device_id: &str, mark: Mark) {
        if let Some(state) = self.devices.get_mut(device_id) {
            state.present = false;
            state.last_change = mark;
        }
    }

    /// A key listed, new, reappearing or changed.
    pub(super) fn key_listed(&mut self, key: &KeySnapshot, mark: Mark) {
        let filed = self
            .keys
            .get(&key.id)
            .map(|known| known.key.user_id.as_str());
        self.keys_by_user.file(&key.id, filed, &key.user_id);
        let state = self.keys.entry(key.id.clone()).or_insert_with(|| KeyState {
            key: key.clone(),
            present: false,
            present_since: mark,
            last_change: mark,
        });
        if !state.present {
            state.present_since = mark;
        }
        state.key = key.clone();
        state.present = true;
        state.last_change = mark;
    }

    pub(super) fn key_removed(&mut self, key_id: &str, mark: Mark) {
        if let Some(state) = self.keys.get_mut(key_id) {
            state.present = false;
            state.last_change = mark;
        }
    }

    /// Records the failure of a part of a sync, if `sync_id` names a part; returns whether it
    /// did (a whole sync's failure is the caller's).
    pub(super) fn part_failed(&mut self, sync_id: &str, failed: &FailedSync) -> bool {
        let Some((sync, coverage)) = Coverage::of_sync_id(sync_id) else {
            return false;
        };
        self.missing.insert(
            coverage,
            MissingCoverage {
                sync_id: sync.to_owned(),
                failed: failed.clone(),
            },
        );
        true
    }

    /// A part is missing until a sync completes without failing it; a sync that did not fail
    /// the audit log read it up to its start.
    pub(super) fn sync_completed(&mut self, sync_id: &str, started_at: Timestamp) {
        self.missing.retain(|_, missing| missing.sync_id == sync_id);
        if !self.missing.contains_key(&Coverage::AuditLog) {
            self.audit_read_through = Some(started_at);
        }
    }

    /// A change the audit log attributed.
    pub(super) fn change_attributed(&mut self, attribution: Attribution, event_group_id: &str) {
        self.attributed.insert(Self::attribution_key(
            event_group_id,
            &attribution.target.id,
            &attribution.action,
        ));
        self.attributions
            .entry(attribution.target.id.clone())
            .or_default()
            .push(attribution);
    }

    /// How an audit entry is known: one operation's group, its target and its action.
    pub fn attribution_key(
        event_group_id: &str,
        target_id: &str,
        action: &str,
    ) -> (String, String, String) {
        (
            event_group_id.to_owned(),
            target_id.to_owned(),
            action.to_owned(),
        )
    }
}
