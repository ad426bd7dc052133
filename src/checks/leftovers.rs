//! The check `offboarded-leftovers-removed` and the integration check's missing coverage
//! (docs/reference/checks.md#offboarded-leftovers-removed): what a leaver leaves behind once their
//! account is gone.
//!
//! A device is the person's by the login name in its `user` (the user who registered it), a key
//! by its `userId` (an account id); either is resolved to an account the ledger has seen, and
//! through it to an employee as every other check links them. A tagged device is never counted
//! as the person's access (the tags own it), only as something they left behind; a device
//! whose `user` names no account the ledger has seen (Tailscale may send a placeholder for
//! tagged devices) cannot be tied to anyone and is not reported here.

use super::{CheckState, Context, Finding, Reason, Subject, evidence};
use crate::event::DeviceSnapshot;
use crate::projection::{AccountState, Mark};
use crate::time::Timestamp;

/// What a finding of this check is about: a device or a key, in words and by id.
struct Leftover<'a> {
    reason: Reason,
    /// The item in words, e.g. "the tagged device ci-runner (tag:ci)".
    words: String,
    /// How it is the account's, e.g. "registered by".
    made: &'static str,
    /// What is still true of it, e.g. "still exists".
    still: &'static str,
    /// What must be done, e.g. "removed".
    remedy: &'static str,
    device_id: Option<&'a str>,
    key_id: Option<&'a str>,
    present_since: Mark,
    last_change: Mark,
}

impl<'a> Context<'a> {
    pub(super) fn offboarded_leftovers_removed(&self) -> Vec<Finding> {
        let leftovers = &self.state.leftovers;
        let devices = leftovers.present_devices().filter_map(|state| {
            let device = &state.device;
            let account = self.registered_by(device)?;
            let words = if device.tags.is_empty() {
                format!("the device {}", device.name.escape_debug())
            } else {
                format!(
                    "the tagged device {} ({})",
                    device.name.escape_debug(),
                    device.tags.join(" ").escape_debug()
                )
            };
            let leftover = Leftover {
                reason: Reason::DeviceRetained,
                words,
                made: "registered by",
                still: "still exists",
                remedy: "deleted",
                device_id: Some(&device.id),
                key_id: None,
                present_since: state.present_since,
                last_change: state.last_change,
            };
            self.leftover_finding(account, leftover)
        });
        let keys = leftovers
            .present_keys()
            .filter(|state| state.is_valid(self.now))
            .filter_map(|state| {
                let key = &state.key;
                let account = self.state.accounts.get(&key.user_id)?;
                let reusable = if key.reusable { "reusable " } else { "" };
                let leftover = Leftover {
                    reason: Reason::KeyRetained,
                    words: format!(
                        "the {reusable}{} key {} ({})",
                        key.key_type.escape_debug(),
                        key.id.escape_debug(),
                        key.description.escape_debug()
                    ),
                    made: "created by",
                    still: "is still valid",
                    remedy: "revoked",
                    device_id: None,
                    key_id: Some(&key.id),
                    present_since: state.present_since,
                    last_change: state.last_change,
                };
                self.leftover_finding(account, leftover)
            });
        devices.chain(keys).collect()
    }

    /// The account that registered a device: the one with the login name in its `user`. Should
    /// an account removed and a new one share it, the one with the greatest id.
    fn registered_by(&self, device: &DeviceSnapshot) -> Option<&'a AccountState> {
        self.state.accounts_with_login(&device.user).next_back()
    }

    /// The instants at which time alone changes what this check says: for each device or key
    /// tied to a leaver, the offboarding taking effect (`DUE`) and its grace running out
    /// (`FAILING`), whether or not the account still has access; and each such key's expiry,
    /// after which it no longer counts.
    pub(super) fn leftover_changes(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let leftovers = &self.state.leftovers;
        let device_owners = leftovers
            .present_devices()
            .filter_map(|state| self.registered_by(&state.device))
            .map(|account| (account, None));
        let key_owners = leftovers.present_keys().filter_map(|state| {
            let account = self.state.accounts.get(&state.key.user_id)?;
            Some((account, state.key.expires))
        });
        device_owners
            .chain(key_owners)
            .filter_map(|(account, expires)| {
                let offboarding = self.employee_of(account)?.employee.offboarding.as_ref()?;
                let deadline = self.offboarding_deadline(offboarding.effective_at);
                Some([
                    Some(offboarding.effective_at),
                    Some(super::just_after(deadline)),
                    expires,
                ])
            })
            .flatten()
            .flatten()
    }

    /// The finding for something `account` left behind, if its employee's offboarding has
    /// taken effect: `DUE` within the grace period, `FAILING` after it.
    fn leftover_finding(&self, account: &AccountState, leftover: Leftover<'_>) -> Option<Finding> {
        let link = self.employee_of(account)?;
        let offboarding = link.employee.offboarding.as_ref()?;
        if offboarding.effective_at > self.now {
            return None;
        }
        let deadline = self.offboarding_deadline(offboarding.effective_at);
        let (state, since) = if self.now > deadline {
            (CheckState::Failing, deadline)
        } else {
            (CheckState::Due, offboarding.effective_at)
        };
        Some(Finding {
            state,
            reason: leftover.reason,
            message: format!(
                "{}, {} {}, {} on {} although {} left at {}; it must be {} by {}",
                leftover.words,
                leftover.made,
                account.snapshot.login_name,
                leftover.still,
                self.system,
                super::other_name(
                    &account.snapshot.login_name,
                    &link.employee.record.employee_id
                )
                .unwrap_or("they"),
                offboarding.effective_at,
                leftover.remedy,
                deadline
            ),
            subject: Subject {
                device_id: leftover.device_id.map(str::to_owned),
                key_id: leftover.key_id.map(str::to_owned),
                ..self.subject(Some(account), Some(link.employee))
            },
            since,
            deadline: Some(deadline),
            exception_id: None,
            evidence: evidence(
                [
                    offboarding.recorded.seq,
                    leftover.present_since.seq,
                    leftover.last_change.seq,
                ]
                .into_iter()
                .chain(link.manual_since.map(|mark| mark.seq))
                .chain(self.state.last_completed_sync.map(|mark| mark.seq)),
            ),
        })
    }

    /// The parts of the listing the latest syncs could not read: until they can, the leftovers
    /// check does not see them.
    pub(super) fn coverage_missing(&self) -> impl Iterator<Item = Finding> + '_ {
        self.state
            .leftovers
            .missing
            .iter()
            .map(|(coverage, missing)| Finding {
                state: CheckState::Failing,
                reason: Reason::CoverageMissing,
                message: format!(
                    "the {coverage} of {} could not be listed in sync {} ({}): {}; offboarded-leftovers-removed cannot see them until they can (the credential needs {})",
                    self.system,
                    missing.sync_id,
                    missing.failed.error_class,
                    missing.failed.message,
                    coverage.scope()
                ),
                subject: self.subject(None, None),
                since: missing.failed.mark.at,
                deadline: None,
                exception_id: None,
                evidence: evidence([missing.failed.mark.seq]),
            })
    }
}
