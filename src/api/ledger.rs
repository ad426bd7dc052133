//! `tailledger.v1.LedgerService`: the read API. A handler parses the request, calls the
//! service, and converts the answer.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::auth::{Role, caller};
use super::convert::{self, as_of_arg, required, system_arg, timestamp, timestamp_arg};
use super::errors::invalid_argument;
use super::page;
use super::pb::ledger_service_server::LedgerService;
use super::pb::{self};
use super::stream::{self, EventStream};
use super::timeline::{timeline_response, window_args};
use crate::service::{ReviewReader, Service};

/// The largest page `ListEvents` returns.
const MAX_PAGE: u32 = 1_000;
const DEFAULT_PAGE: u32 = 100;

pub struct LedgerApi {
    pub service: Arc<Service>,
    pub stopping: watch::Receiver<bool>,
}

/// Whose reviews the caller may read: a `reviewer` token only its own.
fn review_reader<T>(request: &Request<T>) -> Result<ReviewReader, Status> {
    let caller = caller(request)?;
    Ok(match caller.role {
        // The configuration gives every reviewer token an employee.
        Role::Reviewer => ReviewReader::Reviewer {
            token: caller.name,
            employee_id: caller.employee_id.unwrap_or_default(),
        },
        Role::Auditor | Role::Admin => ReviewReader::Anyone,
    })
}

#[tonic::async_trait]
impl LedgerService for LedgerApi {
    async fn get_access_review(
        &self,
        request: Request<pb::GetAccessReviewRequest>,
    ) -> Result<Response<pb::GetAccessReviewResponse>, Status> {
        let reader = review_reader(&request)?;
        let review_id = required("review_id", &request.into_inner().review_id)?;
        let view = self.service.access_review(review_id, reader).await?;
        Ok(Response::new(pb::GetAccessReviewResponse {
            review: Some(convert::access_review(&view, true)),
        }))
    }

    async fn list_access_reviews(
        &self,
        request: Request<pb::ListAccessReviewsRequest>,
    ) -> Result<Response<pb::ListAccessReviewsResponse>, Status> {
        let reader = review_reader(&request)?;
        let system = system_arg(&self.service, &request.into_inner().system)?;
        let views = self.service.access_reviews(system, reader, None).await?;
        Ok(Response::new(pb::ListAccessReviewsResponse {
            reviews: views
                .iter()
                .map(|view| convert::access_review(view, false))
                .collect(),
        }))
    }

