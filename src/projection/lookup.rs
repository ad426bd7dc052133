//! An index kept beside a map of the projections: from an attribute of each item (an account's
//! or a device's login name, lower-cased; a key's user id) to the ids of the items that hold it
//! now. `GetHistory` and the leftovers check find an account's devices and keys through it
//! instead of scanning every account, device and key of the system.
//!
//! Only the projection's `apply` files an id, when its item is first listed or the attribute
//! changes (a rename, a device registered anew by someone else), and the maps keep removed items,
//! so the index holds exactly what a scan of the map would find; it is private to `projection`,
//! read through accessors, so nothing else can make the two disagree.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The ids of the items holding each value of an attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Lookup(BTreeMap<String, BTreeSet<String>>);

impl Lookup {
    /// Files `id` under `to`, taking it from under `from`, the value it was filed under before
    /// (`None` for an item not seen before).
    pub(super) fn file(&mut self, id: &str, from: Option<&str>, to: &str) {
        if from == Some(to) {
            return;
        }
        if let Some(from) = from
            && let Some(ids) = self.0.get_mut(from)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.0.remove(from);
            }
        }
        self.0
            .entry(to.to_owned())
            .or_default()
            .insert(id.to_owned());
    }

    /// The ids filed under `value`, in id order.
    pub(super) fn ids<'a>(
        &'a self,
        value: &str,
    ) -> impl DoubleEndedIterator<Item = &'a str> + use<'a> {
        self.0.get(value).into_iter().flatten().map(String::as_str)
    }
}

/// How a login name is filed: login names compare case-insensitively, as emails do.
pub(super) fn login_key(login_name: &str) -> String {
    lowercase(login_name).into_owned()
}

