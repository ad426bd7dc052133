//! Webhooks of the simulated tailnet: the endpoint-creation and test-event routes of the API,
//! and signed deliveries in Tailscale's shape, sent when the tailnet's users change.
//!
//! A registered endpoint (through `POST /api/v2/tailnet/{tailnet}/webhooks` or
//! [`SimulatedTailnet::add_webhook`]) gets a `tskey-webhook-…` secret. From then on every user
//! change (created, approval, suspension, restoration, deletion, role) queues a delivery, a
//! JSON array of the change's events signed with `Tailscale-Webhook-Signature`, posted in order
//! by a background task; each answer is logged for tests to wait on. Tests can also build
//! deliveries that a receiver must refuse ([`BadDelivery`]) and replay the last one sent.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::SimulatedTailnet;
use super::server::{error, refusal};
use super::user::SimUser;
use crate::tailscale::Secret;
use crate::time::{Clock, Timestamp};
use crate::webhook::delivery::MAX_BODY_BYTES;
use crate::webhook::signature::{self, SIGNATURE_HEADER};

/// The subscription values of Tailscale's API (`Webhook.subscriptions`).
pub const SUBSCRIPTIONS: [&str; 18] = [
    "nodeCreated",
    "nodeNeedsApproval",
    "nodeApproved",
    "nodeKeyExpiringInOneDay",
    "nodeKeyExpired",
    "nodeDeleted",
    "nodeSigned",
    "nodeNeedsSignature",
    "policyUpdate",
    "userCreated",
    "userNeedsApproval",
    "userSuspended",
    "userRestored",
    "userDeleted",
    "userApproved",
    "userRoleUpdated",
    "subnetIPForwardingNotEnabled",
    "exitNodeIPForwardingNotEnabled",
];

/// Group values the Go client defines; the simulator treats either as "every event".
const CATEGORIES: [&str; 2] = [
    "categoryTailnetManagement",
    "categoryDeviceMisconfigurations",
];

/// Who the simulated admin console says made a change.
const ACTOR: &str = "admin@simulated.example";

/// How long the sender waits for a receiver's answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook endpoint of the simulated tailnet.
#[derive(Clone, Debug)]
pub struct SimWebhook {
    pub endpoint_id: String,
    pub url: String,
    pub secret: Secret,
    pub subscriptions: Vec<String>,
    pub created: Timestamp,
}

impl SimWebhook {
    fn subscribes_to(&self, event_type: &str) -> bool {
        self.subscriptions.iter().any(|subscription| {
            subscription == event_type || CATEGORIES.contains(&subscription.as_str())
        })
    }
}

/// A delivery as Tailscale posts it: the URL, the body, and the signature header's value.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingDelivery {
    pub url: String,
    pub body: Vec<u8>,
    /// `None` sends no signature header at all.
    pub signature: Option<String>,
}

impl fmt::Debug for OutgoingDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingDelivery")
            .field("url", &self.url)
            .field("body_bytes", &self.body.len())
            .field("signature", &self.signature)
            .finish()
    }
}

impl OutgoingDelivery {
    /// `body` signed with `secret` at `signed_unix`, exactly as Tailscale signs.
    pub fn signed(url: &str, secret: &Secret, body: Vec<u8>, signed_unix: i64) -> Self {
        OutgoingDelivery {
            url: url.to_owned(),
            signature: Some(signature::header_value(secret, signed_unix, &body)),
            body,
        }
    }

    /// Posts the delivery and returns the status of the answer.
    pub async fn send(&self, client: &reqwest::Client) -> reqwest::Result<reqwest::StatusCode> {
        let mut request = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.body.clone());
        if let Some(signature) = &self.signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        Ok(request.send().await?.status())
    }
}

/// A delivery a receiver must refuse (docs/reference/sync.md#webhooks), each otherwise real-shaped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BadDelivery {
    /// Signed with another secret: 401.
    WrongSecret,
    /// Signed 10 minutes ago: 401.
    StaleTimestamp,
    /// Signed 10 minutes from now: 401.
    FutureTimestamp,
    /// `t=…;v1=…`, not comma-separated: 401.
    MalformedHeader,
    /// No signature header: 401.
    MissingHeader,
    /// One byte over 1 MiB, correctly signed: 413.
    OversizedBody,
    /// A correctly signed JSON object instead of an array: 400.
    NotAnArray,
}

impl BadDelivery {
    pub const ALL: [BadDelivery; 7] = [
        BadDelivery::WrongSecret,
        BadDelivery::StaleTimestamp,
        BadDelivery::FutureTimestamp,
        BadDelivery::MalformedHeader,
        BadDelivery::MissingHeader,
        BadDelivery::OversizedBody,
        BadDelivery::NotAnArray,
    ];
}

