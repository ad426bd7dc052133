//! `tailledger.v1.AdminService`: the write API. Each call appends at most one batch, recorded by
//! `api:<token name>`, and returns it. A handler parses the request, calls the service, and
//! converts the answer; the service decides.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{
    self, classification_arg, duration_arg, employee_arg, required, system_arg, timestamp_arg,
};
use super::errors::invalid_argument;
use super::page;
use super::pb::admin_service_server::AdminService;
use super::pb::{self};
use crate::commands::ExceptionRequest;
use crate::commands::review::{DecisionInput, Reviewer, StartReview};
use crate::event::Actor;
use crate::service::Service;

pub struct AdminApi {
    pub service: Arc<Service>,
}

fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    Ok(Actor::Api(caller(request)?.name))
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn start_access_review(
        &self,
        request: Request<pb::StartAccessReviewRequest>,
    ) -> Result<Response<pb::StartAccessReviewResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let due_at = timestamp_arg("due_at", request.due_at)?
            .ok_or_else(|| invalid_argument("due_at", "is required"))?;
        let scope = convert::review_scope_arg(&request.scope)?;
        let entries = self
            .service
            .start_access_review(
                actor,
                StartReview {
                    system,
                    scope,
                    reviewers: request.reviewer_employee_ids,
                    due_at,
                },
            )
            .await?;
        Ok(Response::new(pb::StartAccessReviewResponse {
            review_id: crate::service::started_review_id(&entries),
            events: convert::events(&entries),
        }))
    }

    async fn decide_access_review(
        &self,
        request: Request<pb::DecideAccessReviewRequest>,
    ) -> Result<Response<pb::DecideAccessReviewResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let lone = [
            &request.account_id,
            &request.decision,
            &request.reason,
            &request.new_role,
        ]
        .iter()
        .any(|field| !field.is_empty())
        .then_some(DecisionInput {
            account_id: request.account_id,
            decision: request.decision,
            reason: request.reason,
            new_role: request.new_role,
            line: None,
        });
        let decisions = lone
            .into_iter()
            .chain(request.decisions.into_iter().map(|input| DecisionInput {
                account_id: input.account_id,
                decision: input.decision,
                reason: input.reason,
                new_role: input.new_role,
                line: (input.line > 0).then_some(input.line),
            }))
            .collect();
        let entries = self
            .service
            .decide_access_review(
                Actor::Api(caller.name.clone()),
                Reviewer {
                    token: caller.name,
                    employee_id: caller.employee_id,
                },
                request.review_id,
                decisions,
            )
            .await?;
        Ok(Response::new(pb::DecideAccessReviewResponse {
            events: convert::events(&entries),
        }))
    }

    async fn complete_access_review(
        &self,
        request: Request<pb::CompleteAccessReviewRequest>,
    ) -> Result<Response<pb::CompleteAccessReviewResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let entries = self
            .service
            .complete_access_review(actor, request.review_id)
            .await?;
        Ok(Response::new(pb::CompleteAccessReviewResponse {
            events: convert::events(&entries),
        }))
    }

    async fn reassign_access_reviewer(
        &self,
        request: Request<pb::ReassignAccessReviewerRequest>,
    ) -> Result<Response<pb::ReassignAccessReviewerResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let entries = self
            .service
            .reassign_access_reviewer(
                actor,
                request.review_id,
                request.from_employee_id,
                request.to_employee_id,
                request.reason,
            )
            .await?;
        Ok(Response::new(pb::ReassignAccessReviewerResponse {
            events: convert::events(&entries),
        }))
    }

    async fn cancel_access_review(
        &self,
        request: Request<pb::CancelAccessReviewRequest>,
    ) -> Result<Response<pb::CancelAccessReviewResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let entries = self
            .service
            .cancel_access_review(actor, request.review_id, request.reason)
            .await?;
        Ok(Response::new(pb::CancelAccessReviewResponse {
            events: convert::events(&entries),
        }))
    }

    async fn sync_now(
        &self,
        request: Request<pb::SyncNowRequest>,
    ) -> Result<Response<pb::SyncNowResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let cycle = self.service.sync_now(&system).await?;
        let mut response = convert::sync_now_response(&cycle.sync);
        response.roster_events = convert::events(&cycle.roster_appended.entries);
        Ok(Response::new(response))
    }

    async fn set_access_policy(
        &self,
        request: Request<pb::SetAccessPolicyRequest>,
    ) -> Result<Response<pb::SetAccessPolicyResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let grace = duration_arg("offboarding_grace", request.offboarding_grace)?;
        let entries = self
            .service
            .set_access_policy(
                actor,
                system,
                request.allowed_org_roles,
                request.privileged_org_roles,
                grace,
                request.reason,
            )
            .await?;
        Ok(Response::new(pb::SetAccessPolicyResponse {
            events: convert::events(&entries),
        }))
    }

    async fn link_account(
        &self,
        request: Request<pb::LinkAccountRequest>,
    ) -> Result<Response<pb::LinkAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let entries = self
            .service
            .link_account(
                actor,
                system,
                request.account_id,
                request.employee_id,
                request.reason,
            )
            .await?;
        Ok(Response::new(pb::LinkAccountResponse {
            events: convert::events(&entries),
        }))
    }

    async fn unlink_account(
        &self,
        request: Request<pb::UnlinkAccountRequest>,
    ) -> Result<Response<pb::UnlinkAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let entries = self
            .service
            .unlink_account(
                actor,
                system,
                request.account_id,
                request.employee_id,
                request.reason,
            )
            .await?;
        Ok(Response::new(pb::UnlinkAccountResponse {
            events: convert::events(&entries),
        }))
    }

    async fn classify_account(
        &self,
        request: Request<pb::ClassifyAccountRequest>,
    ) -> Result<Response<pb::ClassifyAccountResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let classification = classification_arg(&request.classification)?;
        let entries = self
            .service
            .classify_account(
                actor,
                system,
                request.account_id,
                classification,
                request.owner_employee_id,
                request.reason,
            )
            .await?;
        Ok(Response::new(pb::ClassifyAccountResponse {
            events: convert::events(&entries),
        }))
    }

    async fn upsert_employee(
        &self,
        request: Request<pb::UpsertEmployeeRequest>,
    ) -> Result<Response<pb::UpsertEmployeeResponse>, Status> {
        let actor = actor(&request)?;
        let record = employee_arg(request.into_inner().employee)?;
        let entries = self.service.upsert_employee(actor, record).await?;
        Ok(Response::new(pb::UpsertEmployeeResponse {
            events: convert::events(&entries),
        }))
    }

    async fn offboard_employee(
        &self,
        request: Request<pb::OffboardEmployeeRequest>,
    ) -> Result<Response<pb::OffboardEmployeeResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let employee_id = required("employee_id", &request.employee_id)?;
        let effective_at = timestamp_arg("effective_at", request.effective_at)?;
        let entries = self
            .service
            .offboard_employee(actor, employee_id, effective_at, request.reason)
            .await?;
        Ok(Response::new(pb::OffboardEmployeeResponse {
            events: convert::events(&entries),
        }))
    }

    async fn confirm_removals(
        &self,
        request: Request<pb::ConfirmRemovalsRequest>,
    ) -> Result<Response<pb::ConfirmRemovalsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let entries = self
            .service
            .confirm_removals(actor, system, request.sync_id, request.reason)
            .await?;
        Ok(Response::new(pb::ConfirmRemovalsResponse {
            events: convert::events(&entries),
        }))
    }

    async fn grant_exception(
        &self,
        request: Request<pb::GrantExceptionRequest>,
    ) -> Result<Response<pb::GrantExceptionResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let expires_at = timestamp_arg("expires_at", request.expires_at)?;
        let entries = self
            .service
            .grant_exception(
                actor,
                ExceptionRequest {
                    system,
                    check_id: request.check_id,
                    account_id: request.account_id,
                    employee_id: request.employee_id,
                    reason: request.reason,
                    evidence_ref: request.evidence_ref,
                    expires_at,
                },
            )
            .await?;
        Ok(Response::new(pb::GrantExceptionResponse {
            exception_id: convert::granted_exception_id(&entries),
            events: convert::events(&entries),
        }))
    }

    async fn revoke_exception(
        &self,
        request: Request<pb::RevokeExceptionRequest>,
    ) -> Result<Response<pb::RevokeExceptionResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let entries = self
            .service
            .revoke_exception(actor, request.exception_id, request.reason)
            .await?;
        Ok(Response::new(pb::RevokeExceptionResponse {
            events: convert::events(&entries),
        }))
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
        let (summary, appended) = self.service.import_roster(actor, csv).await?;
        let (first_seq, last_seq) = appended.seqs().unwrap_or_default();
        Ok(Response::new(pb::ImportRosterResponse {
            onboarded: summary.onboarded,
            updated: summary.updated,
            offboarded: summary.offboarded,
            reinstated: summary.reinstated,
            unchanged: summary.unchanged,
            events: page::bounded(&appended.entries, convert::event),
            first_seq,
            last_seq,
        }))
    }
}
