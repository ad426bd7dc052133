//! A simulated Truto unified HRIS API (as Truto documents it) on a listener the caller binds, for
//! tests and the demo: `GET /unified/hris/employees` and `…/employments` in Truto's list envelope
//! (`result`, `next_cursor`, `result_count`), paged, behind a bearer token and an integrated
//! account id, with faults armed per page (429, 5xx, 401/403/404, a truncated or malformed page).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::fault::Fault;
use super::server::{SimulatorHandle, endless_body, spawn, trickle, truncate};

/// The two lists the simulator serves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HrisResource {
    Employees,
    Employments,
}

impl HrisResource {
    fn of_path(name: &str) -> Option<Self> {
        match name {
            "employees" => Some(HrisResource::Employees),
            "employments" => Some(HrisResource::Employments),
            _ => None,
        }
    }
}

/// A person in the simulated HR system: one employee with one employment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEmployee {
    /// Truto's id of the employee.
    pub id: String,
    pub employee_number: Option<String>,
    pub name: String,
    pub work_email: String,
    pub job_title: String,
    pub department: String,
    /// The employment's `end_date` as Truto writes it, e.g. `2026-03-31T00:00:00.000Z`.
    pub end_date: Option<String>,
}

impl SimEmployee {
    /// An employee with the HR number `number`, an email at `acme.example` and no end date.
    pub fn new(number: &str, name: &str, job_title: &str) -> Self {
        let local = name.to_lowercase().replace(' ', ".");
        SimEmployee {
            id: format!("truto-{number}"),
            employee_number: Some(number.to_owned()),
            name: name.to_owned(),
            work_email: format!("{local}@acme.example"),
            job_title: job_title.to_owned(),
            department: "Engineering".to_owned(),
            end_date: None,
        }
    }

    fn employee_json(&self) -> Value {
        let (first, last) = self.name.split_once(' ').unwrap_or((&self.name, ""));
        json!({
            "id": self.id,
            "employee_number": self.employee_number,
            "first_name": first,
            "last_name": last,
            "name": self.name,
            "job_title": self.job_title,
            "groups": [{ "id": format!("g-{}", self.department.to_lowercase()), "name": self.department, "type": "department" }],
            "emails": [
                { "email": format!("{}@home.example", self.id), "type": "personal" },
                { "email": self.work_email, "type": "work" },
            ],
        })
    }

    fn employment_json(&self) -> Value {
        json!({
            "id": format!("employment-{}", self.id),
            "employee": { "id": self.id, "name": self.name },
            "job_title": self.job_title,
            "employment_type": "full_time",
            "effective_date": "2020-01-01T00:00:00.000Z",
            "end_date": self.end_date,
        })
    }
}

/// How many requests the simulated HRIS has received.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HrisCounters {
    /// Every request, including those answered with a fault or refused.
    pub requests: u64,
}

/// An HR system behind a simulated Truto API; clones share the same state.
#[derive(Clone, Debug)]
pub struct SimulatedHris {
    state: Arc<Mutex<HrisState>>,
    /// The clock its answers are dated by.
    date: super::date::ServerClock,
}

#[derive(Debug)]
struct HrisState {
    integrated_account_id: String,
    token: String,
    page_size: usize,
    employees: BTreeMap<String, SimEmployee>,
    faults: HashMap<(HrisResource, u32), VecDeque<Fault>>,
    counters: HrisCounters,
}

#[derive(Deserialize)]
struct ListQuery {
    integrated_account_id: Option<String>,
    next_cursor: Option<String>,
}

impl SimulatedHris {
    /// An empty HR system for one integrated account, accepting one API token, 100 records a
    /// page.
    pub fn new(integrated_account_id: &str, token: &str) -> Self {
        SimulatedHris {
            state: Arc::new(Mutex::new(HrisState {
                integrated_account_id: integrated_account_id.to_owned(),
                token: token.to_owned(),
                page_size: 100,
                employees: BTreeMap::new(),
                faults: HashMap::new(),
                counters: HrisCounters::default(),
            })),
            date: super::date::ServerClock::default(),
        }
    }

    /// Dates its answers by `clock` instead of the system clock.
    pub fn use_clock(&self, clock: std::sync::Arc<dyn crate::time::Clock>) {
        self.date.use_clock(clock);
    }