/// A delivery the simulator sent and what the receiver answered (its status, or why no answer
/// came).
#[derive(Clone, Debug)]
pub struct SentDelivery {
    pub delivery: OutgoingDelivery,
    pub event_types: Vec<String>,
    pub answer: Result<u16, String>,
}

/// The webhook part of the simulator's state.
#[derive(Debug)]
pub(super) struct Webhooks {
    endpoints: Vec<SimWebhook>,
    outbox: mpsc::UnboundedSender<(OutgoingDelivery, Vec<String>)>,
    /// Taken by the sending task when it is started, in the first runtime that queues.
    inbox: Option<mpsc::UnboundedReceiver<(OutgoingDelivery, Vec<String>)>>,
    sent: Arc<watch::Sender<Vec<SentDelivery>>>,
    last: Option<OutgoingDelivery>,
    /// The clock deliveries are stamped and signed with; the system clock when `None`.
    clock: Option<DeliveryClock>,
}

/// A clock a delivery is stamped with, shown in `Debug` by the instant it reads.
#[derive(Clone)]
struct DeliveryClock(Arc<dyn Clock>);

impl fmt::Debug for DeliveryClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryClock({})", self.0.now())
    }
}

impl Webhooks {
    pub(super) fn new() -> Self {
        let (outbox, inbox) = mpsc::unbounded_channel();
        Webhooks {
            endpoints: Vec::new(),
            outbox,
            inbox: Some(inbox),
            sent: Arc::new(watch::channel(Vec::new()).0),
            last: None,
            clock: None,
        }
    }

    /// Queues the deliveries announcing a user's change: `before` and `after` are the user
    /// before and after it (`None`: did not exist / no longer exists).
    pub(super) fn user_changed(
        &mut self,
        tailnet: &str,
        before: Option<&SimUser>,
        after: Option<&SimUser>,
    ) {
        if self.endpoints.is_empty() {
            return;
        }
        let events = user_events(before, after);
        if !events.is_empty() {
            self.queue(tailnet, &events, None);
        }
    }

