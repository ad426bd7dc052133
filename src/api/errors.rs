//! The one place that turns failures into gRPC status codes.
//!
//! `INVALID_ARGUMENT` names the field and why (a proof's `seq` or sizes outside the tree
//! included); `FAILED_PRECONDITION` a checkpoint asked of a server with no signing key or an
//! empty ledger, and a write or sync refused because the local clock cannot be vouched for
//! (behind the last entry, or off from a source's `Date`); `NOT_FOUND` names what is unknown; a roster with
//! problems is `INVALID_ARGUMENT` listing every problem; an unauthenticated or unauthorised
//! caller is `UNAUTHENTICATED` or `PERMISSION_DENIED`. A store failure says the store's own
//! sentence (which never holds a secret): `DATA_LOSS` for a record or head that no longer
//! decodes, `UNAVAILABLE` for a database that cannot be used or synced right now (the call can
//! be tried again), `INTERNAL` for a batch out of order (a bug).

use tonic::Status;

use super::auth::AuthError;
use crate::commands::CommandError;
use crate::ledger::ProofError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// A refused argument: `` `field` reason ``.
pub fn invalid_argument(field: &str, reason: &str) -> Status {
    Status::invalid_argument(format!("`{field}` {reason}"))
}

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        tracing::error!("ledger store failure: {error}");
        let message = format!("the ledger could not be read or written: {error}");
        match error {
            StoreError::Corrupt { .. }
            | StoreError::Pieces { .. }
            | StoreError::CorruptHead(_)
            | StoreError::HeadRecord { .. }
            | StoreError::Lost(_)
            | StoreError::CorruptTree { .. }
            | StoreError::TreeIncomplete { .. } => Status::data_loss(message),
            StoreError::Locked { .. }
            | StoreError::NotFound { .. }
            | StoreError::Database { .. }
            | StoreError::Io { .. }
            | StoreError::Closed => Status::unavailable(message),
            StoreError::NotContiguous { .. }
            | StoreError::NotStaged { .. }
            | StoreError::ReadOnlyView => Status::internal(message),
        }
    }
}

impl From<CommandError> for Status {
    fn from(error: CommandError) -> Self {
        ServiceError::Command(error).into()
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::PermissionDenied { .. } => Status::permission_denied(error.to_string()),
            AuthError::NotAuthenticated => Status::internal(error.to_string()),
            AuthError::MissingHeader
            | AuthError::NotText
            | AuthError::NotBearer
            | AuthError::UnknownToken => Status::unauthenticated(error.to_string()),
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Store(error) => error.into(),
            ServiceError::Command(CommandError::InvalidArgument { field, reason }) => {
                invalid_argument(field, &reason)
            }
            ServiceError::Command(error @ CommandError::NotFound { .. }) => {
                Status::not_found(error.to_string())
            }
            ServiceError::Command(error @ CommandError::NotAllowed { .. }) => {
                Status::permission_denied(error.to_string())
            }
            ServiceError::Command(error @ CommandError::FailedPrecondition { .. }) => {
                Status::failed_precondition(error.to_string())
            }
            ServiceError::Roster(errors) => Status::invalid_argument(errors.to_string()),
            ServiceError::UnknownSystem(system) => invalid_argument(
                "system",
                &format!("`{system}` is not audited here (this service audits `tailscale`)"),
            ),
            error @ (ServiceError::NotSyncing(_)
            | ServiceError::RosterFile { .. }
            | ServiceError::RosterSource(_)
            | ServiceError::ClockSkew(_)
            | ServiceError::ClockBehind(_)) => Status::failed_precondition(error.to_string()),
            error @ ServiceError::UnknownSubject(_) => Status::not_found(error.to_string()),
            error @ ServiceError::ShuttingDown => Status::unavailable(error.to_string()),
            error @ ServiceError::FutureAsOf { .. } => {
                invalid_argument("as_of", &error.to_string())
            }
            error @ ServiceError::NothingRecorded { .. } => Status::not_found(error.to_string()),
            ServiceError::BadWindow { field, reason } => invalid_argument(field, &reason),
            ServiceError::Proof(ProofError::InvalidArgument { field, reason }) => {
                invalid_argument(field, &reason)
            }
            ServiceError::Proof(ProofError::Store(error)) => error.into(),
            error @ (ServiceError::NoSigningKey
            | ServiceError::EmptyTree
            | ServiceError::NotPublished(_)) => Status::failed_precondition(error.to_string()),
            error @ (ServiceError::Sign(_) | ServiceError::Tile(_)) => {
                Status::internal(error.to_string())
            }
        }
    }
}
