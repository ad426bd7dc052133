//! `tailledger.v1.AdminService`: the write API. Each call appends at most one batch, recorded by
//! `api:<token name>`, and returns it.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{
    self, classification_arg, duration_arg, employee_arg, required, timestamp_arg,
};
use super::errors::invalid_argument;
use super::pb::admin_service_server::AdminService;
use super::pb::{self};
use crate::checks::DEFAULT_GRACE_SECONDS;
use crate::commands::{self, CommandError};
use crate::event::Actor;
use crate::service::Service;
use crate::sync::SyncOutcome;

pub struct AdminApi {
    pub service: Arc<Service>,
}

fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::Api(caller(request)?.name))
}

impl AdminApi {
    /// Appends what `decide` returns and answers with the entries.
    fn command(
        &self,
        actor: Actor,
        decide: impl FnOnce(
            &crate::projection::Projections,
        ) -> Result<Vec<crate::event::Event>, CommandError>,
    ) -> Result<Vec<pb::Event>, Status> {
        Ok(convert::events(&self.service.command(actor, decide)?))
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn sync_now(
        &self,
        request: Request<pb::SyncNowRequest>,
    ) -> Result<Response<pb::SyncNowResponse>, Status> {
        let request = request.into_inner();
        let system = self
            .service
            .known_system(&required("system", &request.system)?)?;
        let report = self.service.sync_now(&system).await?;
        let mut response = pb::SyncNowResponse {
            sync_id: report.sync_id,
            events: convert::events(&report.entries),
            ..Default::default()
        };
        match report.outcome {
            SyncOutcome::Completed {
                accounts_observed,
                events_appended,
                anomaly,
            } => {
                response.outcome = "completed".to_owned();
                response.accounts_observed = accounts_observed;
                response.events_appended = events_appended;
                response.anomaly = anomaly;
            }
            SyncOutcome::Failed {
                error_class,
                message,
            } => {
                response.outcome = "failed".to_owned();
                response.error_class = error_class.to_string();
                response.message = message;
            }
        }
        Ok(Response::new(response))
    }

    async fn set_access_policy(
        &self,
        request: Request<pb::SetAccessPolicyRequest>,
    ) -> Result<Response<pb::SetAccessPolicyResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = self
            .service
            .known_system(&required("system", &request.system)?)?;
        let grace = duration_arg(
            "offboarding_grace",
            request.offboarding_grace,
            DEFAULT_GRACE_SECONDS,
        )?;
        let events = self.command(actor, |_| {
            Ok(vec![commands::set_access_policy(
                &system,
                &request.allowed_org_roles,
                &request.privileged_org_roles,
                grace,
                Some(&request.reason),
            )?])
        })?;
        Ok(Response::new(pb::SetAccessPolicyResponse { events }))
    }

    async fn link_account(
        &self,
        request: Request<pb::LinkAccountRequest>,
    ) -> Result<Response<pb::LinkAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = self
            .service
            .known_system(&required("system", &request.system)?)?;
        let events = self.command(actor, |projections| {
            Ok(vec![commands::link_account(
                projections,
                &system,
                &request.account_id,
                &request.employee_id,
                &request.reason,
            )?])
        })?;
        Ok(Response::new(pb::LinkAccountResponse { events }))
    }

    async fn unlink_account(
        &self,
        request: Request<pb::UnlinkAccountRequest>,
    ) -> Result<Response<pb::UnlinkAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = self
            .service
            .known_system(&required("system", &request.system)?)?;
        let expected = request.employee_id.trim().to_owned();
        let events = self.command(actor, |projections| {
            let event = commands::unlink_account(
                projections,
                &system,
                &request.account_id,
                &request.reason,
            )?;
            if let crate::event::Event::AccountUnlinked { employee_id, .. } = &event
                && !expected.is_empty()
                && *employee_id != expected
            {
                return Err(CommandError::InvalidArgument {
                    field: "employee_id",
                    reason: format!(
                        "is `{expected}`, but the account is linked to `{employee_id}`"
                    ),
                });
            }
            Ok(vec![event])
        })?;
        Ok(Response::new(pb::UnlinkAccountResponse { events }))
    }

    async fn classify_account(
        &self,
        request: Request<pb::ClassifyAccountRequest>,
    ) -> Result<Response<pb::ClassifyAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = self
            .service
            .known_system(&required("system", &request.system)?)?;
        let classification = classification_arg(&request.classification)?;
        let events = self.command(actor, |projections| {
            Ok(vec![commands::classify_account(
                projections,
                &system,
                &request.account_id,
                classification,
                Some(&request.owner_employee_id),
                &request.reason,
            )?])
        })?;
        Ok(Response::new(pb::ClassifyAccountResponse { events }))
    }

    async fn upsert_employee(
        &self,
        request: Request<pb::UpsertEmployeeRequest>,
    ) -> Result<Response<pb::UpsertEmployeeResponse>, Status> {
        let actor = actor(&request)?;
        let record = employee_arg(request.into_inner().employee)?;
        let events = self.command(actor, |projections| {
            commands::upsert_employee(projections, record)
        })?;
        Ok(Response::new(pb::UpsertEmployeeResponse { events }))
    }

    async fn offboard_employee(
        &self,
        request: Request<pb::OffboardEmployeeRequest>,
    ) -> Result<Response<pb::OffboardEmployeeResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let employee_id = required("employee_id", &request.employee_id)?;
        let effective_at = timestamp_arg("effective_at", request.effective_at)?
            .unwrap_or_else(|| self.service.now());
        let events = self.command(actor, |projections| {
            commands::offboard_employee(
                projections,
                &employee_id,
                effective_at,
                Some(&request.reason),
            )
        })?;
        Ok(Response::new(pb::OffboardEmployeeResponse { events }))
    }

    async fn import_roster(
        &self,
        request: Request<pb::ImportRosterRequest>,
    ) -> Result<Response<pb::ImportRosterResponse>, Status> {
        let actor = actor(&request)?;
        let csv = request.into_inner().csv;
        if csv.is_empty() {
            return Err(invalid_argument("csv", "must not be empty"));
        }
        let (summary, entries) = self.service.import_roster(actor, &csv)?;
        Ok(Response::new(pb::ImportRosterResponse {
            onboarded: summary.onboarded,
            updated: summary.updated,
            offboarded: summary.offboarded,
            reinstated: summary.reinstated,
            unchanged: summary.unchanged,
            events: convert::events(&entries),
        }))
    }
}