    /// Queues one delivery per endpoint (or only to `only`) with the events it subscribes to.
    fn queue(
        &mut self,
        tailnet: &str,
        events: &[(&'static str, String, Value)],
        only: Option<&str>,
    ) {
        let now = self.now();
        for endpoint in &self.endpoints {
            if only.is_some_and(|id| id != endpoint.endpoint_id) {
                continue;
            }
            let wanted: Vec<_> = events
                .iter()
                .filter(|(event_type, ..)| only.is_some() || endpoint.subscribes_to(event_type))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let body: Vec<Value> = wanted
                .iter()
                .map(|(event_type, message, data)| {
                    event_json(event_type, tailnet, message, data.clone(), now)
                })
                .collect();
            let body = serde_json::to_vec(&body).expect("JSON values serialise");
            let delivery =
                OutgoingDelivery::signed(&endpoint.url, &endpoint.secret, body, unix_seconds(now));
            let types = wanted
                .iter()
                .map(|(event_type, ..)| (*event_type).to_owned())
                .collect();
            self.last = Some(delivery.clone());
            // The receiving half lives until the sender task ends, which needs this half gone.
            let _ = self.outbox.send((delivery, types));
        }
        self.start_sending();
    }

    /// The instant deliveries (and audit log entries) are stamped with.
    pub(super) fn now(&self) -> Timestamp {
        self.clock
            .as_ref()
            .map_or_else(Timestamp::now, |clock| clock.0.now())
    }

    /// Starts the sending task if it is not running and a runtime is at hand; otherwise the
    /// deliveries wait in the queue for the next change made inside a runtime.
    fn start_sending(&mut self) {
        if self.inbox.is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Some(inbox) = self.inbox.take() {
            runtime.spawn(send_in_order(inbox, self.sent.clone()));
        }
    }
}

/// Posts queued deliveries one after another, as Tailscale delivers an endpoint's events in
/// order, logging each answer. It holds no handle on the tailnet, so it ends when the tailnet
/// (and with it the queue's sending half) is dropped.
async fn send_in_order(
    mut inbox: mpsc::UnboundedReceiver<(OutgoingDelivery, Vec<String>)>,
    sent: Arc<watch::Sender<Vec<SentDelivery>>>,
) {
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .build()
        .unwrap_or_default();
    while let Some((delivery, event_types)) = inbox.recv().await {
        let answer = delivery
            .send(&client)
            .await
            .map(|status| status.as_u16())
            .map_err(|error| error.to_string());
        sent.send_modify(|log| {
            log.push(SentDelivery {
                delivery,
                event_types,
                answer,
            })
        });
    }
}

/// The events Tailscale sends for a user's change, with their message and `data`.
fn user_events(
    before: Option<&SimUser>,
    after: Option<&SimUser>,
) -> Vec<(&'static str, String, Value)> {
    let data = |user: &SimUser| json!({ "user": user.login_name, "actor": ACTOR, "url": "https://login.tailscale.com/admin/users" });
    let mut events = Vec::new();
    match (before, after) {
        (None, Some(user)) => {
            let event_type = if status_class(&user.status) == "needs-approval" {
                "userNeedsApproval"
            } else {
                "userCreated"
            };
            events.push((
                event_type,
                format!("User {} created", user.login_name),
                data(user),
            ));
        }
        (Some(user), None) => {
            events.push((
                "userDeleted",
                format!("User {} deleted by {ACTOR}", user.login_name),
                data(user),
            ));
        }
        (Some(old), Some(new)) => {
            if old.role != new.role {
                // Reported to carry arrays, unlike the other events' strings: a receiver must
                // read `data` as any JSON.
                let mut role_data = data(new);
                role_data["oldRoles"] = json!([old.role]);
                role_data["newRoles"] = json!([new.role]);
                events.push((
                    "userRoleUpdated",
                    format!("Role of user {} changed by {ACTOR}", new.login_name),
                    role_data,
                ));
            }
            if let Some(event_type) = status_event(&old.status, &new.status) {
                events.push((
                    event_type,
                    format!("User {} changed by {ACTOR}", new.login_name),
                    data(new),
                ));
            }
        }
        (None, None) => {}
    }
    events
}

/// `active` and `idle` are one class, as in the ledger
/// (docs/reference/checks.md#status-classes).
fn status_class(status: &str) -> &str {
    match status {
        "active" | "idle" => "enabled",
        other => other,
    }
}

fn status_event(from: &str, to: &str) -> Option<&'static str> {
    match (status_class(from), status_class(to)) {
        (from, to) if from == to => None,
        (_, "suspended") => Some("userSuspended"),
        ("suspended", "enabled") => Some("userRestored"),
        (_, "needs-approval") => Some("userNeedsApproval"),
        ("needs-approval", "enabled") => Some("userApproved"),
        // No event is known for the other moves (e.g. over the billing limit).
        _ => None,
    }
}

/// An event as Tailscale sends it. Its `timestamp` has nanoseconds, as Go writes times: the
/// second of `at` and the wall clock's fraction of a second, so that the same change told again
/// in the same second of a manual clock (the demo re-run on its directory) is a new delivery,
/// not a duplicate of the first telling.
fn event_json(event_type: &str, tailnet: &str, message: &str, data: Value, at: Timestamp) -> Value {
    let wall_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let at = chrono::DateTime::from_timestamp(unix_seconds(at), wall_nanos).unwrap_or_default();
    json!({
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "version": 1,
        "type": event_type,
        "tailnet": tailnet,
        "message": message,
        "data": data,
    })
}

fn unix_seconds(at: Timestamp) -> i64 {
    at.as_micros().div_euclid(1_000_000)
}

fn new_secret() -> String {
    format!("tskey-webhook-{}", random_text(32))
}

fn random_text(length: usize) -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(length)
        .collect()
}

impl SimulatedTailnet {
    /// Registers an endpoint as the API route would, returning it with its secret.
    pub fn add_webhook(&self, url: &str, subscriptions: &[&str]) -> SimWebhook {
        let endpoint = SimWebhook {
            endpoint_id: random_text(12),
            url: url.to_owned(),
            secret: Secret::new(new_secret()),
            subscriptions: subscriptions.iter().map(|s| (*s).to_owned()).collect(),
            created: Timestamp::now(),
        };
        self.lock().webhooks.endpoints.push(endpoint.clone());
        endpoint
    }

    /// Stamps and signs deliveries, stamps audit log entries and dates answers with `clock`
    /// from now on, instead of the system clock: the demo's tailnet lives on the demo's manual
    /// clock, which the receiver judges `t` against and the syncs read the audit log and judge
    /// the `Date` by.
    pub fn use_webhook_clock(&self, clock: Arc<dyn Clock>) {
        self.date.use_clock(clock.clone());
        self.lock().webhooks.clock = Some(DeliveryClock(clock));
    }