    async fn list_exceptions(
        &self,
        request: Request<pb::ListExceptionsRequest>,
    ) -> Result<Response<pb::ListExceptionsResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let as_of = as_of_arg(request.as_of, &request.as_of_date)?;
        let exceptions = self.service.exceptions(system, as_of).await?;
        Ok(Response::new(pb::ListExceptionsResponse {
            exceptions: exceptions.iter().map(convert::exception).collect(),
        }))
    }

    async fn get_status(
        &self,
        request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::GetStatusResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let as_of = as_of_arg(request.as_of, &request.as_of_date)?;
        let report = self.service.status(system, as_of).await?;
        Ok(Response::new(convert::status_response(&report)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let as_of = as_of_arg(request.as_of, &request.as_of_date)?;
        let as_of = self.service.checked_as_of(as_of).await?;
        let limit = page::page_size(request.page_size)?;
        let scope = format!("accounts {system} {}", request.include_removed);
        let cursor = page::cursor(&request.page_token, &scope, as_of, || self.service.now())?;
        let accounts = self
            .service
            .accounts(
                system,
                cursor.at,
                request.include_removed,
                cursor.after,
                limit,
            )
            .await?;
        let (accounts, next_page_token) = page::fill(
            &accounts.items,
            accounts.more,
            &scope,
            cursor.at,
            |view| &view.account.snapshot.id,
            convert::account,
        );
        Ok(Response::new(pb::ListAccountsResponse {
            accounts,
            next_page_token,
        }))
    }

    async fn list_employees(
        &self,
        request: Request<pb::ListEmployeesRequest>,
    ) -> Result<Response<pb::ListEmployeesResponse>, Status> {
        let request = request.into_inner();
        let as_of = as_of_arg(request.as_of, &request.as_of_date)?;
        let as_of = self.service.checked_as_of(as_of).await?;
        let limit = page::page_size(request.page_size)?;
        let cursor = page::cursor(&request.page_token, "employees", as_of, || {
            self.service.now()
        })?;
        let employees = self
            .service
            .employees(cursor.at, cursor.after, limit)
            .await?;
        let (employees, next_page_token) = page::fill(
            &employees.items,
            employees.more,
            "employees",
            cursor.at,
            |employee| &employee.record.employee_id,
            |employee| convert::employee_view(employee, cursor.at),
        );
        Ok(Response::new(pb::ListEmployeesResponse {
            employees,
            next_page_token,
        }))
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Result<Response<pb::GetHistoryResponse>, Status> {
        let request = request.into_inner();
        let subject = required("subject", &request.subject)?;
        let from = timestamp_arg("from", request.from)?;
        let to = timestamp_arg("to", request.to)?;
        let entries = self.service.history(subject, from, to).await?;
        Ok(Response::new(pb::GetHistoryResponse {
            events: convert::events(&entries),
        }))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let request = request.into_inner();
        let limit = match request.limit {
            0 => DEFAULT_PAGE,
            limit if limit <= MAX_PAGE => limit,
            limit => {
                return Err(invalid_argument(
                    "limit",
                    &format!("must be at most {MAX_PAGE}, not {limit}"),
                ));
            }
        };
        let page = self
            .service
            .events(request.after_seq, limit as usize)
            .await?;
        Ok(Response::new(pb::ListEventsResponse {
            next_after_seq: page.next_after_seq,
            events: convert::events(&page.entries),
        }))
    }

    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let request = request.into_inner();
        Ok(Response::new(stream::start(
            self.service.clone(),
            request.after_seq,
            request.follow,
            self.stopping.clone(),
        )))
    }

    async fn get_digest(
        &self,
        _request: Request<pb::GetDigestRequest>,
    ) -> Result<Response<pb::GetDigestResponse>, Status> {
        let digest = self.service.digest().await?;
        let recorded_at = digest.map(|(_, recorded_at)| timestamp(recorded_at));
        let (seq, hash) = convert::digest_parts(digest.map(|(head, _)| head));
        Ok(Response::new(pb::GetDigestResponse {
            seq,
            hash,
            recorded_at,
            timezone: self.service.timezone().name().to_owned(),
        }))
    }

    async fn verify_ledger(
        &self,
        _request: Request<pb::VerifyLedgerRequest>,
    ) -> Result<Response<pb::VerifyLedgerResponse>, Status> {
        let report = self.service.verify().await?;
        Ok(Response::new(pb::VerifyLedgerResponse {
            ok: report.is_ok(),
            events_checked: report.events_checked,
            first_bad_seq: report.broken.as_ref().map_or(0, |broken| broken.seq),
            detail: report
                .broken
                .map(|broken| broken.fault.to_string())
                .unwrap_or_default(),
        }))
    }

    async fn get_offboarding_report(
        &self,
        request: Request<pb::GetOffboardingReportRequest>,
    ) -> Result<Response<pb::GetOffboardingReportResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let from = timestamp_arg("from", request.from)?;
        let to = timestamp_arg("to", request.to)?;
        let rows = self.service.offboarding_report(system, from, to).await?;
        Ok(Response::new(pb::GetOffboardingReportResponse {
            rows: rows.iter().map(convert::offboarding_row).collect(),
        }))
    }

    async fn get_check_timeline(
        &self,
        request: Request<pb::GetCheckTimelineRequest>,
    ) -> Result<Response<pb::GetCheckTimelineResponse>, Status> {
        let request = request.into_inner();
        let system = system_arg(&self.service, &request.system)?;
        let (from, to) = window_args(&request)?;
        let timeline = self.service.timeline(system, from, to).await?;
        Ok(Response::new(timeline_response(&timeline)))
    }

    async fn get_checkpoint(
        &self,
        _request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::GetCheckpointResponse>, Status> {
        let signed = self.service.checkpoint(None).await?;
        Ok(Response::new(pb::GetCheckpointResponse {
            checkpoint: signed.note,
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<pb::GetInclusionProofRequest>,
    ) -> Result<Response<pb::GetInclusionProofResponse>, Status> {
        let request = request.into_inner();
        let proof = self
            .service
            .inclusion_proof(request.seq, request.tree_size)
            .await?;
        Ok(Response::new(pb::GetInclusionProofResponse {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            leaf_hash: proof.leaf_hash.to_string(),
            hashes: convert::hex_hashes(&proof.hashes),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<pb::GetConsistencyProofRequest>,
    ) -> Result<Response<pb::GetConsistencyProofResponse>, Status> {
        let request = request.into_inner();
        let hashes = self
            .service
            .consistency_proof(request.from_size, request.to_size)
            .await?;
        Ok(Response::new(pb::GetConsistencyProofResponse {
            from_size: request.from_size,
            to_size: request.to_size,
            hashes: convert::hex_hashes(&hashes),
        }))
    }
}