    /// Dates every answer `seconds` away from its clock (negative: before it).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.date.set_offset(seconds);
    }

    /// Sets how many records a page holds (at least one).
    pub fn set_page_size(&self, page_size: usize) {
        self.lock().page_size = page_size.max(1);
    }

    /// Adds an employee, or replaces the one with the same id; they are listed in id order.
    pub fn upsert_employee(&self, employee: SimEmployee) {
        self.lock().employees.insert(employee.id.clone(), employee);
    }

    /// Arms `fault` for the next `times` requests of page `page` (1 = the first) of `resource`.
    pub fn inject_on_page(&self, resource: HrisResource, page: u32, fault: Fault, times: usize) {
        let mut state = self.lock();
        let queue = state.faults.entry((resource, page)).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Disarms every fault not used up yet.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// What has been asked so far.
    pub fn counters(&self) -> HrisCounters {
        self.lock().counters
    }

    /// The routes of the simulated API.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/unified/hris/{resource}", get(list))
            .layer(axum::middleware::from_fn_with_state(
                self.date.clone(),
                super::date::date_answers,
            ))
            .with_state(self.clone())
    }

    /// Serves on `listener` in a background task until the handle is shut down or dropped.
    pub fn start(&self, listener: TcpListener) -> std::io::Result<SimulatorHandle> {
        spawn(self.router(), listener)
    }

    fn lock(&self) -> MutexGuard<'_, HrisState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Truto's error envelope.
fn truto_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

/// The cursor of the page that starts at `offset`: opaque to the client, as Truto's are.
fn cursor(offset: usize) -> String {
    format!("c{:08x}", offset ^ 0x5eed_5eed)
}

fn offset_of(cursor: &str) -> Option<usize> {
    let hex = cursor.strip_prefix('c')?;
    usize::from_str_radix(hex, 16)
        .ok()
        .map(|value| value ^ 0x5eed_5eed)
}

async fn list(
    State(hris): State<SimulatedHris>,
    Path(resource): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let (answer, fault) = {
        let mut state = hris.lock();
        state.counters.requests += 1;
        let answer = page(&state, &resource, &query, &headers);
        let fault = match &answer {
            Ok((resource, page, _)) => state
                .faults
                .get_mut(&(*resource, *page))
                .and_then(VecDeque::pop_front),
            Err(_) => None,
        };
        (answer, fault)
    };
    let response = match answer {
        Ok((_, _, body)) => Json(body).into_response(),
        Err((status, message)) => return truto_error(status, message),
    };
    match fault {
        None => response,
        Some(Fault::Status { status, message }) => truto_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &message,
        ),
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut limited = truto_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
            if let Some(seconds) = retry_after_secs {
                limited
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            limited
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(Fault::TruncatedBody) => truncate(response).await,
        Some(Fault::Trickle { chunk_delay }) => trickle(response, chunk_delay).await,
        Some(Fault::EndlessBody) => endless_body(),
        Some(Fault::Body(body)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
    }
}

/// The page asked for, with its resource and number, or the refusal Truto would answer.
fn page(
    state: &HrisState,
    resource: &str,
    query: &ListQuery,
    headers: &HeaderMap,
) -> Result<(HrisResource, u32, Value), (StatusCode, &'static str)> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer != Some(state.token.as_str()) {
        return Err((StatusCode::UNAUTHORIZED, "Invalid API token"));
    }
    let Some(resource) = HrisResource::of_path(resource) else {
        return Err((StatusCode::NOT_FOUND, "Resource not found"));
    };
    match query.integrated_account_id.as_deref() {
        None => {
            return Err((StatusCode::BAD_REQUEST, "integrated_account_id is required"));
        }
        Some(id) if id != state.integrated_account_id => {
            return Err((StatusCode::NOT_FOUND, "Integrated account not found"));
        }
        Some(_) => {}
    }
    let offset = match query.next_cursor.as_deref() {
        None => 0,
        Some(text) => offset_of(text).ok_or((StatusCode::BAD_REQUEST, "Invalid cursor"))?,
    };
    let records: Vec<Value> = state
        .employees
        .values()
        .skip(offset)
        .take(state.page_size)
        .map(|employee| match resource {
            HrisResource::Employees => employee.employee_json(),
            HrisResource::Employments => employee.employment_json(),
        })
        .collect();
    let next = offset + records.len();
    let next_cursor = (next < state.employees.len()).then(|| cursor(next));
    let number = u32::try_from(offset / state.page_size + 1).unwrap_or(u32::MAX);
    let body = json!({
        "result_count": records.len(),
        "result": records,
        "next_cursor": next_cursor,
        "prev_cursor": (offset > 0).then(|| cursor(offset.saturating_sub(state.page_size))),
        "is_partial_response": false,
    });
    Ok((resource, number, body))
}
