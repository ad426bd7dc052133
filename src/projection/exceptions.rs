//! Exceptions (docs/reference/checks.md#exceptions): an admin's acceptance of one finding — a check
//! and a subject account or employee — with a reason, an optional evidence reference and an expiry,
//! until it expires or is revoked.
//!
//! Kept with their whole lifecycle (granted, expiring, revoked), so the exceptions in force at
//! any instant, and the instants at which one lapses, can be read from the projections.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Mark;
use crate::time::Timestamp;

/// One exception as granted, and its revocation if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionState {
    pub exception_id: String,
    pub system: crate::event::SystemId,
    pub check_id: String,
    pub account_id: Option<String>,
    pub employee_id: Option<String>,
    pub reason: String,
    pub evidence_ref: Option<String>,
    /// When it lapses; `None`: never.
    pub expires_at: Option<Timestamp>,
    /// The entry that granted it.
    pub granted: Mark,
    /// The entry that revoked it, and why.
    pub revoked: Option<(Mark, String)>,
}

impl ExceptionState {
    /// Whether the exception accepts its finding at `at`: granted by then (the projections
    /// hold only what was recorded by the instant they are read as of), not revoked by then,
    /// and not yet expired. An exception expiring at `at` no longer holds at `at`.
    pub fn in_force_at(&self, at: Timestamp) -> bool {
        self.granted.at <= at
            && self.revoked.as_ref().is_none_or(|(mark, _)| mark.at > at)
            && self.expires_at.is_none_or(|expires_at| expires_at > at)
    }

    /// Whether the exception is about a finding of `check_id` with this subject.
    pub fn covers(
        &self,
        check_id: &str,
        account_id: Option<&str>,
        employee_id: Option<&str>,
    ) -> bool {
        self.check_id == check_id
            && match (&self.account_id, &self.employee_id) {
                (Some(account), _) => account_id == Some(account.as_str()),
                (None, Some(employee)) => employee_id == Some(employee.as_str()),
                (None, None) => false,
            }
    }
}

/// Every exception ever granted, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exceptions {
    by_id: BTreeMap<String, ExceptionState>,
}

impl Exceptions {
    pub(super) fn grant(&mut self, exception: ExceptionState) {
        self.by_id.insert(exception.exception_id.clone(), exception);
    }

    pub(super) fn revoke(&mut self, exception_id: &str, mark: Mark, reason: &str) {
        if let Some(exception) = self.by_id.get_mut(exception_id) {
            exception.revoked = Some((mark, reason.to_owned()));
        }
    }

    pub fn get(&self, exception_id: &str) -> Option<&ExceptionState> {
        self.by_id.get(exception_id)
    }

    /// Every exception, in id order of grant (`EX-1`, `EX-2`, … sort by number).
    pub fn all(&self) -> impl Iterator<Item = &ExceptionState> {
        let mut all: Vec<&ExceptionState> = self.by_id.values().collect();
        all.sort_by_key(|exception| exception.granted.seq);
        all.into_iter()
    }

    /// How many exceptions were ever granted: the next one is numbered after them.
    pub fn granted_count(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::SystemId;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH.saturating_add_seconds(seconds)
    }

    fn exception(expires_at: Option<Timestamp>) -> ExceptionState {
        ExceptionState {
            exception_id: "EX-1".to_owned(),
            system: SystemId::tailscale(),
            check_id: "user-identified".to_owned(),
            account_id: Some("u1".to_owned()),
            employee_id: None,
            reason: "contractor".to_owned(),
            evidence_ref: None,
            expires_at,
            granted: Mark { at: at(10), seq: 4 },
            revoked: None,
        }
    }

    #[test]
    fn an_exception_holds_from_its_grant_until_its_expiry_or_revocation() {
        let expiring = exception(Some(at(20)));
        for (instant, holds) in [(9, false), (10, true), (19, true), (20, false), (30, false)] {
            assert_eq!(expiring.in_force_at(at(instant)), holds, "at {instant}");
        }
        let mut revoked = exception(None);
        assert!(revoked.in_force_at(at(1_000_000)));
        revoked.revoked = Some((Mark { at: at(15), seq: 9 }, "done".to_owned()));
        assert!(revoked.in_force_at(at(14)));
        assert!(!revoked.in_force_at(at(15)));
    }

    #[test]
    fn an_exception_covers_its_check_and_subject_only() {
        let on_account = exception(None);
        assert!(on_account.covers("user-identified", Some("u1"), None));
        assert!(!on_account.covers("user-identified", Some("u2"), None));
        assert!(!on_account.covers("user-access-valid", Some("u1"), None));
        let on_employee = ExceptionState {
            account_id: None,
            employee_id: Some("E-1".to_owned()),
            ..exception(None)
        };
        assert!(on_employee.covers("user-identified", Some("u9"), Some("E-1")));
        assert!(!on_employee.covers("user-identified", Some("u9"), None));
        let neither = ExceptionState {
            account_id: None,
            ..exception(None)
        };
        assert!(!neither.covers("user-identified", Some("u1"), None));
    }
}
