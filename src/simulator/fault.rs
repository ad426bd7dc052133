//! Faults the simulated API can be told to produce, and the queue that hands them out.
//!
//! A fault is armed for the next N requests, to any endpoint or to one, so a test can script
//! "two 503s, then success" and assert how the client copes, without timing tricks.

use std::collections::VecDeque;
use std::time::Duration;

/// The endpoints the simulator serves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Endpoint {
    /// `POST /api/v2/oauth/token`.
    OauthToken,
    /// `GET /api/v2/tailnet/{tailnet}/users`.
    Users,
    /// `GET /api/v2/tailnet/{tailnet}/keys/{keyId}`.
    Key,
    /// `GET /api/v2/tailnet/{tailnet}/devices`.
    Devices,
    /// `GET /api/v2/tailnet/{tailnet}/keys`.
    Keys,
    /// `GET /api/v2/tailnet/{tailnet}/logging/configuration`.
    AuditLog,
}

impl Endpoint {
    /// The endpoint a request path belongs to, if any.
    pub(crate) fn of_path(path: &str) -> Option<Self> {
        if path == "/api/v2/oauth/token" {
            return Some(Endpoint::OauthToken);
        }
        let rest = path.strip_prefix("/api/v2/tailnet/")?;
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [_, "users"] => Some(Endpoint::Users),
            [_, "keys", _] => Some(Endpoint::Key),
            [_, "devices"] => Some(Endpoint::Devices),
            [_, "keys"] => Some(Endpoint::Keys),
            [_, "logging", "configuration"] => Some(Endpoint::AuditLog),
            _ => None,
        }
    }
}

/// What the simulator does instead of (or to) its normal answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Answer with this status and `{"message": message}`.
    Status { status: u16, message: String },
    /// Answer 429, with `Retry-After: <seconds>` when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// Wait this long before answering normally (longer than the client's timeout, typically).
    Delay(Duration),
    /// Answer normally, but with only the first half of the body.
    TruncatedBody,
    /// Answer normally, but send the body 8 bytes at a time, waiting this long before each.
    Trickle { chunk_delay: Duration },
    /// Answer 200 with this body as `application/json`, whatever it is.
    Body(String),
    /// Answer 200 with a body that never ends (spaces, as long as the client reads).
    EndlessBody,
}

impl Fault {
    /// A 200 whose body is not JSON at all.
    pub fn invalid_json() -> Self {
        Fault::Body("{\"users\": [ this is not json".to_owned())
    }

    /// The 403 Tailscale answers when the credential lacks `scope`.
    pub fn missing_scope(scope: &str) -> Self {
        Fault::Status {
            status: 403,
            message: format!(
                "calling actor does not have enough permissions to perform this function (needs {scope})"
            ),
        }
    }

    /// A 200 with an empty users list.
    pub fn empty_users() -> Self {
        Fault::Body("{\"users\":[]}".to_owned())
    }
}

/// Armed faults, in the order they were armed.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    armed: VecDeque<Armed>,
}

#[derive(Debug)]
struct Armed {
    endpoint: Option<Endpoint>,
    fault: Fault,
    remaining: usize,
}

impl FaultQueue {
    pub(crate) fn arm(&mut self, endpoint: Option<Endpoint>, fault: Fault, times: usize) {
        if times > 0 {
            self.armed.push_back(Armed {
                endpoint,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn clear(&mut self) {
        self.armed.clear();
    }

    /// The fault for a request to `endpoint`: the oldest armed one that applies, used up once.
    pub(crate) fn take(&mut self, endpoint: Option<Endpoint>) -> Option<Fault> {
        let index = self
            .armed
            .iter()
            .position(|armed| armed.endpoint.is_none() || armed.endpoint == endpoint)?;
        let armed = &mut self.armed[index];
        armed.remaining -= 1;
        let fault = armed.fault.clone();
        if armed.remaining == 0 {
            self.armed.remove(index);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        assert_eq!(
            Endpoint::of_path("/api/v2/oauth/token"),
            Some(Endpoint::OauthToken)
        );
        assert_eq!(
            Endpoint::of_path("/api/v2/tailnet/-/users"),
            Some(Endpoint::Users)
        );
        assert_eq!(
            Endpoint::of_path("/api/v2/tailnet/-/keys/k1"),
            Some(Endpoint::Key)
        );
        assert_eq!(
            Endpoint::of_path("/api/v2/tailnet/-/devices"),
            Some(Endpoint::Devices)
        );
        assert_eq!(
            Endpoint::of_path("/api/v2/tailnet/-/keys"),
            Some(Endpoint::Keys)
        );
        assert_eq!(Endpoint::of_path("/api/v2/tailnet/-/acl"), None);
    }

    #[test]
    fn faults_are_used_up_in_order_and_per_endpoint() {
        let mut queue = FaultQueue::default();
        queue.arm(Some(Endpoint::Users), Fault::TruncatedBody, 1);
        queue.arm(None, Fault::invalid_json(), 2);
        assert_eq!(queue.take(Some(Endpoint::Key)), Some(Fault::invalid_json()));
        assert_eq!(
            queue.take(Some(Endpoint::Users)),
            Some(Fault::TruncatedBody)
        );
        assert_eq!(
            queue.take(Some(Endpoint::Users)),
            Some(Fault::invalid_json())
        );
        assert_eq!(queue.take(Some(Endpoint::Users)), None);
    }
}
