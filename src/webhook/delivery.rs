//! A verified delivery's body read as Tailscale's events (docs/reference/sync.md#webhooks), and
//! which of them start a sync.
//!
//! The body is a JSON array of events `{timestamp, version, type, tailnet, message, data}`.
//! Only the array shape and a string `type` are required: Tailscale's own examples type `data`
//! as a string map while `userRoleUpdated` is reported to carry arrays, so `data` is kept as
//! whatever JSON arrived, and a type tailledger does not know is kept too (recorded, starting
//! nothing). The webhook is a trigger to re-read the tailnet, never the source of account
//! events, so nothing here interprets `data`.

use std::fmt;

use serde_json::Value;

use crate::event::{DeliveredEvent, Event, SystemId};
use crate::hash::Hash256;
use crate::time::Timestamp;

/// The largest body accepted: 1 MiB. Larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The largest body recorded verbatim in `WebhookReceived`: 4 KiB.
pub const MAX_RECORDED_BODY_BYTES: usize = 4 * 1024;

/// How many of a delivery's events `WebhookReceived` lists. Tailscale batches a few events per
/// delivery; a body of up to 1 MiB could hold tens of thousands of tiny ones, which would make
/// one entry megabytes long. `event_count` still says how many there were.
pub const MAX_RECORDED_EVENTS: usize = 100;

/// User events (docs/reference/sync.md#webhooks): each starts a sync at once.
pub const USER_EVENT_TYPES: [&str; 7] = [
    "userCreated",
    "userNeedsApproval",
    "userApproved",
    "userSuspended",
    "userRestored",
    "userDeleted",
    "userRoleUpdated",
];

/// Device events that change what a sync records about devices
/// (docs/reference/sync.md#devices-keys: a device appearing, going, or being authorised), with
/// Tailscale's deprecated aliases of the approval events. Key-expiry notices
/// (`nodeKeyExpiringInOneDay`, `nodeKeyExpired`) and tailnet-lock signing events change no field a
/// sync records, so they are recorded only. Tailscale sends no event for API keys or auth keys;
/// polling covers those.
pub const DEVICE_EVENT_TYPES: [&str; 6] = [
    "nodeCreated",
    "nodeNeedsApproval",
    "nodeApproved",
    "nodeDeleted",
    "nodeAuthorized",
    "nodeNeedsAuthorization",
];

/// What `tailledger webhook register` subscribes the endpoint to: every type that starts a sync
/// and that Tailscale's API lets one subscribe to (the deprecated aliases arrive unasked).
pub const REGISTERED_SUBSCRIPTIONS: [&str; 11] = [
    "userCreated",
    "userNeedsApproval",
    "userApproved",
    "userSuspended",
    "userRestored",
    "userDeleted",
    "userRoleUpdated",
    "nodeCreated",
    "nodeNeedsApproval",
    "nodeApproved",
    "nodeDeleted",
];

/// Whether an event of this type starts a sync.
pub fn starts_sync(event_type: &str) -> bool {
    USER_EVENT_TYPES.contains(&event_type) || DEVICE_EVENT_TYPES.contains(&event_type)
}

/// Why a correctly signed body is not a delivery (answered 400).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the body is JSON but not an array of events")]
    NotAnArray,
    #[error("element {index} of the body is not an event: {reason}")]
    NotAnEvent { index: usize, reason: &'static str },
}

/// One event of a delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEvent {
    /// `type`, any text (unknown types are kept).
    pub event_type: String,
    /// `timestamp`, when it is an RFC 3339 instant; Tailscale's time of the event.
    pub timestamp: Option<Timestamp>,
    /// `tailnet`, when it is text.
    pub tailnet: Option<String>,
    /// `message`, when it is text.
    pub message: Option<String>,
    /// `data` as it arrived (`null` when absent): strings, arrays, objects alike.
    pub data: Value,
}

/// An accepted delivery: signed, within the window, and an array of events.
#[derive(Clone, PartialEq)]
pub struct Delivery {
    /// The ledger clock when the delivery was accepted.
    pub received_at: Timestamp,
    /// `t` of the signature.
    pub signed_at: Timestamp,
    /// SHA-256 of the body exactly as received: the key of duplicate detection.
    pub body_sha256: Hash256,
    /// The body exactly as received.
    pub body: Vec<u8>,
    pub events: Vec<WebhookEvent>,
}

