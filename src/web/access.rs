//! Who may do what in the console: the API's roles (docs/reference/api.md#auth), extended to
//! every page and form. Auditors read everything; reviewers read and decide only their own
//! access reviews; admins do everything. Which reviews a reviewer may read or decide is the
//! service's to say, as for gRPC.

use crate::api::Role;

/// What a page or form needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The ledger's pages: checks, accounts, people, report, exceptions, the ledger, evidence.
    Read,
    /// The access review pages (a reviewer sees only their own reviews).
    Reviews,
    /// Deciding on a review's accounts (a reviewer only on their own reviews, an admin who names
    /// an employee on the reviews of that employee).
    Decide,
    /// Every write but deciding: link, classify, offboard, exceptions, sync, start, complete,
    /// reassign and cancel a review.
    Admin,
}

impl Need {
    /// What it lets one do, for a refusal.
    pub fn what(self) -> &'static str {
        match self {
            Need::Read => "read the ledger's pages",
            Need::Reviews => "read access reviews",
            Need::Decide => "decide access reviews",
            Need::Admin => "change anything",
        }
    }
}

/// What a handler needs, as a type: the parameter of [`Signed`](super::extract::Signed) and
/// [`Posted`](super::extract::Posted).
pub trait Needs: Send + Sync + 'static {
    /// `None`: anyone signed in.
    const NEED: Option<Need>;
}

/// [`Need::Read`] as a type.
pub struct Read;
/// [`Need::Reviews`] as a type.
pub struct Reviews;
/// [`Need::Decide`] as a type.
pub struct Decide;
/// [`Need::Admin`] as a type.
pub struct Admin;
/// Anyone signed in (signing out).
pub struct Anyone;

impl Needs for Read {
    const NEED: Option<Need> = Some(Need::Read);
}
impl Needs for Reviews {
    const NEED: Option<Need> = Some(Need::Reviews);
}
impl Needs for Decide {
    const NEED: Option<Need> = Some(Need::Decide);
}
impl Needs for Admin {
    const NEED: Option<Need> = Some(Need::Admin);
}
impl Needs for Anyone {
    const NEED: Option<Need> = None;
}

/// Whether `role` may do what `need` covers.
pub fn allowed(role: Role, need: Need) -> bool {
    match role {
        Role::Admin => true,
        Role::Auditor => matches!(need, Need::Read | Need::Reviews),
        Role::Reviewer => matches!(need, Need::Reviews | Need::Decide),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_the_apis() {
        use Need::*;
        let table = [
            (Role::Admin, [true, true, true, true]),
            (Role::Auditor, [true, true, false, false]),
            (Role::Reviewer, [false, true, true, false]),
        ];
        for (role, expected) in table {
            let got = [Read, Reviews, Decide, Admin].map(|need| allowed(role, need));
            assert_eq!(got, expected, "{role:?}");
        }
    }
}
