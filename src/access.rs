//! What raw account values mean for access: status classes and privileged roles.
//!
//! Upstream systems report statuses and roles as strings that may grow new values at any time.
//! Events keep them verbatim; this module is the one place that interprets them.

/// The class of an account's status. A change of class is an access change; a change within a
/// class (Tailscale's `active` ↔ `idle`, which only reflects when the user was last seen) is not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// `active` or `idle`: the account can use the network.
    Enabled,
    /// Blocked from the network by an admin or the identity provider.
    Suspended,
    /// Cannot join until an admin approves it.
    NeedsApproval,
    /// Cannot join until the billing seat count is raised.
    OverBillingLimit,
    /// A value this build does not know; each distinct value is its own class.
    Unknown(String),
}

impl StatusClass {
    /// Classifies a raw status (compared case-insensitively).
    pub fn of(raw_status: &str) -> Self {
        // Compared in place: every evaluation classifies every account's status, and a known
        // status needs no lower-cased copy.
        let is = |known: &str| raw_status.eq_ignore_ascii_case(known);
        if is("active") || is("idle") {
            StatusClass::Enabled
        } else if is("suspended") {
            StatusClass::Suspended
        } else if is("needs-approval") {
            StatusClass::NeedsApproval
        } else if is("over-billing-limit") {
            StatusClass::OverBillingLimit
        } else {
            StatusClass::Unknown(raw_status.to_ascii_lowercase())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_and_idle_are_one_class_and_unknown_values_stay_distinct() {
        assert_eq!(StatusClass::of("active"), StatusClass::of("idle"));
        assert_ne!(StatusClass::of("active"), StatusClass::of("suspended"));
        assert_ne!(StatusClass::of("frozen"), StatusClass::of("thawed"));
        assert_eq!(StatusClass::of("Suspended"), StatusClass::Suspended);
    }

    #[test]
    fn each_known_status_is_its_class_in_any_case_and_an_unknown_one_is_kept_lowered() {
        for (raw, class) in [
            ("ACTIVE", StatusClass::Enabled),
            ("Idle", StatusClass::Enabled),
            ("suspended", StatusClass::Suspended),
            ("Needs-Approval", StatusClass::NeedsApproval),
            ("over-billing-LIMIT", StatusClass::OverBillingLimit),
            ("Frozen", StatusClass::Unknown("frozen".to_owned())),
            ("active ", StatusClass::Unknown("active ".to_owned())),
        ] {
            assert_eq!(StatusClass::of(raw), class, "{raw}");
        }
    }
}
