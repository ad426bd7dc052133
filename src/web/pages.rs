//! The console's read pages, each a stable URL answering "as of" a date or instant where that
//! makes sense (`?as_of=2026-03-31`): the overview, a check's findings, accounts and an account,
//! people and a person, the offboarding report, exceptions, and the ledger. Each parses its
//! arguments, calls the service as the gRPC handlers do, and renders what it answers.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::context;
use minijinja::value::Value;
use serde::Serialize;

use super::access::Read;
use super::extract::Signed;
use super::templates::page;
use super::{Shared, WebError};
use crate::as_of::AsOf;
use crate::checks::{CheckState, PRIVILEGED_ROLES, Reason};
use crate::entry::Entry;
use crate::hash::Digest;
use crate::identity::LinkKind;
use crate::projection::EmployeeState;
use crate::render;
use crate::service::{AccountView, ServiceError};
use crate::time::Timestamp;
use crate::timeline::Timeline;

/// The overview's timeline: the 90 days before the instant asked about.
const TIMELINE_DAYS: i64 = 90;
const DAY_MICROS: i64 = 86_400_000_000;
/// The most rows a list page shows.
const PAGE_ROWS: usize = 200;
/// The accounts read at a time while a list page fills.
const SCAN_PAGE: usize = 1_000;

type Args = Query<HashMap<String, String>>;

/// The `as_of` argument: absent or empty for now.
fn as_of_arg(args: &HashMap<String, String>) -> Result<Option<AsOf>, WebError> {
    match args.get("as_of").map(|text| text.trim()) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|error| WebError::BadForm(format!("`as_of`: {error}"))),
    }
}

/// An instant argument (`from`, `to`): absent or empty for none.
fn instant_arg(args: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, WebError> {
    match args.get(name).map(|text| text.trim()) {
        None | Some("") => Ok(None),
        Some(text) => {
            let as_of: AsOf = text
                .parse()
                .map_err(|error| WebError::BadForm(format!("`{name}`: {error}")))?;
            // A date is its start in UTC here; the service's dates are in the roster's timezone
            // only for `as_of`.
            as_of
                .starts(chrono_tz::UTC)
                .map(Some)
                .ok_or_else(|| WebError::BadForm(format!("`{name}` is past the year 9999")))
        }
    }
}

/// The instant a page answers for, resolved by the service as `GetStatus` does.
async fn instant_of(state: &Shared, as_of: Option<AsOf>) -> Result<Timestamp, WebError> {
    Ok(state
        .console
        .service
        .checked_as_of(as_of)
        .await?
        .unwrap_or_else(|| state.console.service.now()))
}

/// One stretch of a timeline bar, in thousandths of the window.
#[derive(Serialize)]
struct Segment {
    x: i64,
    width: i64,
    state: &'static str,
    title: String,
}

/// Each check's bar over `timeline`'s window, by check id.
fn bars(
    timeline: &Timeline,
    from: Timestamp,
    to: Timestamp,
) -> HashMap<&'static str, Vec<Segment>> {
    let span = (to.as_micros() - from.as_micros()).max(1);
    let at = |instant: Timestamp| {
        ((instant.as_micros() - from.as_micros()) * 1000 / span).clamp(0, 1000)
    };
    timeline
        .checks
        .iter()
        .map(|check| {
            let segments = check
                .intervals
                .iter()
                .map(|interval| Segment {
                    x: at(interval.start),
                    width: (at(interval.end) - at(interval.start)).max(1),
                    state: interval.state.as_str(),
                    title: format!(
                        "{} .. {}: {}, {} finding(s)",
                        interval.start,
                        interval.end,
                        interval.state.as_str(),
                        interval.findings
                    ),
                })
                .collect();
            (check.check_id, segments)
        })
        .collect()
}

