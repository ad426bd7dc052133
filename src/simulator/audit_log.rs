//! The simulated tailnet's configuration audit log (docs/reference/sync.md#devices-keys): an entry
//! in Tailscale's shape for each change the simulator makes to a user, device or key, served by
//! `GET /logging/configuration?start=&end=` for the entries whose `eventTime` lies in between.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::server::{error, refusal};
use super::{SimulatedTailnet, State as TailnetState};
use crate::time::Timestamp;

/// Who the simulator's changes are made by in its audit log.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditActor {
    pub id: String,
    pub login_name: String,
}

impl Default for AuditActor {
    fn default() -> Self {
        AuditActor {
            id: "uSimAdminCNTRL".to_owned(),
            login_name: "admin@simulated.example".to_owned(),
        }
    }
}

impl SimulatedTailnet {
    /// Makes the simulator's later changes in the name of `actor`.
    pub fn set_audit_actor(&self, actor: AuditActor) {
        self.lock().audit_actor = actor;
    }

    /// The audit log's entries so far, oldest first.
    pub fn audit_log(&self) -> Vec<Value> {
        self.lock().audit_log.clone()
    }
}

/// Appends the entry for `action` on a target of `target_type`, made now (by the clock webhook
/// deliveries are stamped with) by the current actor.
pub(super) fn record(
    state: &mut TailnetState,
    target_type: &str,
    id: &str,
    name: &str,
    action: &str,
) {
    let group = format!("{:032x}", state.audit_log.len() + 1);
    let actor = &state.audit_actor;
    let entry = json!({
        "eventTime": state.webhooks.now().to_string(),
        "type": "CONFIG",
        "deferredAt": "0001-01-01T00:00:00Z",
        "eventGroupID": group,
        "origin": "ADMIN_CONSOLE",
        "actor": { "id": actor.id, "type": "USER", "loginName": actor.login_name, "displayName": "" },
        "target": { "id": id, "name": name, "type": target_type, "isEphemeral": false },
        "action": action,
    });
    state.audit_log.push(entry);
}

#[derive(Deserialize)]
pub(super) struct Window {
    start: Option<String>,
    end: Option<String>,
}

pub(super) async fn read(
    State(tailnet): State<SimulatedTailnet>,
    Path(name): Path<String>,
    Query(window): Query<Window>,
    headers: HeaderMap,
) -> Response {
    let state = tailnet.lock();
    if let Some(refusal) = refusal(&state, &headers, &name) {
        return refusal;
    }
    let parse = |text: Option<&String>| text.and_then(|text| text.parse::<Timestamp>().ok());
    let (Some(start), Some(end)) = (parse(window.start.as_ref()), parse(window.end.as_ref()))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "start and end are required RFC 3339 times",
        );
    };
    let logs: Vec<&Value> = state
        .audit_log
        .iter()
        .filter(|entry| {
            entry["eventTime"]
                .as_str()
                .and_then(|text| text.parse::<Timestamp>().ok())
                .is_some_and(|at| start <= at && at <= end)
        })
        .collect();
    Json(json!({ "version": "1.1", "tailnet": state.tailnet_id, "logs": logs })).into_response()
}
