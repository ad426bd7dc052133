//! A simulated Tailscale API: a real HTTP server on a listener the caller binds, serving the
//! users, devices (`devices.rs`) and keys lists, the configuration audit log of its own changes
//! (`audit_log.rs`), key lookup and OAuth token endpoints in Tailscale's JSON shapes, for tests and the
//! demo; with webhook endpoints registered, it also sends signed deliveries when users change.
//! [`SimulatedHris`] plays Truto's unified HRIS API beside it (`truto.rs`).
//!
//! [`SimulatedTailnet`] is a cheap-to-clone handle on shared state: the tailnet's users, the
//! credentials it accepts, the faults armed for coming requests, and counters of what was asked.
//! Tests change the tailnet between syncs, arm faults, and read the counters to see how many
//! requests or token grants the client made.

mod audit_log;
mod date;
mod devices;
mod fault;
mod server;
mod truto;
mod user;
mod webhook;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use audit_log::AuditActor;
pub use devices::{SimAuthKey, SimDevice};
pub use fault::{Endpoint, Fault};
pub use server::SimulatorHandle;
pub use truto::{HrisCounters, HrisResource, SimEmployee, SimulatedHris};
pub use user::SimUser;
pub use webhook::{BadDelivery, OutgoingDelivery, SUBSCRIPTIONS, SentDelivery, SimWebhook};

use crate::time::Timestamp;
use fault::FaultQueue;

/// How many requests the simulator has received, per endpoint, and how many tokens it granted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Counters {
    /// Every request, including those answered with a fault or refused.
    pub requests: u64,
    pub token_requests: u64,
    /// Successful OAuth client-credentials grants.
    pub token_grants: u64,
    pub users_requests: u64,
    pub key_requests: u64,
    pub devices_requests: u64,
    pub keys_requests: u64,
    pub audit_log_requests: u64,
}

/// An id that names no user or key of the simulated tailnet.
#[derive(Debug, thiserror::Error)]
#[error("the simulated tailnet has no {what} `{id}`")]
pub struct UnknownId {
    what: &'static str,
    id: String,
}

/// A tailnet behind a simulated Tailscale API; clones share the same state.
#[derive(Clone, Debug)]
pub struct SimulatedTailnet {
    state: Arc<Mutex<State>>,
    /// The clock its answers are dated by.
    date: date::ServerClock,
}

#[derive(Debug)]
struct State {
    tailnet_id: String,
    users: BTreeMap<String, SimUser>,
    /// Devices by node id.
    devices: BTreeMap<String, SimDevice>,
    keys: BTreeMap<String, SimKey>,
    /// Configured API tokens, by token, with their key id.
    api_tokens: HashMap<String, String>,
    /// Configured OAuth clients: client id to secret.
    oauth_clients: HashMap<String, String>,
    /// Access tokens granted so far, oldest first, with the instant each stops being accepted
    /// and the OAuth client it was granted to.
    access_tokens: Vec<(String, Instant, String)>,
    token_lifetime: Duration,
    faults: FaultQueue,
    counters: Counters,
    /// The configuration audit log, oldest first, and who its changes are made by.
    audit_log: Vec<serde_json::Value>,
    audit_actor: AuditActor,
    webhooks: webhook::Webhooks,
}

/// A key as `GET /keys/{keyId}` and the keys list describe it.
#[derive(Clone, Debug)]
struct SimKey {
    key_type: &'static str,
    /// When the key was added to the simulator.
    created: Timestamp,
    expires: Option<Timestamp>,
    invalid: bool,
    description: String,
    /// The account id of the user who created it; empty for the configured credentials.
    user_id: String,
    reusable: bool,
    tags: Vec<String>,
}

impl SimKey {
    /// A credential the simulator accepts, created by nobody in the tailnet.
    fn credential(key_type: &'static str, expires: Option<Timestamp>) -> Self {
        SimKey {
            key_type,
            created: Timestamp::now(),
            expires,
            invalid: false,
            description: String::new(),
            user_id: String::new(),
            reusable: false,
            tags: Vec::new(),
        }
    }
}

impl SimulatedTailnet {
    /// An empty tailnet with the given id (like `T1234CNTRL`), accepting no credential yet, whose
    /// access tokens live one hour like Tailscale's.
    pub fn new(tailnet_id: &str) -> Self {
        SimulatedTailnet {
            state: Arc::new(Mutex::new(State {
                tailnet_id: tailnet_id.to_owned(),
                users: BTreeMap::new(),
                devices: BTreeMap::new(),
                keys: BTreeMap::new(),
                api_tokens: HashMap::new(),
                oauth_clients: HashMap::new(),
                access_tokens: Vec::new(),
                token_lifetime: Duration::from_secs(3600),
                faults: FaultQueue::default(),
                counters: Counters::default(),
                audit_log: Vec::new(),
                audit_actor: AuditActor::default(),
                webhooks: webhook::Webhooks::new(),
            })),
            date: date::ServerClock::default(),
        }
    }