impl Delivery {
    /// Reads a verified body.
    pub fn parse(
        body: Vec<u8>,
        signed_at: Timestamp,
        received_at: Timestamp,
    ) -> Result<Self, DeliveryError> {
        let value: Value = serde_json::from_slice(&body).map_err(DeliveryError::NotJson)?;
        let Value::Array(elements) = value else {
            return Err(DeliveryError::NotAnArray);
        };
        let events = elements
            .into_iter()
            .enumerate()
            .map(|(index, element)| {
                event(element).map_err(|reason| DeliveryError::NotAnEvent { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Delivery {
            received_at,
            signed_at,
            body_sha256: Hash256::of(&body),
            body,
            events,
        })
    }

    /// Whether any event of the delivery starts a sync.
    pub fn starts_sync(&self) -> bool {
        self.events
            .iter()
            .any(|event| starts_sync(&event.event_type))
    }

    /// The body as text for the ledger, if it is at most [`MAX_RECORDED_BODY_BYTES`]; larger
    /// bodies are represented by their digest only.
    pub fn recordable_body(&self) -> Option<&str> {
        if self.body.len() > MAX_RECORDED_BODY_BYTES {
            return None;
        }
        // `parse` read the body as JSON, which is UTF-8, so this does not fail.
        std::str::from_utf8(&self.body).ok()
    }
}

impl Delivery {
    /// The `WebhookReceived` event that records the delivery
    /// (docs/reference/events.md#webhook-events): the event types and their timestamps (the first
    /// [`MAX_RECORDED_EVENTS`]), the body's digest, and the body itself only when it is at most
    /// 4 KiB. The ledger clock's `recorded_at` and the actor `webhook:<system>` are the entry's
    /// envelope.
    pub fn record(&self, system: SystemId) -> Event {
        Event::WebhookReceived {
            system,
            body_sha256: self.body_sha256,
            body_bytes: self.body.len() as u64,
            signed_at: self.signed_at,
            event_count: self.events.len() as u64,
            events: self
                .events
                .iter()
                .take(MAX_RECORDED_EVENTS)
                .map(|event| DeliveredEvent {
                    event_type: event.event_type.clone(),
                    timestamp: event.timestamp,
                })
                .collect(),
            body: self.recordable_body().map(str::to_owned),
            starts_sync: self.starts_sync(),
        }
    }
}

/// The body is left out: it can be a mebibyte, and its digest identifies it.
impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("received_at", &self.received_at)
            .field("signed_at", &self.signed_at)
            .field("body_sha256", &self.body_sha256)
            .field("body_bytes", &self.body.len())
            .field("events", &self.events)
            .finish()
    }
}

fn event(element: Value) -> Result<WebhookEvent, &'static str> {
    let Value::Object(mut fields) = element else {
        return Err("it is not an object");
    };
    let Some(Value::String(event_type)) = fields.remove("type") else {
        return Err("it has no text `type`");
    };
    let text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    Ok(WebhookEvent {
        event_type,
        timestamp: text(fields.remove("timestamp")).and_then(|text| text.parse().ok()),
        tailnet: text(fields.remove("tailnet")),
        message: text(fields.remove("message")),
        data: fields.remove("data").unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn parse(body: &str) -> Result<Delivery, DeliveryError> {
        Delivery::parse(
            body.as_bytes().to_vec(),
            at("2026-06-02T10:00:02Z"),
            at("2026-06-02T10:00:03Z"),
        )
    }

    #[test]
    fn reads_events_with_data_of_any_shape_and_unknown_types() {
        let body = r#"[
            {"timestamp":"2026-06-02T10:00:01.123456789Z","version":1,"type":"userRoleUpdated","tailnet":"e.com","message":"m",
             "data":{"user":"a@e.com","oldRoles":["member"],"newRoles":["admin"],"url":"https://x"}},
            {"timestamp":"2026-06-02T10:00:01Z","version":1,"type":"nodeCreated","tailnet":"e.com","message":"m",
             "data":{"nodeID":"n1","deviceName":"laptop"}},
            {"timestamp":"not a time","type":"somethingNew","data":"a plain string"},
            {"type":"userDeleted"}
        ]"#;
        let delivery = parse(body).unwrap();
        assert_eq!(delivery.body_sha256, Hash256::of(body.as_bytes()));
        let types: Vec<_> = delivery
            .events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "userRoleUpdated",
                "nodeCreated",
                "somethingNew",
                "userDeleted"
            ]
        );
        let role = &delivery.events[0];
        assert_eq!(role.timestamp, Some(at("2026-06-02T10:00:01.123456Z")));
        assert_eq!(role.data["newRoles"], json!(["admin"]));
        assert_eq!(role.tailnet.as_deref(), Some("e.com"));
        assert_eq!(delivery.events[2].timestamp, None);
        assert_eq!(delivery.events[2].data, json!("a plain string"));
        assert_eq!(delivery.events[3].data, Value::Null);
        assert!(delivery.starts_sync());
        let Event::WebhookReceived {
            system,
            body_sha256,
            body_bytes,
            signed_at,
            event_count,
            events,
            body: recorded_body,
            starts_sync,
        } = delivery.record(SystemId::tailscale())
        else {
            panic!("a delivery is recorded as WebhookReceived");
        };
        assert_eq!(system, SystemId::tailscale());
        assert_eq!(body_sha256, delivery.body_sha256);
        assert_eq!(body_bytes, body.len() as u64);
        assert_eq!(signed_at, at("2026-06-02T10:00:02Z"));
        assert_eq!(event_count, 4);
        assert_eq!(recorded_body.as_deref(), Some(body));
        assert!(starts_sync);
        assert_eq!(
            events[1],
            DeliveredEvent {
                event_type: "nodeCreated".to_owned(),
                timestamp: Some(at("2026-06-02T10:00:01Z")),
            }
        );
        assert_eq!(events[2].timestamp, None);
    }

    #[test]
    fn a_delivery_of_many_events_lists_the_first_of_them_and_counts_all() {
        let body = format!(
            "[{}]",
            vec![r#"{"type":"test"}"#; MAX_RECORDED_EVENTS + 5].join(",")
        );
        let Event::WebhookReceived {
            event_count,
            events,
            ..
        } = parse(&body).unwrap().record(SystemId::tailscale())
        else {
            panic!("a delivery is recorded as WebhookReceived");
        };
        assert_eq!(event_count, MAX_RECORDED_EVENTS as u64 + 5);
        assert_eq!(events.len(), MAX_RECORDED_EVENTS);
    }

    #[test]
    fn only_user_and_device_events_start_a_sync() {
        for event_type in USER_EVENT_TYPES.iter().chain(&DEVICE_EVENT_TYPES) {
            let delivery = parse(&format!(r#"[{{"type":"{event_type}"}}]"#)).unwrap();
            assert!(delivery.starts_sync(), "{event_type}");
        }
        for event_type in [
            "test",
            "policyUpdate",
            "nodeKeyExpired",
            "webhookUpdated",
            "userdeleted",
            "",
        ] {
            let delivery = parse(&format!(r#"[{{"type":"{event_type}"}}]"#)).unwrap();
            assert!(!delivery.starts_sync(), "{event_type}");
        }
        assert!(!parse("[]").unwrap().starts_sync());
    }

    #[test]
    fn registration_subscribes_to_what_starts_a_sync_and_tailscale_offers() {
        for event_type in REGISTERED_SUBSCRIPTIONS {
            assert!(starts_sync(event_type), "{event_type}");
            assert!(
                crate::simulator::SUBSCRIPTIONS.contains(&event_type),
                "{event_type} is no subscription of Tailscale's API"
            );
        }
        for event_type in USER_EVENT_TYPES {
            assert!(
                REGISTERED_SUBSCRIPTIONS.contains(&event_type),
                "{event_type}"
            );
        }
    }

    #[test]
    fn a_body_that_is_not_an_array_of_events_is_refused() {
        for body in ["", "{", r#"{"type":"test"}"#, "null", "\"[]\"", "[1] x"] {
            assert!(
                matches!(
                    parse(body),
                    Err(DeliveryError::NotJson(_) | DeliveryError::NotAnArray)
                ),
                "{body:?}"
            );
        }
        for body in [
            "[1]",
            r#"[{"type":"test"}, "x"]"#,
            r#"[{"kind":"test"}]"#,
            r#"[{"type":7}]"#,
        ] {
            assert!(
                matches!(parse(body), Err(DeliveryError::NotAnEvent { .. })),
                "{body:?}"
            );
        }
    }

    #[test]
    fn only_small_bodies_are_recorded_verbatim() {
        let event = r#"{"type":"test","data":{"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"#;
        let mut body = String::from("[");
        while body.len() + event.len() + 2 <= MAX_RECORDED_BODY_BYTES {
            if body.len() > 1 {
                body.push(',');
            }
            body.push_str(event);
        }
        body.push(']');
        let padding = MAX_RECORDED_BODY_BYTES - body.len();
        let exact = format!("{}{}", " ".repeat(padding), body);
        assert_eq!(exact.len(), MAX_RECORDED_BODY_BYTES);
        assert_eq!(
            parse(&exact).unwrap().recordable_body(),
            Some(exact.as_str())
        );
        let over = format!(" {exact}");
        assert_eq!(parse(&over).unwrap().recordable_body(), None);
        let debug = format!("{:?}", parse(&over).unwrap());
        assert!(
            debug.contains("body_bytes: 4097") && !debug.contains(r#"[{"type""#),
            "{debug}"
        );
    }
}