    /// The registered endpoints.
    pub fn webhooks(&self) -> Vec<SimWebhook> {
        self.lock().webhooks.endpoints.clone()
    }

    /// The deliveries sent so far with their answers; a test waits on it with `wait_for`.
    pub fn webhook_deliveries(&self) -> watch::Receiver<Vec<SentDelivery>> {
        self.lock().webhooks.sent.subscribe()
    }

    /// The last delivery queued, to replay it.
    pub fn last_webhook_delivery(&self) -> Option<OutgoingDelivery> {
        self.lock().webhooks.last.clone()
    }

    /// Queues a `test` event to one endpoint, as `POST /webhooks/{id}/test` does.
    pub fn send_test_webhook(&self, endpoint_id: &str) -> Result<(), super::UnknownId> {
        let mut state = self.lock();
        let state = &mut *state;
        if !state
            .webhooks
            .endpoints
            .iter()
            .any(|e| e.endpoint_id == endpoint_id)
        {
            return Err(super::unknown("webhook endpoint", endpoint_id));
        }
        let event = ("test", "This is a test event".to_owned(), json!({}));
        state
            .webhooks
            .queue(&state.tailnet_id, &[event], Some(endpoint_id));
        Ok(())
    }

    /// A real-shaped delivery to `endpoint` (a user's deletion) spoilt as `bad` says, signed
    /// against the system clock; send it with [`OutgoingDelivery::send`].
    pub fn bad_webhook_delivery(
        &self,
        endpoint: &SimWebhook,
        bad: BadDelivery,
    ) -> OutgoingDelivery {
        let tailnet = self.lock().tailnet_id.clone();
        let now = Timestamp::now();
        let event = |data: Value| {
            event_json(
                "userDeleted",
                &tailnet,
                "User gone@simulated.example deleted",
                data,
                now,
            )
        };
        let data = json!({ "user": "gone@simulated.example", "actor": ACTOR });
        let body =
            serde_json::to_vec(&json!([event(data.clone())])).expect("JSON values serialise");
        let t = unix_seconds(now);
        let signed = |body: Vec<u8>, t: i64| {
            OutgoingDelivery::signed(&endpoint.url, &endpoint.secret, body, t)
        };
        match bad {
            BadDelivery::WrongSecret => {
                OutgoingDelivery::signed(&endpoint.url, &Secret::new(new_secret()), body, t)
            }
            BadDelivery::StaleTimestamp => signed(body, t - 600),
            BadDelivery::FutureTimestamp => signed(body, t + 600),
            BadDelivery::MalformedHeader => {
                let v1 = signature::sign(&endpoint.secret, t, &body);
                OutgoingDelivery {
                    url: endpoint.url.clone(),
                    body,
                    signature: Some(format!("t={t};v1={v1}")),
                }
            }
            BadDelivery::MissingHeader => OutgoingDelivery {
                url: endpoint.url.clone(),
                body,
                signature: None,
            },
            BadDelivery::OversizedBody => {
                let mut padded = data;
                padded["padding"] = json!("");
                let base = serde_json::to_vec(&json!([event(padded.clone())]))
                    .expect("JSON values serialise");
                padded["padding"] = json!("x".repeat(MAX_BODY_BYTES + 1 - base.len()));
                let body =
                    serde_json::to_vec(&json!([event(padded)])).expect("JSON values serialise");
                debug_assert_eq!(body.len(), MAX_BODY_BYTES + 1);
                signed(body, t)
            }
            BadDelivery::NotAnArray => signed(
                serde_json::to_vec(&event(data)).expect("JSON values serialise"),
                t,
            ),
        }
    }
}

/// The routes of the webhook API.
pub(super) fn routes() -> Router<SimulatedTailnet> {
    Router::new()
        .route("/api/v2/tailnet/{tailnet}/webhooks", post(create_webhook))
        .route("/api/v2/webhooks/{endpoint_id}/test", post(test_webhook))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateWebhook {
    endpoint_url: Option<String>,
    provider_type: Option<String>,
    subscriptions: Option<Vec<String>>,
}

async fn create_webhook(
    State(tailnet): State<SimulatedTailnet>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let state = tailnet.lock();
        if let Some(refusal) = refusal(&state, &headers, &name) {
            return refusal;
        }
    }
    let Ok(request) = serde_json::from_slice::<CreateWebhook>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid JSON body");
    };
    let Some(url) = request.endpoint_url.filter(|url| !url.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "endpointUrl is required");
    };
    let Some(subscriptions) = request.subscriptions.filter(|s| !s.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "subscriptions are required");
    };
    if let Some(unknown) = subscriptions
        .iter()
        .find(|s| !SUBSCRIPTIONS.contains(&s.as_str()) && !CATEGORIES.contains(&s.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown subscription {unknown:?}"),
        );
    }
    let provider_type = request.provider_type.unwrap_or_default();
    let subscriptions: Vec<&str> = subscriptions.iter().map(String::as_str).collect();
    let endpoint = tailnet.add_webhook(&url, &subscriptions);
    let created = endpoint
        .created
        .to_datetime()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    Json(json!({
        "endpointId": endpoint.endpoint_id,
        "endpointUrl": endpoint.url,
        "providerType": provider_type,
        // Blank for endpoints created with an OAuth client, as Tailscale documents.
        "creatorLoginName": "",
        "created": created,
        "lastModified": created,
        "subscriptions": endpoint.subscriptions,
        // Only at creation (and rotation) does Tailscale return the secret.
        "secret": endpoint.secret.expose(),
    }))
    .into_response()
}

