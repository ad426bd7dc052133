//! The access review pages (docs/reference/checks.md#reviews): the list, a review's population
//! with its progress, and the reviewer's forms that decide keep, modify or revoke per account or
//! for many accounts at once; for admins, starting, completing, handing a reviewer's part to
//! someone else and cancelling a review. A reviewer sees and decides only their own reviews: the
//! service says which, as it does for gRPC.

use axum::extract::{Path, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value;

use super::access::{Admin, Decide, Need, Reviews};
use super::extract::{Posted, Signed};
use super::session::Session;
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
        cancelled_at => review.cancelled.map(|mark| mark.at.to_string()),
    }
}

/// A review's page, where the form about it sends one back.
fn review_url(review_id: &str) -> String {
    format!("/reviews/{}", path_segment(review_id))
}

/// `GET /reviews`: the reviews the session may read, and for admins the form that starts one.
pub async fn list(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Reviews>,
) -> Result<Response, WebError> {
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
/// forms for a reviewer of it while it is open, and for admins the forms that complete it,
/// hand a reviewer's part over and cancel it.
pub async fn review(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Reviews>,
    Path(review_id): Path<String>,
) -> Result<Response, WebError> {
    let view = state
        .console
        .service
        .access_review(review_id, reader(&session))
        .await?;
    let review = &view.review;
    let decisions = review.current_decisions();
    let open = review.completed.is_none() && review.cancelled.is_none();
    let admin = session.role == Role::Admin && open;
    let may_decide = open
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
            review_url => review_url(&review.review_id),
            accounts,
            may_decide,
            may_complete => admin && review.undecided().is_empty(),
            may_change => admin,
            follow_through => Value::from_serialize(&view.follow_through),
        },
    ))
}

/// `POST /reviews/{review_id}/decide`: one decision (`decision`, `reason`, `new_role`) for each
/// `account_id` posted, all recorded or none.
pub async fn decide(
    State(state): State<Shared>,
    Path(review_id): Path<String>,
    form: Posted<Decide>,
) -> Result<Response, WebError> {
    let (session, fields) = (&form.session, &form.fields);
    let decisions: Vec<DecisionInput> = fields
        .all("account_id")
        .map(|account_id| DecisionInput {
            account_id: account_id.to_owned(),
            decision: fields.text("decision"),
            reason: fields.text("reason"),
            new_role: fields.text("new_role"),
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
            form.actor(),
            Reviewer {
                token: session.name.clone(),
                employee_id: session.employee_id.clone(),
            },
            review_id.clone(),
            decisions,
        )
        .await?;
    Ok(form.appended("Decision recorded", review_url(&review_id), &entries))
}

/// `POST /reviews/{review_id}/complete`.
pub async fn complete(
    State(state): State<Shared>,
    Path(review_id): Path<String>,
    form: Posted<Admin>,
) -> Result<Response, WebError> {
    let entries = state
        .console
        .service
        .complete_access_review(form.actor(), review_id.clone())
        .await?;
    Ok(form.appended("Review completed", review_url(&review_id), &entries))
}

/// `POST /reviews/{review_id}/reassign`: `from_employee_id`'s part handed to `to_employee_id`,
/// with a `reason`, as `ReassignAccessReviewer`.
pub async fn reassign(
    State(state): State<Shared>,
    Path(review_id): Path<String>,
    form: Posted<Admin>,
) -> Result<Response, WebError> {
    let entries = state
        .console
        .service
        .reassign_access_reviewer(
            form.actor(),
            review_id.clone(),
            form.fields.text("from_employee_id"),
            form.fields.text("to_employee_id"),
            form.fields.text("reason"),
        )
        .await?;
    Ok(form.appended("Reviewer reassigned", review_url(&review_id), &entries))
}

/// `POST /reviews/{review_id}/cancel`: `reason`, as `CancelAccessReview`.
pub async fn cancel(
    State(state): State<Shared>,
    Path(review_id): Path<String>,
    form: Posted<Admin>,
) -> Result<Response, WebError> {
    let entries = state
        .console
        .service
        .cancel_access_review(form.actor(), review_id.clone(), form.fields.text("reason"))
        .await?;
    Ok(form.appended("Review cancelled", review_url(&review_id), &entries))
}

/// `POST /reviews`: `scope` (`all`, `privileged`), `reviewers` (employee ids, separated by
/// commas or spaces), `due` (a date, the end of that day in the roster's timezone, or an
/// instant).
pub async fn start(State(state): State<Shared>, form: Posted<Admin>) -> Result<Response, WebError> {
    let fields = &form.fields;
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
            form.actor(),
            StartReview {
                system: state.console.system.clone(),
                scope,
                reviewers,
                due_at,
            },
        )
        .await?;
    let review_id = crate::service::started_review_id(&entries);
    Ok(form.appended("Review started", review_url(&review_id), &entries))
}
