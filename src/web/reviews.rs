//! The access review pages (docs/reference/checks.md#reviews): the list, a review's population
//! with its progress, and the reviewer's forms that decide keep, modify or revoke per account or
//! for many accounts at once; for admins, starting and completing a review. A reviewer sees and
//! decides only their own reviews: the service says which, as it does for gRPC.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value;

use super::access::Need;
use super::actions::{actor, appended};
use super::forms::{self, Fields};
use super::session::{Session, SignedIn};
use super::templates::{page, path_segment};
use super::{Shared, WebError};
use crate::api::Role;
use crate::as_of::AsOf;
use crate::commands::review::{DecisionInput, Reviewer, StartReview};
use crate::event::ReviewScope;
use crate::service::{ReviewReader, ReviewView};

/// Whose reviews the session may read: a reviewer only their own.
fn reader(session: &Session) -> ReviewReader {
    match session.role {
        Role::Reviewer => ReviewReader::Reviewer {
            token: session.name.clone(),
            // The configuration gives every reviewer token an employee.
            employee_id: session.employee_id.clone().unwrap_or_default(),
        },
        Role::Auditor | Role::Admin => ReviewReader::Anyone,
    }
}

/// A review's summary: who reviews, how far along it is.
fn summary(view: &ReviewView) -> Value {
    let review = &view.review;
    let decided = review.current_decisions().len();
    context! {
        review_id => review.review_id,
        scope => review.scope.as_str(),
        reviewers => review.reviewers,
        due_at => review.due_at.to_string(),
        started_at => review.started.at.to_string(),
        pinned_seq => review.pinned_seq,
        population => review.population.len(),
        decided,
        percent => if review.population.is_empty() { 100 } else { decided * 100 / review.population.len() },
        completed_at => review.completed.map(|mark| mark.at.to_string()),
    }
}

/// `GET /reviews`: the reviews the session may read, and for admins the form that starts one.
pub async fn list(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
) -> Result<Response, WebError> {
    session.require(Need::Reviews)?;
    let views = state
        .console
        .service
        .access_reviews(state.console.system.clone(), reader(&session), None)
        .await?;
    Ok(page(
        "reviews.html",
        Some(&session),
        context! {
            title => "Access reviews",
            reviews => views.iter().map(summary).collect::<Vec<_>>(),
        },
    ))
}

/// `GET /reviews/{review_id}`: the population with each account's decision, and the decision
/// forms for a reviewer of it while it is open.
pub async fn review(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(review_id): Path<String>,
) -> Result<Response, WebError> {
    session.require(Need::Reviews)?;
    let view = state
        .console
        .service
        .access_review(review_id, reader(&session))
        .await?;
    let review = &view.review;
    let decisions = review.current_decisions();
    let may_decide = review.completed.is_none()
        && super::allowed(session.role, Need::Decide)
        && session
            .employee_id
            .as_deref()
            .is_some_and(|employee| review.has_reviewer(employee));
    let accounts: Vec<Value> = review
        .population
        .iter()
        .map(|account| {
            let decision = decisions.get(account.account_id.as_str());
            context! {
                account_id => account.account_id,
                login_name => account.login_name,
                role => account.role,
                employee_id => account.employee_id,
                org_role => account.org_role,
                findings => account.findings,
                decision => decision.map(|decision| decision.decision.to_string()),
                reason => decision.map(|decision| decision.reason.clone()),
                new_role => decision.and_then(|decision| decision.new_role.clone()),
                decided_by => decision.map(|decision| decision.reviewer_employee_id.clone()),
            }
        })
        .collect();
    Ok(page(
        "review.html",
        Some(&session),
        context! {
            title => format!("Access review {}", review.review_id),
            review => summary(&view),
            review_url => format!("/reviews/{}", path_segment(&review.review_id)),
            accounts,
            may_decide,
            may_complete => session.role == Role::Admin && review.completed.is_none() && review.undecided().is_empty(),
            follow_through => Value::from_serialize(&view.follow_through),
        },
    ))
}

/// `POST /reviews/{review_id}/decide`: one decision (`decision`, `reason`, `new_role`) for each
/// `account_id` posted, all recorded or none.
pub async fn decide(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(review_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    session.require(Need::Decide)?;
    forms::check(&session, &headers, &fields)?;
    let decisions: Vec<DecisionInput> = fields
        .all("account_id")
        .map(|account_id| DecisionInput {
            account_id: account_id.to_owned(),
            decision: fields.get("decision").trim().to_owned(),
            reason: fields.get("reason").trim().to_owned(),
            new_role: fields.get("new_role").trim().to_owned(),
            line: None,
        })
        .collect();
    if decisions.is_empty() {
        return Err(WebError::BadForm(
            "`account_id`: choose at least one account to decide on".to_owned(),
        ));
    }
    let entries = state
        .console
        .service
        .decide_access_review(
            actor(&session),
            Reviewer {
                token: session.name.clone(),
                employee_id: session.employee_id.clone(),
            },
            review_id.clone(),
            decisions,
        )
        .await?;
    Ok(appended(
        &session,
        "Decision recorded",
        format!("/reviews/{}", path_segment(&review_id)),
        &entries,
    ))
}

/// `POST /reviews/{review_id}/complete`.
pub async fn complete(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    Path(review_id): Path<String>,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    session.require(Need::Admin)?;
    forms::check(&session, &headers, &fields)?;
    let entries = state
        .console
        .service
        .complete_access_review(actor(&session), review_id.clone())
        .await?;
    Ok(appended(
        &session,
        "Review completed",
        format!("/reviews/{}", path_segment(&review_id)),
        &entries,
    ))
}

/// `POST /reviews`: `scope` (`all`, `privileged`), `reviewers` (employee ids, separated by
/// commas or spaces), `due` (a date, the end of that day in the roster's timezone, or an
/// instant).
pub async fn start(
    State(state): State<Shared>,
    SignedIn(session): SignedIn,
    headers: HeaderMap,
    fields: Fields,
) -> Result<Response, WebError> {
    session.require(Need::Admin)?;
    forms::check(&session, &headers, &fields)?;
    let scope: ReviewScope = fields
        .get("scope")
        .trim()
        .parse()
        .map_err(|error| WebError::BadForm(format!("`scope`: {error}")))?;
    let reviewers = fields
        .get("reviewers")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|reviewer| !reviewer.is_empty())
        .map(str::to_owned)
        .collect();
    let due: AsOf = fields
        .required("due")?
        .parse()
        .map_err(|error| WebError::BadForm(format!("`due`: {error}")))?;
    let due_at = state
        .console
        .service
        .resolve(due)
        .ok_or_else(|| WebError::BadForm("`due` is past the year 9999".to_owned()))?;
    let entries = state
        .console
        .service
        .start_access_review(
            actor(&session),
            StartReview {
                system: state.console.system.clone(),
                scope,
                reviewers,
                due_at,
            },
        )
        .await?;
    let review_id = crate::service::started_review_id(&entries);
    Ok(appended(
        &session,
        "Review started",
        format!("/reviews/{}", path_segment(&review_id)),
        &entries,
    ))
}