async fn test_webhook(
    State(tailnet): State<SimulatedTailnet>,
    Path(endpoint_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    {
        let state = tailnet.lock();
        if let Some(refusal) = refusal(&state, &headers, "-") {
            return refusal;
        }
    }
    match tailnet.send_test_webhook(&endpoint_id) {
        // Tailscale queues the test event and sends it asynchronously.
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, "webhook endpoint not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(status: &str, role: &str) -> SimUser {
        SimUser::member("u1", "a@e.com", "A")
            .with_status(status)
            .with_role(role)
    }

    fn types(before: Option<&SimUser>, after: Option<&SimUser>) -> Vec<&'static str> {
        user_events(before, after)
            .into_iter()
            .map(|(t, ..)| t)
            .collect()
    }

    #[test]
    fn each_user_change_has_tailscales_event() {
        let active = user("active", "member");
        assert_eq!(types(None, Some(&active)), ["userCreated"]);
        assert_eq!(
            types(None, Some(&user("needs-approval", "member"))),
            ["userNeedsApproval"]
        );
        assert_eq!(types(Some(&active), None), ["userDeleted"]);
        assert_eq!(
            types(Some(&active), Some(&user("idle", "member"))),
            Vec::<&str>::new()
        );
        assert_eq!(
            types(Some(&active), Some(&user("suspended", "member"))),
            ["userSuspended"]
        );
        assert_eq!(
            types(Some(&user("suspended", "member")), Some(&active)),
            ["userRestored"]
        );
        assert_eq!(
            types(Some(&user("needs-approval", "member")), Some(&active)),
            ["userApproved"]
        );
        assert_eq!(
            types(Some(&active), Some(&user("suspended", "admin"))),
            ["userRoleUpdated", "userSuspended"]
        );
        let events = user_events(Some(&active), Some(&user("active", "admin")));
        assert_eq!(events[0].2["oldRoles"], json!(["member"]));
        assert_eq!(events[0].2["newRoles"], json!(["admin"]));
    }

    #[test]
    fn bad_deliveries_are_each_refused_for_their_reason() {
        use crate::webhook::signature::{SignatureError, verify};
        let tailnet = SimulatedTailnet::new("T1CNTRL");
        let endpoint =
            tailnet.add_webhook("http://127.0.0.1:9/webhooks/tailscale", &["userDeleted"]);
        let now = Timestamp::now();
        for bad in BadDelivery::ALL {
            let delivery = tailnet.bad_webhook_delivery(&endpoint, bad);
            let verdict = verify(
                &endpoint.secret,
                delivery.signature.as_deref().map(str::as_bytes),
                &delivery.body,
                now,
            );
            match bad {
                BadDelivery::WrongSecret => assert_eq!(verdict, Err(SignatureError::Mismatch)),
                BadDelivery::StaleTimestamp | BadDelivery::FutureTimestamp => {
                    assert!(matches!(verdict, Err(SignatureError::OutOfWindow { .. })))
                }
                BadDelivery::MalformedHeader => {
                    assert!(matches!(verdict, Err(SignatureError::Malformed(_))))
                }
                BadDelivery::MissingHeader => assert_eq!(verdict, Err(SignatureError::Missing)),
                BadDelivery::OversizedBody => {
                    assert_eq!(delivery.body.len(), MAX_BODY_BYTES + 1);
                    assert!(verdict.is_ok());
                }
                BadDelivery::NotAnArray => {
                    assert!(verdict.is_ok());
                    assert!(
                        serde_json::from_slice::<Value>(&delivery.body)
                            .unwrap()
                            .is_object()
                    );
                }
            }
        }
    }
}
