//! The one place that turns failures into gRPC status codes.
//!
//! `INVALID_ARGUMENT` names the field and why; `NOT_FOUND` names what is unknown; a roster with
//! problems is `INVALID_ARGUMENT` listing every problem; a store failure is `INTERNAL` with the
//! store's own sentence (which never holds a secret).

use tonic::Status;

use crate::commands::CommandError;
use crate::service::ServiceError;
use crate::store::StoreError;

/// A refused argument: `` `field` reason ``.
pub fn invalid_argument(field: &str, reason: &str) -> Status {
    Status::invalid_argument(format!("`{field}` {reason}"))
}

impl From<StoreError> for Status {
    fn from(error: StoreError) -> Self {
        tracing::error!("ledger store failure: {error}");
        Status::internal(format!("the ledger could not be read or written: {error}"))
    }
}

impl From<CommandError> for Status {
    fn from(error: CommandError) -> Self {
        ServiceError::Command(error).into()
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
            ServiceError::Roster(errors) => Status::invalid_argument(errors.to_string()),
            ServiceError::UnknownSystem(system) => invalid_argument(
                "system",
                &format!("`{system}` is not audited here (this service audits `tailscale`)"),
            ),
            error @ ServiceError::NotSyncing(_) => Status::failed_precondition(error.to_string()),
            error @ ServiceError::UnknownSubject(_) => Status::not_found(error.to_string()),
        }
    }
}