/// `GET /`: every check with its state, findings and a 90-day timeline bar; the digest.
pub async fn overview(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let service = &state.console.service;
    let system = state.console.system.clone();
    let report = service.status(system.clone(), as_of).await?;
    let to = report.evaluated_at;
    let from = to.saturating_add_micros(-TIMELINE_DAYS * DAY_MICROS);
    let timeline = match service
        .timeline(system, AsOf::Instant(from), AsOf::Instant(to))
        .await
    {
        Ok(timeline) => Some(timeline),
        // Nothing recorded in the window yet: no bar to draw.
        Err(ServiceError::NothingRecorded { .. } | ServiceError::BadWindow { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    let bars = timeline.as_ref().map(|timeline| bars(timeline, from, to));
    let digest = service.digest().await?;
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|check| {
            context! {
                check_id => check.check_id,
                title => check.title,
                state => check.state.as_str(),
                findings => check.findings.iter().filter(|finding| finding.state != CheckState::Excepted).count(),
                excepted => check.findings.iter().filter(|finding| finding.state == CheckState::Excepted).count(),
                bar => bars.as_ref().and_then(|bars| bars.get(check.check_id)).map(Value::from_serialize),
            }
        })
        .collect();
    Ok(page(
        "overview.html",
        Some(&session),
        context! {
            title => "Overview",
            as_of => shown_as_of(as_of),
            evaluated_at => report.evaluated_at.to_string(),
            head => report.head.map(|head| head.to_string()),
            checks,
            timeline_from => from.to_string(),
            timeline_to => to.to_string(),
            digest => digest_value(digest),
        },
    ))
}

/// `GET /checks/{check_id}`: a check's findings, each row naming its account.
pub async fn check(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Path(check_id): Path<String>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let report = state
        .console
        .service
        .status(state.console.system.clone(), as_of)
        .await?;
    let check = report
        .checks
        .iter()
        .find(|check| check.check_id == check_id)
        .ok_or(WebError::NotFound)?;
    Ok(page(
        "check.html",
        Some(&session),
        context! {
            title => check.title,
            as_of => shown_as_of(as_of),
            evaluated_at => report.evaluated_at.to_string(),
            check => Value::from_serialize(check),
        },
    ))
}

/// An account as the pages show it.
fn account_value(view: &AccountView) -> Value {
    let snapshot = &view.account.snapshot;
    context! {
        account_id => snapshot.id,
        login_name => snapshot.login_name,
        display_name => snapshot.display_name,
        role => snapshot.role,
        status => snapshot.status,
        account_type => snapshot.account_type,
        present => view.account.present,
        holds_access => view.holds_access,
        first_seen => view.account.first_seen.to_string(),
        removed_at => view.account.removed_at.map(|at| at.to_string()),
        employee_id => view.link.as_ref().map(|(employee, _)| employee.clone()),
        link => view.link.as_ref().map(|(_, kind)| match kind { LinkKind::Auto => "email", LinkKind::Manual => "manual" }),
        classification => view.classification.as_ref().map(|state| state.classification.to_string()),
        classification_reason => view.classification.as_ref().map(|state| state.reason.clone()),
        findings => view.findings.iter().map(|reason| reason.as_str()).collect::<Vec<_>>(),
    }
}

/// Whether an account passes the list's filter.
fn filtered(view: &AccountView, filter: &str) -> Result<bool, WebError> {
    Ok(match filter {
        "" | "all" => true,
        "unidentified" => view.findings.contains(&Reason::Unidentified),
        "leaver" => view.findings.contains(&Reason::AccessRetained),
        "privileged" => {
            view.holds_access && PRIVILEGED_ROLES.contains(&view.account.snapshot.role.as_str())
        }
        "findings" => !view.findings.is_empty(),
        other => {
            return Err(WebError::BadForm(format!(
                "`filter`: `{other}` is none of all, unidentified, leaver, privileged, findings"
            )));
        }
    })
}

/// `GET /accounts`: the accounts holding access or present, filtered (`filter=unidentified`,
/// `leaver`, `privileged`, `findings`) or by a reason code (`reason=role-not-allowed`), up to
/// [`PAGE_ROWS`] after `after`.
pub async fn accounts(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let at = instant_of(&state, as_of).await?;
    let filter = args.get("filter").map_or("", |filter| filter.trim());
    let reason = match args.get("reason").map(|reason| reason.trim()) {
        None | Some("") => None,
        Some(code) => Some(Reason::parse(code).ok_or_else(|| {
            WebError::BadForm(format!(
                "`reason`: `{code}` is not a reason code (docs/reference/checks.md)"
            ))
        })?),
    };
    let mut after = args.get("after").filter(|after| !after.is_empty()).cloned();
    let mut rows = Vec::new();
    let mut next = None;
    'scan: loop {
        let page = state
            .console
            .service
            .accounts(
                state.console.system.clone(),
                at,
                false,
                after.clone(),
                SCAN_PAGE,
            )
            .await?;
        for view in &page.items {
            if filtered(view, filter)?
                && reason.is_none_or(|reason| view.findings.contains(&reason))
            {
                if rows.len() == PAGE_ROWS {
                    next = after.clone();
                    break 'scan;
                }
                rows.push(account_value(view));
            }
            after = Some(view.account.snapshot.id.clone());
        }
        if !page.more {
            break;
        }
    }
    Ok(page(
        "accounts.html",
        Some(&session),
        context! {
            title => "Accounts",
            as_of => shown_as_of(as_of),
            filter, reason => reason.map(Reason::as_str),
            accounts => rows,
            next,
        },
    ))
}

/// `GET /accounts/{account_id}`: an account with its link, classification, findings and
/// history, and for admins the forms that link and classify it.
pub async fn account(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Path(account_id): Path<String>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let at = instant_of(&state, as_of).await?;
    let service = &state.console.service;
    let view = service
        .account(state.console.system.clone(), account_id.clone(), at)
        .await?
        .ok_or(WebError::NotFound)?;
    let history = service.history(account_id, None, Some(at)).await?;
    Ok(page(
        "account.html",
        Some(&session),
        context! {
            title => view.account.snapshot.login_name.clone(),
            as_of => shown_as_of(as_of),
            account => account_value(&view),
            history => entry_values(&history),
        },
    ))
}

/// Entries as lines of the pages.
pub fn entry_values(entries: &[Entry]) -> Vec<Value> {
    entries
        .iter()
        .map(|entry| {
            context! {
                seq => entry.seq,
                recorded_at => entry.recorded_at.to_string(),
                actor => entry.actor.to_string(),
                type_name => entry.event.type_name(),
                line => render::entry_line(entry),
                hash => entry.hash.to_string(),
            }
        })
        .collect()
}

/// A person as the pages show them at `at`.
fn person_value(employee: &EmployeeState, at: Timestamp) -> Value {
    context! {
        employee_id => employee.record.employee_id,
        email => employee.record.email,
        name => employee.record.name,
        org_role => employee.record.org_role,
        status => employee.status_at(at).as_str(),
        leaves_at => employee.offboarding.as_ref().map(|offboarding| offboarding.effective_at.to_string()),
    }
}

/// The ledger's head digest and when it was recorded, if anything is.
fn digest_value(digest: Option<(Digest, Timestamp)>) -> Option<Value> {
    digest.map(
        |(digest, at)| context! { digest => digest.to_string(), recorded_at => at.to_string() },
    )
}

/// The `as_of` a page was asked for, as it shows it.
fn shown_as_of(as_of: Option<AsOf>) -> Option<String> {
    as_of.map(|as_of| as_of.to_string())
}

/// `GET /people`: the roster as of an instant, with each person's offboarding.
pub async fn people(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let at = instant_of(&state, as_of).await?;
    let after = args.get("after").filter(|after| !after.is_empty()).cloned();
    let page_of = state
        .console
        .service
        .employees(at, after, PAGE_ROWS)
        .await?;
    let people: Vec<Value> = page_of
        .items
        .iter()
        .map(|employee| person_value(employee, at))
        .collect();
    let next = page_of
        .more
        .then(|| {
            page_of
                .items
                .last()
                .map(|employee| employee.record.employee_id.clone())
        })
        .flatten();
    Ok(page(
        "people.html",
        Some(&session),
        context! { title => "People", as_of => shown_as_of(as_of), people, next },
    ))
}

/// `GET /people/{employee_id}`: a person, the accounts linked to them then, and every entry
/// about them (their accounts across time), read through the projections' indexes.
pub async fn person(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Path(employee_id): Path<String>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let at = instant_of(&state, as_of).await?;
    let found = state
        .console
        .service
        .person(state.console.system.clone(), employee_id, at)
        .await?
        .ok_or(WebError::NotFound)?;
    let record = &found.employee.record;
    Ok(page(
        "person.html",
        Some(&session),
        context! {
            title => record.name.clone().unwrap_or_else(|| record.email.clone()),
            as_of => shown_as_of(as_of),
            person => person_value(&found.employee, at),
            accounts => found.accounts.iter().map(account_value).collect::<Vec<_>>(),
            history => entry_values(&found.history),
        },
    ))
}

/// `GET /report?from=&to=`: the offboarding report of offboardings effective in the window.
pub async fn report(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let from = instant_arg(&args, "from")?;
    let to = instant_arg(&args, "to")?;
    let rows = state
        .console
        .service
        .offboarding_report(state.console.system.clone(), from, to)
        .await?;
    Ok(page(
        "report.html",
        Some(&session),
        context! {
            title => "Offboarding report",
            from => args.get("from"), to => args.get("to"),
            rows => Value::from_serialize(&rows),
        },
    ))
}

/// `GET /exceptions`: the exceptions granted by an instant, each with whether it holds.
pub async fn exceptions(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
    Query(args): Args,
) -> Result<Response, WebError> {
    let as_of = as_of_arg(&args)?;
    let listed = state
        .console
        .service
        .exceptions(state.console.system.clone(), as_of)
        .await?;
    Ok(page(
        "exceptions.html",
        Some(&session),
        context! {
            title => "Exceptions",
            as_of => shown_as_of(as_of),
            exceptions => Value::from_serialize(&listed),
        },
    ))
}

/// `GET /ledger`: the digest, the signed checkpoint when the server signs them, and a
/// verification of the whole chain.
pub async fn ledger(
    State(state): State<Shared>,
    Signed(session, ..): Signed<Read>,
) -> Result<Response, WebError> {
    let service = &state.console.service;
    let digest = service.digest().await?;
    let checkpoint = match service.checkpoint(None).await {
        Ok(signed) => Some(signed.note),
        Err(ServiceError::NoSigningKey | ServiceError::EmptyTree) => None,
        Err(error) => return Err(error.into()),
    };
    let report = service.verify().await?;
    Ok(page(
        "ledger.html",
        Some(&session),
        context! {
            title => "Ledger",
            digest => digest_value(digest),
            checkpoint,
            verified => report.is_ok(),
            events_checked => report.events_checked,
            last_good => report.last_good.map(|digest| digest.to_string()),
            broken => report.broken.map(|broken| broken.to_string()),
        },
    ))
}