/// `text.to_lowercase()`, borrowed when that changes nothing: emails and login names are
/// nearly always lower-case already, and resolving every account's link looks one up per
/// account per evaluation, where a copy each was the most frequent allocation.
pub fn lowercase(text: &str) -> Cow<'_, str> {
    if text
        .bytes()
        .any(|byte| !byte.is_ascii() || byte.is_ascii_uppercase())
    {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::{Lookup, lowercase};
    use crate::event::{AccountSnapshot, DeviceSnapshot, Event, KeySnapshot, SystemId};
    use crate::projection::{Projections, SystemState};

    fn ids<'a>(lookup: &'a Lookup, value: &str) -> Vec<&'a str> {
        lookup.ids(value).collect()
    }

    fn tailnet(projections: &Projections) -> &SystemState {
        projections.system(&SystemId::tailscale()).unwrap()
    }

    fn seen(id: &str, login_name: &str) -> Event {
        Event::UserSeen {
            system: SystemId::tailscale(),
            account: AccountSnapshot {
                id: id.to_owned(),
                login_name: login_name.to_owned(),
                display_name: id.to_owned(),
                role: "member".to_owned(),
                status: "active".to_owned(),
                account_type: "member".to_owned(),
                created: None,
            },
        }
    }

    fn removed(id: &str, login_name: &str) -> Event {
        Event::UserRemoved {
            system: SystemId::tailscale(),
            account_id: id.to_owned(),
            login_name: login_name.to_owned(),
            observed_at: None,
        }
    }

    fn device(id: &str, user: &str) -> DeviceSnapshot {
        DeviceSnapshot {
            id: id.to_owned(),
            name: format!("{id}-laptop"),
            user: user.to_owned(),
            tags: Vec::new(),
            authorized: true,
            key_expiry_disabled: false,
            expires: None,
            os: "linux".to_owned(),
            created: None,
        }
    }

    fn key(id: &str, user_id: &str) -> KeySnapshot {
        KeySnapshot {
            id: id.to_owned(),
            key_type: "auth".to_owned(),
            description: "ci".to_owned(),
            user_id: user_id.to_owned(),
            created: None,
            expires: None,
            revoked: None,
            invalid: false,
            reusable: true,
            tags: Vec::new(),
        }
    }

    fn logins<'a>(state: &'a SystemState, login_name: &str) -> Vec<&'a str> {
        state
            .accounts_with_login(login_name)
            .map(|account| account.snapshot.id.as_str())
            .collect()
    }

    fn devices<'a>(state: &'a SystemState, login_name: &str) -> Vec<&'a str> {
        state
            .leftovers
            .devices_registered_by(login_name)
            .map(|device| device.device.id.as_str())
            .collect()
    }

    fn keys<'a>(state: &'a SystemState, account_id: &str) -> Vec<&'a str> {
        state
            .leftovers
            .keys_created_by(account_id)
            .map(|key| key.key.id.as_str())
            .collect()
    }

    const NONE: [&str; 0] = [];

    #[test]
    fn a_renamed_account_is_found_by_its_new_login_name_only_in_any_case() {
        let projections = Projections::after_events(vec![
            seen("u1", "Dana@acme.example"),
            seen("u2", "marco@acme.example"),
            seen("u1", "dana.w@acme.example"),
        ]);
        let state = tailnet(&projections);
        assert_eq!(logins(state, "DANA.W@acme.example"), ["u1"]);
        assert_eq!(logins(state, "dana@acme.example"), NONE);
        assert_eq!(logins(state, "Marco@Acme.Example"), ["u2"]);
    }

    #[test]
    fn a_change_of_case_alone_keeps_the_account_filed_once() {
        let projections = Projections::after_events(vec![
            seen("u1", "dana@acme.example"),
            seen("u1", "DANA@acme.example"),
        ]);
        assert_eq!(logins(tailnet(&projections), "dana@acme.example"), ["u1"]);
    }

    #[test]
    fn a_removed_account_keeps_its_login_name_beside_the_account_that_took_it() {
        let projections = Projections::after_events(vec![
            seen("u7", "lee@acme.example"),
            removed("u7", "lee@acme.example"),
            seen("u3", "lee@acme.example"),
        ]);
        let state = tailnet(&projections);
        assert_eq!(logins(state, "lee@acme.example"), ["u3", "u7"]);
        assert!(
            !state.accounts["u7"].present,
            "the map keeps it, and so does the index"
        );
    }

    #[test]
    fn a_device_follows_its_user_and_a_key_its_creator_removed_or_not() {
        let system = SystemId::tailscale;
        let projections = Projections::after_events(vec![
            Event::DeviceSeen {
                system: system(),
                device: device("n1", "Dana@acme.example"),
            },
            Event::DeviceSeen {
                system: system(),
                device: device("n2", "dana@acme.example"),
            },
            Event::DeviceChanged {
                system: system(),
                device: device("n1", "marco@acme.example"),
            },
            Event::DeviceRemoved {
                system: system(),
                device_id: "n2".to_owned(),
                name: "n2-laptop".to_owned(),
            },
            Event::KeySeen {
                system: system(),
                key: key("k1", "u1"),
            },
            Event::KeySeen {
                system: system(),
                key: key("k2", "u1"),
            },
            Event::KeyChanged {
                system: system(),
                key: key("k2", "u2"),
            },
            Event::KeyRemoved {
                system: system(),
                key_id: "k1".to_owned(),
                description: "ci".to_owned(),
            },
        ]);
        let state = tailnet(&projections);
        assert_eq!(devices(state, "DANA@acme.example"), ["n2"]);
        assert_eq!(devices(state, "marco@acme.example"), ["n1"]);
        assert_eq!(keys(state, "u1"), ["k1"]);
        assert_eq!(keys(state, "u2"), ["k2"]);
        assert_eq!(keys(state, "U1"), NONE, "account ids compare exactly");
    }

    #[test]
    fn an_id_moves_with_its_value_and_an_emptied_value_is_dropped() {
        let mut lookup = Lookup::default();
        lookup.file("u1", None, "dana");
        lookup.file("u2", None, "dana");
        assert_eq!(ids(&lookup, "dana"), ["u1", "u2"]);

        lookup.file("u1", Some("dana"), "dana.w");
        assert_eq!(ids(&lookup, "dana"), ["u2"]);
        assert_eq!(ids(&lookup, "dana.w"), ["u1"]);

        lookup.file("u2", Some("dana"), "marco");
        assert_eq!(ids(&lookup, "dana"), Vec::<&str>::new());
        let mut expected = Lookup::default();
        expected.file("u1", None, "dana.w");
        expected.file("u2", None, "marco");
        assert_eq!(lookup, expected, "no empty set is left under the old value");
    }

    #[test]
    fn filing_under_the_same_value_changes_nothing() {
        let mut lookup = Lookup::default();
        lookup.file("u1", None, "dana");
        lookup.file("u1", Some("dana"), "dana");
        assert_eq!(ids(&lookup, "dana"), ["u1"]);
    }

    #[test]
    fn the_order_is_by_id_whatever_the_order_of_filing() {
        let mut lookup = Lookup::default();
        lookup.file("u9", None, "x");
        lookup.file("u1", None, "x");
        assert_eq!(lookup.ids("x").next_back(), Some("u9"));
        assert_eq!(lookup.ids("x").next(), Some("u1"));
    }

    #[test]
    fn lower_case_text_is_borrowed_and_anything_else_is_lowered_as_unicode_lowers_it() {
        assert!(matches!(
            lowercase("dana@example.com"),
            std::borrow::Cow::Borrowed("dana@example.com")
        ));
        assert_eq!(lowercase("Dana@Example.COM"), "dana@example.com");
        assert_eq!(lowercase("ÅSA@corp.example"), "åsa@corp.example");
        // Already lower-case, but not ASCII: lowered anyway, which changes nothing.
        assert_eq!(lowercase("åsa@corp.example"), "åsa@corp.example");
    }

    proptest::proptest! {
        #[test]
        fn lowercase_is_to_lowercase(text in "[a-zA-Z0-9@.ÅåİẞΣ]{0,24}|\\PC{0,24}") {
            proptest::prop_assert_eq!(lowercase(&text), text.to_lowercase());
        }
    }
}
