//! The admin actions of the pages: link, classify, offboard, grant and revoke an exception, sync
//! now. Each checks the session's role, the form's origin and CSRF token, calls the same service
//! operation as gRPC with the actor `web:<token name>`, and answers with the entries it appended.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use minijinja::context;

use super::access::Need;
use super::forms::{self, Fields};
use super::pages::entry_value;
use super::session::{Session, SignedIn};
use super::templates::page;
use super::{Shared, WebError};
use crate::commands::ExceptionRequest;
use crate::entry::Entry;
use crate::event::{Actor, Classification};
use crate::time::Timestamp;

/// The session if it may act as an admin and the form is this console's.
fn admin<'a>(
    session: &'a Session,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<&'a Session, WebError> {
    session.require(Need::Admin)?;
    forms::check(session, headers, fields)?;
    Ok(session)
}

/// The actor of what a session appends.
pub fn actor(session: &Session) -> Actor {
    Actor::Web(session.name.clone())
}

/// The page that shows what an action appended, with a link back.
pub fn appended(session: &Session, what: &str, back: String, entries: &[Entry]) -> Response {
    page(
        "appended.html",
        Some(session),
        context! {
            title => what,
            back,
            entries => entries.iter().map(entry_value).collect::<Vec<_>>(),
        },
    )
}

/// `POST /accounts/{account_id}/link`: `employee_id`, `reason`.
pub async fn link(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let entries = state
        .console
        .service
        .link_account(
            actor(&session),
            state.console.system.clone(),
            account_id.clone(),
            fields.required("employee_id")?,
            fields.get("reason").trim().to_owned(),
        )
        .await?;
    Ok(appended(
        &session,
        "Account linked",
        account_url(&account_id),
        &entries,
    ))
}

/// `POST /accounts/{account_id}/classify`: `classification` (`service`, `external`, `test`,
/// or empty to remove it), `owner_employee_id`, `reason`.
pub async fn classify(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let classification = match fields.get("classification").trim() {
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
            actor(&session),
            state.console.system.clone(),
            account_id.clone(),
            classification,
            fields.get("owner_employee_id").trim().to_owned(),
            fields.get("reason").trim().to_owned(),
        )
        .await?;
    Ok(appended(
        &session,
        "Account classified",
        account_url(&account_id),
        &entries,
    ))
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
    SignedIn(session): SignedIn,
    Path(employee_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let effective_at = instant_field(&fields, "effective_at")?;
    let entries = state
        .console
        .service
        .offboard_employee(
            actor(&session),
            employee_id.clone(),
            effective_at,
            fields.get("reason").trim().to_owned(),
        )
        .await?;
    Ok(appended(
        &session,
        "Offboarding recorded",
        format!("/people/{}", super::templates::path_segment(&employee_id)),
        &entries,
    ))
}

/// `POST /exceptions`: `check_id`, `account_id` or `employee_id`, `reason`, `evidence_ref`,
/// `expires_at` (never when empty).
pub async fn grant_exception(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let expires_at = instant_field(&fields, "expires_at")?;
    let entries = state
        .console
        .service
        .grant_exception(
            actor(&session),
            ExceptionRequest {
                system: state.console.system.clone(),
                check_id: fields.get("check_id").trim().to_owned(),
                account_id: fields.get("account_id").trim().to_owned(),
                employee_id: fields.get("employee_id").trim().to_owned(),
                reason: fields.get("reason").trim().to_owned(),
                evidence_ref: fields.get("evidence_ref").trim().to_owned(),
                expires_at,
            },
        )
        .await?;
    Ok(appended(
        &session,
        "Exception granted",
        "/exceptions".to_owned(),
        &entries,
    ))
}

/// `POST /exceptions/{exception_id}/revoke`: `reason`.
pub async fn revoke_exception(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(exception_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let entries = state
        .console
        .service
        .revoke_exception(
            actor(&session),
            exception_id,
            fields.get("reason").trim().to_owned(),
        )
        .await?;
    Ok(appended(
        &session,
        "Exception revoked",
        "/exceptions".to_owned(),
        &entries,
    ))
}

/// `POST /sync`: a sync cycle now (the roster, then Tailscale), as `SyncNow`.
pub async fn sync_now(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    admin(&session, &headers, &fields)?;
    let cycle = state
        .console
        .service
        .sync_now(&state.console.system)
        .await?;
    let mut entries = cycle.roster_appended.entries.clone();
    entries.extend(cycle.sync.appended.entries.iter().cloned());
    Ok(appended(&session, "Synced", "/".to_owned(), &entries))
}

fn account_url(account_id: &str) -> String {
    format!("/accounts/{}", super::templates::path_segment(account_id))
}
