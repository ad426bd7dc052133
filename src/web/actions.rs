//! The admin actions of the pages: link, classify, offboard, grant and revoke an exception, sync
//! now. Each is a [`Posted<Admin>`] form (role, origin and CSRF token checked before it is read),
//! calls the same service operation as gRPC with the actor `web:<token name>`, and answers with
//! the entries it appended.

use axum::extract::{Path, State};
use axum::response::Response;

use super::access::Admin;
use super::extract::Posted;
use super::forms::Fields;
use super::templates::path_segment;
use super::{Shared, WebError};
use crate::commands::ExceptionRequest;
use crate::event::Classification;
use crate::time::Timestamp;

type Form = Posted<Admin>;

/// `POST /accounts/{account_id}/link`: `employee_id`, `reason`.
pub async fn link(
    State(state): State<Shared>,
    Path(account_id): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    let entries = state
        .console
        .service
        .link_account(
            form.actor(),
            state.console.system.clone(),
            account_id.clone(),
            form.fields.required("employee_id")?,
            form.fields.text("reason"),
        )
        .await?;
    Ok(form.appended("Account linked", account_url(&account_id), &entries))
}

/// `POST /accounts/{account_id}/classify`: `classification` (`service`, `external`, `test`,
/// or empty to remove it), `owner_employee_id`, `reason`.
pub async fn classify(
    State(state): State<Shared>,
    Path(account_id): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    let classification = match form.fields.get("classification").trim() {
        "" => None,
        "service" => Some(Classification::Service),
        "external" => Some(Classification::External),
        "test" => Some(Classification::Test),
        other => {
            return Err(WebError::BadForm(format!(
                "`classification`: `{other}` is not one of service, external, test (or empty to remove it)"
            )));
        }
    };
    let entries = state
        .console
        .service
        .classify_account(
            form.actor(),
            state.console.system.clone(),
            account_id.clone(),
            classification,
            form.fields.text("owner_employee_id"),
            form.fields.text("reason"),
        )
        .await?;
    Ok(form.appended("Account classified", account_url(&account_id), &entries))
}

/// An optional instant field: empty for none.
fn instant_field(fields: &Fields, name: &str) -> Result<Option<Timestamp>, WebError> {
    match fields.get(name).trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            WebError::BadForm(format!(
                "`{name}`: `{text}` is not an RFC 3339 instant (2026-03-31T23:59:59Z)"
            ))
        }),
    }
}

/// `POST /people/{employee_id}/offboard`: `effective_at` (now when empty), `reason`.
pub async fn offboard(
    State(state): State<Shared>,
    Path(employee_id): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    let effective_at = instant_field(&form.fields, "effective_at")?;
    let entries = state
        .console
        .service
        .offboard_employee(
            form.actor(),
            employee_id.clone(),
            effective_at,
            form.fields.text("reason"),
        )
        .await?;
    Ok(form.appended(
        "Offboarding recorded",
        format!("/people/{}", path_segment(&employee_id)),
        &entries,
    ))
}

/// `POST /exceptions`: `check_id`, `account_id` or `employee_id`, `reason`, `evidence_ref`,
/// `expires_at` (never when empty).
pub async fn grant_exception(
    State(state): State<Shared>,
    form: Form,
) -> Result<Response, WebError> {
    let fields = &form.fields;
    let request = ExceptionRequest {
        system: state.console.system.clone(),
        check_id: fields.text("check_id"),
        account_id: fields.text("account_id"),
        employee_id: fields.text("employee_id"),
        reason: fields.text("reason"),
        evidence_ref: fields.text("evidence_ref"),
        expires_at: instant_field(fields, "expires_at")?,
    };
    let entries = state
        .console
        .service
        .grant_exception(form.actor(), request)
        .await?;
    Ok(form.appended("Exception granted", "/exceptions".to_owned(), &entries))
}

/// `POST /exceptions/{exception_id}/revoke`: `reason`.
pub async fn revoke_exception(
    State(state): State<Shared>,
    Path(exception_id): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    let entries = state
        .console
        .service
        .revoke_exception(form.actor(), exception_id, form.fields.text("reason"))
        .await?;
    Ok(form.appended("Exception revoked", "/exceptions".to_owned(), &entries))
}

/// `POST /sync`: a sync cycle now (the roster, then Tailscale), as `SyncNow`.
pub async fn sync_now(State(state): State<Shared>, form: Form) -> Result<Response, WebError> {
    let cycle = state
        .console
        .service
        .sync_now(&state.console.system)
        .await?;
    let mut entries = cycle.roster_appended.entries.clone();
    entries.extend(cycle.sync.appended.entries.iter().cloned());
    Ok(form.appended("Synced", "/".to_owned(), &entries))
}

fn account_url(account_id: &str) -> String {
    format!("/accounts/{}", path_segment(account_id))
}