    /// Accepts an API access token whose key has the given id and expiry.
    pub fn add_api_token(&self, token: &str, key_id: &str, expires: Option<Timestamp>) {
        let mut state = self.lock();
        state.api_tokens.insert(token.to_owned(), key_id.to_owned());
        state
            .keys
            .insert(key_id.to_owned(), SimKey::credential("api", expires));
    }

    /// Accepts an OAuth client; its key id is the client id, and it does not expire.
    pub fn add_oauth_client(&self, client_id: &str, client_secret: &str) {
        let mut state = self.lock();
        state
            .oauth_clients
            .insert(client_id.to_owned(), client_secret.to_owned());
        state
            .keys
            .insert(client_id.to_owned(), SimKey::credential("client", None));
    }

    /// Sets the lifetime of access tokens granted from now on (whole seconds are announced).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// Adds a user, or replaces the user with the same id.
    pub fn upsert_user(&self, mut user: SimUser) {
        let mut state = self.lock();
        let state = &mut *state;
        if user.tailnet_id.is_empty() {
            user.tailnet_id = state.tailnet_id.clone();
        }
        let before = state.users.insert(user.id.clone(), user.clone());
        state
            .webhooks
            .user_changed(&state.tailnet_id, before.as_ref(), Some(&user));
    }

    /// Removes a user (as deleting them in the admin console would): their untagged devices
    /// go with them, their tagged devices and their keys stay.
    pub fn remove_user(&self, id: &str) -> Result<SimUser, UnknownId> {
        let mut state = self.lock();
        let state = &mut *state;
        let removed = state.users.remove(id).ok_or_else(|| unknown("user", id))?;
        devices::revoke_devices_of(&mut state.devices, &removed.login_name);
        audit_log::record(state, "USER", id, &removed.login_name, "DELETE");
        state
            .webhooks
            .user_changed(&state.tailnet_id, Some(&removed), None);
        Ok(removed)
    }

    /// Changes a user's role.
    pub fn set_role(&self, id: &str, role: &str) -> Result<(), UnknownId> {
        self.update_user(id, |user| user.role = role.to_owned())
    }

    /// Changes a user's status (e.g. `suspended`).
    pub fn set_status(&self, id: &str, status: &str) -> Result<(), UnknownId> {
        self.update_user(id, |user| user.status = status.to_owned())
    }

    /// Changes when a key expires.
    pub fn set_key_expiry(
        &self,
        key_id: &str,
        expires: Option<Timestamp>,
    ) -> Result<(), UnknownId> {
        self.update_key(key_id, |key| key.expires = expires)
    }

    /// Revokes a key, as the admin console would: it becomes invalid, drops out of the keys
    /// list, and the audit log says who revoked it.
    pub fn revoke_key(&self, key_id: &str) -> Result<(), UnknownId> {
        let mut state = self.lock();
        let state = &mut *state;
        let key = state
            .keys
            .get_mut(key_id)
            .ok_or_else(|| unknown("key", key_id))?;
        key.invalid = true;
        let name = key.description.clone();
        audit_log::record(state, "API_KEY", key_id, &name, "REVOKE");
        Ok(())
    }

    /// Marks a key revoked (`invalid: true`) or valid again; an invalid API token is refused.
    pub fn set_key_invalid(&self, key_id: &str, invalid: bool) -> Result<(), UnknownId> {
        self.update_key(key_id, |key| key.invalid = invalid)
    }

    /// Arms `fault` for the next `times` requests to any endpoint.
    /// Dates every answer `seconds` away from its clock (negative: before it), as a server
    /// whose clock disagrees with the caller's would.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.date.set_offset(seconds);
    }

    pub fn inject(&self, fault: Fault, times: usize) {
        self.lock().faults.arm(None, fault, times);
    }

    /// Arms `fault` for the next `times` requests to `endpoint`.
    pub fn inject_on(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.lock().faults.arm(Some(endpoint), fault, times);
    }

    /// Disarms every fault not used up yet.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// What has been asked so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// Every access token granted so far, oldest first, so a test can check none leaked.
    pub fn granted_access_tokens(&self) -> Vec<String> {
        self.lock()
            .access_tokens
            .iter()
            .map(|(token, _, _)| token.clone())
            .collect()
    }

    fn update_user(&self, id: &str, change: impl FnOnce(&mut SimUser)) -> Result<(), UnknownId> {
        let mut state = self.lock();
        let state = &mut *state;
        let user = state.users.get_mut(id).ok_or_else(|| unknown("user", id))?;
        let before = user.clone();
        change(user);
        state
            .webhooks
            .user_changed(&state.tailnet_id, Some(&before), Some(user));
        Ok(())
    }

    fn update_key(&self, id: &str, change: impl FnOnce(&mut SimKey)) -> Result<(), UnknownId> {
        let mut state = self.lock();
        let key = state.keys.get_mut(id).ok_or_else(|| unknown("key", id))?;
        change(key);
        Ok(())
    }

    /// The state, even if a panic elsewhere poisoned the lock: every change is a single
    /// assignment or insert, so the state is never left half-changed.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unknown(what: &'static str, id: &str) -> UnknownId {
    UnknownId {
        what,
        id: id.to_owned(),
    }
}
