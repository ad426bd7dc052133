//! The gRPC API end to end: a real tonic server on `127.0.0.1:0` over a real sled ledger, syncing
//! the simulated Tailscale API, called with the generated tonic clients.

use std::net::SocketAddr;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tailledger::api::pb::admin_service_client::AdminServiceClient;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::api::{self, Auth, Role, ServerLimits, TlsIdentity, TokenEntry, pb};
use tailledger::checks::CheckSettings;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::hash::Hash256;
use tailledger::ledger::Ledger;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::tailscale::TailscaleClient;
use tailledger::time::SystemClock;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::helpers::{Fixture, api_token};

pub const AUDITOR_TOKEN: &str = "auditor-token-3f9a";
pub const ADMIN_TOKEN: &str = "admin-token-c0ffee";
/// A `reviewer` token (docs/reference/api.md#auth), naming employee [`REVIEWER_EMPLOYEE`].
pub const REVIEWER_TOKEN: &str = "reviewer-token-5e1f";
pub const REVIEWER_EMPLOYEE: &str = "E-2";
/// An admin token that names employee [`LEAD_EMPLOYEE`], so it may decide reviews too.
pub const LEAD_TOKEN: &str = "lead-token-a11ce";
pub const LEAD_EMPLOYEE: &str = "E-1";

/// A running server and what it serves.
pub struct ApiServer {
    pub address: SocketAddr,
    pub service: Arc<Service>,
    /// The service's ledger, for tests that append behind the API (as a sync would).
    pub ledger: Arc<Ledger>,
    /// The simulated Tailscale API the server's syncs observe.
    pub fixture: Fixture,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), api::ApiError>>,
    _dir: tempfile::TempDir,
}

pub fn tokens() -> Auth {
    Auth::Tokens(vec![
        TokenEntry {
            name: "audit".to_owned(),
            role: Role::Auditor,
            sha256: Hash256::of(AUDITOR_TOKEN.as_bytes()),
            employee_id: None,
        },
        TokenEntry {
            name: "ops".to_owned(),
            role: Role::Admin,
            sha256: Hash256::of(ADMIN_TOKEN.as_bytes()),
            employee_id: None,
        },
        TokenEntry {
            name: "rev".to_owned(),
            role: Role::Reviewer,
            sha256: Hash256::of(REVIEWER_TOKEN.as_bytes()),
            employee_id: Some(REVIEWER_EMPLOYEE.to_owned()),
        },
        TokenEntry {
            name: "lead".to_owned(),
            role: Role::Admin,
            sha256: Hash256::of(LEAD_TOKEN.as_bytes()),
            employee_id: Some(LEAD_EMPLOYEE.to_owned()),
        },
    ])
}

impl ApiServer {
    /// Serves in plaintext.
    pub async fn start(auth: Auth) -> Self {
        Self::start_serving(auth, None).await
    }

    /// Serves over TLS with `tls`, or in plaintext without.
    pub async fn start_serving(auth: Auth, tls: Option<TlsIdentity>) -> Self {
        Self::start_with(auth, tls, ServerLimits::default(), |dir| {
            Ledger::open(dir).unwrap()
        })
        .await
    }

    /// Serves the ledger `open` makes in a new temporary directory, under `limits`.
    pub async fn start_with(
        auth: Auth,
        tls: Option<TlsIdentity>,
        limits: ServerLimits,
        open: impl FnOnce(&std::path::Path) -> Ledger,
    ) -> Self {
        let fixture = Fixture::start().await;
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(open(dir.path()));
        let syncer = Syncer::new(
            SystemId::tailscale(),
            Box::new(TailscaleSource::new(
                TailscaleClient::new(fixture.config(api_token())).unwrap(),
                Listers::default(),
            )),
            ledger.clone(),
            Arc::new(SystemClock),
            SyncOptions::default(),
        );
        let mut service = Service::new(
            ledger.clone(),
            Arc::new(SystemClock),
            CheckSettings::default(),
            chrono_tz::UTC,
        );
        service.set_syncer(syncer);
        let service = Arc::new(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = service.clone();
        let task = tokio::spawn(async move {
            api::serve(
                listener,
                serving,
                auth,
                tls.as_ref(),
                limits,
                Metrics::new(),
                async {
                    let _ = stopped.await;
                },
            )
            .await
        });
        ApiServer {
            address,
            service,
            ledger,
            fixture,
            stop,
            task,
            _dir: dir,
        }
    }

    /// The simulated Tailscale API the server syncs.
    pub fn fixture(&self) -> &Fixture {
        &self.fixture
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn ledger(&self) -> LedgerServiceClient<Channel> {
        LedgerServiceClient::new(self.channel().await)
    }

    pub async fn admin(&self) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel().await)
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// A request carrying `token` as a bearer token.
pub fn with_token<T>(message: T, token: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

pub fn admin<T>(message: T) -> Request<T> {
    with_token(message, Some(ADMIN_TOKEN))
}

pub fn auditor<T>(message: T) -> Request<T> {
    with_token(message, Some(AUDITOR_TOKEN))
}

fn system() -> String {
    "tailscale".to_owned()
}

/// Recomputes the chain from the events' canonical JSON, starting after `previous`.
pub fn assert_chain(events: &[pb::Event], mut previous: (u64, String)) {
    for event in events {
        assert_eq!(event.seq, previous.0 + 1, "seqs are gap-free and in order");
        assert_eq!(
            event.prev_hash, previous.1,
            "seq {} links to the previous hash",
            event.seq
        );
        let hash = hex::encode(Sha256::digest(event.canonical_json.as_bytes()));
        assert_eq!(
            hash, event.hash,
            "seq {} hashes to its canonical JSON",
            event.seq
        );
        previous = (event.seq, event.hash.clone());
    }
}

fn zero() -> (u64, String) {
    (0, "0".repeat(64))
}

#[tokio::test]
async fn every_rpc_answers_for_an_admin_and_an_auditor() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    let mut ledger = server.ledger().await;

    let synced = admin_client
        .sync_now(admin(pb::SyncNowRequest { system: system() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(synced.outcome, "completed");
    assert_eq!(synced.accounts_observed, 3);
    let roster =
        "email,org_role,employee_id\ndana@acme.example,IT,E-1\nmarco@acme.example,Engineer,E-2\n";
    let imported = admin_client
        .import_roster(admin(pb::ImportRosterRequest {
            csv: roster.as_bytes().to_vec(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.onboarded, 2);
    assert!(
        imported.events.iter().all(|event| event.actor == "api:ops"),
        "the token's name is the actor"
    );
    let before_policy = ledger
        .get_digest(auditor(pb::GetDigestRequest {}))
        .await
        .unwrap()
        .into_inner();

    admin_client
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: system(),
            allowed_org_roles: vec!["Engineer".to_owned(), "IT".to_owned()],
            privileged_org_roles: vec!["IT".to_owned()],
            offboarding_grace: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            reason: "quarterly review".to_owned(),
        }))
        .await
        .unwrap();
    admin_client
        .classify_account(admin(pb::ClassifyAccountRequest {
            system: system(),
            account_id: "u3".to_owned(),
            classification: "external".to_owned(),
            owner_employee_id: "E-1".to_owned(),
            reason: "partner".to_owned(),
        }))
        .await
        .unwrap();
    let linked = admin_client
        .link_account(admin(pb::LinkAccountRequest {
            system: system(),
            account_id: "u2".to_owned(),
            employee_id: "E-2".to_owned(),
            reason: "personal login".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(linked.events[0].r#type, "AccountLinked");
    admin_client
        .unlink_account(admin(pb::UnlinkAccountRequest {
            system: system(),
            account_id: "u2".to_owned(),
            employee_id: "E-2".to_owned(),
            reason: "matched by email anyway".to_owned(),
        }))
        .await
        .unwrap();
    let upserted = admin_client
        .upsert_employee(admin(pb::UpsertEmployeeRequest {
            employee: Some(pb::EmployeeRecord {
                employee_id: "E-2".to_owned(),
                email: "marco@acme.example".to_owned(),
                name: "Marco Ibáñez".to_owned(),
                org_role: "Engineer".to_owned(),
                start_date: "2024-06-01".to_owned(),
            }),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(upserted.events[0].r#type, "EmployeeUpdated");
    let offboarded = admin_client
        .offboard_employee(admin(pb::OffboardEmployeeRequest {
            employee_id: "E-1".to_owned(),
            effective_at: Some(prost_types::Timestamp {
                seconds: 1_772_000_000,
                nanos: 0,
            }),
            reason: "left".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offboarded.events[0].r#type, "EmployeeOffboarded");

    let status = ledger
        .get_status(auditor(pb::GetStatusRequest {
            system: system(),
            as_of: None,
            as_of_date: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = status
        .checks
        .iter()
        .map(|check| check.check_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "user-identified",
            "offboarded-access-removed",
            "access-control-configured",
            "user-access-valid",
            "integration-healthy",
            "offboarded-leftovers-removed",
            "access-review-actions-done",
            "access-review-current"
        ]
    );
    let offboarding = &status.checks[1];
    assert_eq!(
        offboarding.state(),
        pb::CheckState::Failing,
        "Dana left long ago and still has access"
    );
    assert!(!offboarding.findings[0].evidence_seqs.is_empty());

    // As of before the policy, the access-control check fails again.
    let past = ledger
        .get_status(auditor(pb::GetStatusRequest {
            system: system(),
            as_of: before_policy.recorded_at,
            as_of_date: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(past.ledger_seq, before_policy.seq);
    assert_eq!(past.checks[2].state(), pb::CheckState::Failing);

    // Over the window from then to now (a date of today means now), the access-control check
    // fails until the policy is set and passes from that entry on.
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let timeline = ledger
        .get_check_timeline(auditor(pb::GetCheckTimelineRequest {
            system: system(),
            from: before_policy.recorded_at,
            to_date: today,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(timeline.from, before_policy.recorded_at);
    let access_control = &timeline.checks[2];
    let states: Vec<(pb::CheckState, u32)> = access_control
        .intervals
        .iter()
        .map(|interval| (interval.state(), interval.findings))
        .collect();
    assert_eq!(
        states,
        [(pb::CheckState::Failing, 1), (pb::CheckState::Passing, 0)]
    );
    let no_policy = &access_control.findings[0];
    assert_eq!(
        (no_policy.reason.as_str(), no_policy.closing_seq),
        ("no-policy", before_policy.seq + 1),
        "the policy's entry closed it"
    );
    assert!(no_policy.time_to_resolution.is_some());
    let shares = access_control.passing_share + access_control.failing_share;
    assert!((shares - 1.0).abs() < 1e-9, "the shares add up: {shares}");

    let accounts = ledger
        .list_accounts(auditor(pb::ListAccountsRequest {
            system: system(),
            include_removed: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    let marco = accounts
        .iter()
        .find(|account| account.account_id == "u2")
        .unwrap();
    assert_eq!(
        marco
            .link
            .as_ref()
            .map(|link| (link.employee_id.as_str(), link.kind.as_str())),
        Some(("E-2", "auto"))
    );
    assert!(!marco.holds_access, "Marco is suspended");
    let dana = accounts
        .iter()
        .find(|account| account.account_id == "u1")
        .unwrap();
    assert!(!dana.access_valid);
    assert_eq!(dana.access_reason, "access-retained");
    let priya = accounts
        .iter()
        .find(|account| account.account_id == "u3")
        .unwrap();
    assert_eq!(
        priya
            .classification
            .as_ref()
            .map(|c| c.classification.as_str()),
        Some("external")
    );

    let employees = ledger
        .list_employees(auditor(pb::ListEmployeesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .employees;
    let statuses: Vec<(&str, &str)> = employees
        .iter()
        .map(|e| (e.employee_id.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(statuses, [("E-1", "offboarded"), ("E-2", "active")]);

    let history = ledger
        .get_history(auditor(pb::GetHistoryRequest {
            subject: "marco@acme.example".to_owned(),
            from: None,
            to: None,
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    let types: Vec<&str> = history.iter().map(|event| event.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "UserSeen",
            "EmployeeOnboarded",
            "AccountLinked",
            "AccountUnlinked",
            "EmployeeUpdated"
        ]
    );

    let mut after_seq = 0;
    let mut all = Vec::new();
    loop {
        let page = ledger
            .list_events(auditor(pb::ListEventsRequest {
                after_seq,
                limit: 4,
            }))
            .await
            .unwrap()
            .into_inner();
        if page.events.is_empty() {
            assert_eq!(page.next_after_seq, after_seq);
            break;
        }
        after_seq = page.next_after_seq;
        all.extend(page.events);
    }
    assert_chain(&all, zero());
    let digest = ledger
        .get_digest(auditor(pb::GetDigestRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (digest.seq, digest.hash.clone()),
        (all.last().unwrap().seq, all.last().unwrap().hash.clone())
    );

    let verified = ledger
        .verify_ledger(auditor(pb::VerifyLedgerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.ok);
    assert_eq!(verified.events_checked, digest.seq);

    let report = ledger
        .get_offboarding_report(auditor(pb::GetOffboardingReportRequest {
            system: system(),
            from: None,
            to: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.rows.len(), 1);
    assert_eq!(report.rows[0].account_id, "u1");
    assert_eq!(report.rows[0].within_grace, Some(false));
    server.stop().await;
}

/// Calls every rpc once with `token` and returns the status codes, in a fixed order.
async fn codes(server: &ApiServer, token: Option<&str>) -> Vec<(&'static str, Code)> {
    let mut ledger = server.ledger().await;
    let mut admin = server.admin().await;
    macro_rules! call {
        ($client:ident . $rpc:ident ($message:expr)) => {
            (
                stringify!($rpc),
                match $client.$rpc(with_token($message, token)).await {
                    Ok(_) => Code::Ok,
                    Err(status) => status.code(),
                },
            )
        };
    }
    vec![
        call!(ledger.get_status(pb::GetStatusRequest {
            system: system(),
            ..Default::default()
        })),
        call!(ledger.list_accounts(pb::ListAccountsRequest {
            system: system(),
            ..Default::default()
        })),
        call!(ledger.list_employees(pb::ListEmployeesRequest::default())),
        call!(ledger.get_history(pb::GetHistoryRequest::default())),
        call!(ledger.list_events(pb::ListEventsRequest::default())),
        call!(ledger.stream_events(pb::StreamEventsRequest::default())),
        call!(ledger.get_digest(pb::GetDigestRequest {})),
        call!(ledger.verify_ledger(pb::VerifyLedgerRequest {})),
        call!(
            ledger.get_offboarding_report(pb::GetOffboardingReportRequest {
                system: system(),
                ..Default::default()
            })
        ),
        call!(ledger.get_check_timeline(pb::GetCheckTimelineRequest {
            system: system(),
            ..Default::default()
        })),
        call!(ledger.get_checkpoint(pb::GetCheckpointRequest {})),
        call!(ledger.get_inclusion_proof(pb::GetInclusionProofRequest::default())),
        call!(ledger.get_consistency_proof(pb::GetConsistencyProofRequest::default())),
        call!(admin.sync_now(pb::SyncNowRequest::default())),
        call!(admin.set_access_policy(pb::SetAccessPolicyRequest::default())),
        call!(admin.link_account(pb::LinkAccountRequest::default())),
        call!(admin.unlink_account(pb::UnlinkAccountRequest::default())),
        call!(admin.classify_account(pb::ClassifyAccountRequest::default())),
        call!(admin.upsert_employee(pb::UpsertEmployeeRequest::default())),
        call!(admin.offboard_employee(pb::OffboardEmployeeRequest::default())),
        call!(admin.import_roster(pb::ImportRosterRequest::default())),
        call!(admin.confirm_removals(pb::ConfirmRemovalsRequest::default())),
        call!(ledger.list_exceptions(pb::ListExceptionsRequest {
            system: system(),
            ..Default::default()
        })),
        call!(admin.grant_exception(pb::GrantExceptionRequest::default())),
        call!(admin.revoke_exception(pb::RevokeExceptionRequest::default())),
        call!(ledger.get_access_review(pb::GetAccessReviewRequest::default())),
        call!(ledger.list_access_reviews(pb::ListAccessReviewsRequest { system: system() })),
        call!(admin.start_access_review(pb::StartAccessReviewRequest::default())),
        call!(admin.decide_access_review(pb::DecideAccessReviewRequest::default())),
        call!(admin.complete_access_review(pb::CompleteAccessReviewRequest::default())),
        call!(admin.reassign_access_reviewer(pb::ReassignAccessReviewerRequest::default())),
        call!(admin.cancel_access_review(pb::CancelAccessReviewRequest::default())),
    ]
}

#[tokio::test]
async fn the_auth_matrix_holds_for_every_rpc() {
    let server = ApiServer::start(tokens()).await;
    let head = server.service.head();
    for (who, token) in [
        ("nobody", None),
        ("unknown", Some("guess")),
        ("auditor", Some(AUDITOR_TOKEN)),
        ("admin", Some(ADMIN_TOKEN)),
        ("reviewer", Some(REVIEWER_TOKEN)),
        ("admin with an employee", Some(LEAD_TOKEN)),
    ] {
        for (rpc, code) in codes(&server, token).await {
            let admin_rpc = rpc_is_admin(rpc);
            let review_rpc = matches!(
                rpc,
                "get_access_review" | "list_access_reviews" | "decide_access_review"
            );
            let expected_denial = match who {
                "nobody" | "unknown" => Some(Code::Unauthenticated),
                "auditor" if admin_rpc => Some(Code::PermissionDenied),
                // A reviewer reads and decides reviews, and nothing else.
                "reviewer" if !review_rpc => Some(Code::PermissionDenied),
                _ => None,
            };
            match expected_denial {
                Some(denial) => assert_eq!(code, denial, "{who} calling {rpc}"),
                None => assert!(
                    !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
                    "{who} calling {rpc} was refused with {code:?}"
                ),
            }
        }
    }
    assert_eq!(
        server.service.head(),
        head,
        "refused and empty calls append nothing"
    );
    server.stop().await;
}

fn rpc_is_admin(rpc: &str) -> bool {
    matches!(
        rpc,
        "sync_now"
            | "set_access_policy"
            | "link_account"
            | "unlink_account"
            | "classify_account"
            | "upsert_employee"
            | "offboard_employee"
            | "import_roster"
            | "confirm_removals"
            | "grant_exception"
            | "revoke_exception"
            | "start_access_review"
            | "decide_access_review"
            | "complete_access_review"
            | "reassign_access_reviewer"
            | "cancel_access_review"
    )
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let server = ApiServer::start(tokens()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel().await);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: api::LEDGER_SERVICE.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("reflection must list the services");
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for name in [
        api::LEDGER_SERVICE,
        api::ADMIN_SERVICE,
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|listed| listed == name),
            "{name} is not listed: {names:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_refused_naming_the_field() {
    let server = ApiServer::start(tokens()).await;
    let mut ledger = server.ledger().await;
    let mut admin_client = server.admin().await;
    admin_client
        .sync_now(admin(pb::SyncNowRequest { system: system() }))
        .await
        .unwrap();

    let bad_nanos = prost_types::Timestamp {
        seconds: 0,
        nanos: 2_000_000_000,
    };
    let far_future = prost_types::Timestamp {
        seconds: 400_000_000_000,
        nanos: 0,
    };
    let cases: Vec<(&str, Result<(), tonic::Status>, Code, &str)> = vec![
        (
            "nanos out of range",
            ledger
                .get_status(auditor(pb::GetStatusRequest {
                    system: system(),
                    as_of: Some(bad_nanos),
                    as_of_date: String::new(),
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`as_of`",
        ),
        (
            "year past 9999",
            ledger
                .list_employees(auditor(pb::ListEmployeesRequest {
                    as_of: Some(far_future),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`as_of`",
        ),
        (
            "unknown system",
            ledger
                .get_status(auditor(pb::GetStatusRequest {
                    system: "okta".to_owned(),
                    as_of: None,
                    as_of_date: String::new(),
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`system`",
        ),
        (
            "empty system",
            ledger
                .list_accounts(auditor(pb::ListAccountsRequest::default()))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`system`",
        ),
        (
            "empty account id",
            admin_client
                .link_account(admin(pb::LinkAccountRequest {
                    system: system(),
                    employee_id: "E-1".to_owned(),
                    reason: "r".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`account_id`",
        ),
        (
            "unknown account",
            admin_client
                .classify_account(admin(pb::ClassifyAccountRequest {
                    system: system(),
                    account_id: "u404".to_owned(),
                    classification: "service".to_owned(),
                    reason: "r".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::NotFound,
            "u404",
        ),
        (
            "unknown classification",
            admin_client
                .classify_account(admin(pb::ClassifyAccountRequest {
                    system: system(),
                    account_id: "u1".to_owned(),
                    classification: "robot".to_owned(),
                    reason: "r".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`classification`",
        ),
        (
            "unknown subject",
            ledger
                .get_history(auditor(pb::GetHistoryRequest {
                    subject: "nobody@acme.example".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::NotFound,
            "nobody@acme.example",
        ),
        (
            "zero offboarding grace, which the configuration refuses too",
            admin_client
                .set_access_policy(admin(pb::SetAccessPolicyRequest {
                    system: system(),
                    allowed_org_roles: vec!["*".to_owned()],
                    offboarding_grace: Some(prost_types::Duration {
                        seconds: 0,
                        nanos: 0,
                    }),
                    reason: "r".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`offboarding_grace` must be at least 1s",
        ),
        (
            "a window whose from is not before its to",
            ledger
                .get_check_timeline(auditor(pb::GetCheckTimelineRequest {
                    system: system(),
                    from_date: "2026-03-02".to_owned(),
                    to_date: "2026-03-01".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`from`",
        ),
        (
            "a window ending in the future",
            ledger
                .get_check_timeline(auditor(pb::GetCheckTimelineRequest {
                    system: system(),
                    from_date: "2026-03-01".to_owned(),
                    to: Some(prost_types::Timestamp {
                        seconds: chrono::Utc::now().timestamp() + 86_400,
                        nanos: 0,
                    }),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`to`",
        ),
        (
            "a window without a start",
            ledger
                .get_check_timeline(auditor(pb::GetCheckTimelineRequest {
                    system: system(),
                    to_date: "2026-03-01".to_owned(),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`from` is required",
        ),
        (
            "too large a page",
            ledger
                .list_events(auditor(pb::ListEventsRequest {
                    after_seq: 0,
                    limit: 5_000,
                }))
                .await
                .map(|_| ()),
            Code::InvalidArgument,
            "`limit`",
        ),
    ];
    for (name, result, code, words) in cases {
        let status = result.expect_err(name);
        assert_eq!(status.code(), code, "{name}: {status:?}");
        assert!(
            status.message().contains(words),
            "{name}: {}",
            status.message()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_failed_admin_write_changes_nothing() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    admin_client
        .sync_now(admin(pb::SyncNowRequest { system: system() }))
        .await
        .unwrap();
    let head = server.service.head();

    let link = admin_client
        .link_account(admin(pb::LinkAccountRequest {
            system: system(),
            account_id: "u1".to_owned(),
            employee_id: "E-404".to_owned(),
            reason: "typo".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(link.code(), Code::NotFound);
    let roster = admin_client
        .import_roster(admin(pb::ImportRosterRequest {
            csv: b"email,org_role\nann@acme.example,IT\nnot-an-email,IT\n".to_vec(),
        }))
        .await
        .unwrap_err();
    assert_eq!(roster.code(), Code::InvalidArgument);
    assert!(roster.message().contains("line 3"), "{}", roster.message());
    assert_eq!(server.service.head(), head);
    server.stop().await;
}

/// Reads a follower's stream until it has seen `last_seq`.
async fn drain(
    mut stream: tonic::Streaming<pb::StreamEventsResponse>,
    last_seq: u64,
) -> Vec<pb::Event> {
    let mut events = Vec::new();
    while events
        .last()
        .is_none_or(|event: &pb::Event| event.seq < last_seq)
    {
        let response = stream
            .message()
            .await
            .unwrap()
            .expect("the stream stays open while following");
        events.push(response.event.unwrap());
    }
    events
}

#[tokio::test]
async fn followers_see_every_event_once_in_order_while_batches_are_appended() {
    let server = ApiServer::start(tokens()).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(server.ledger().await);
    }
    let mut streams = Vec::new();
    for client in &mut clients {
        let request = auditor(pb::StreamEventsRequest {
            after_seq: 0,
            follow: true,
        });
        streams.push(client.stream_events(request).await.unwrap().into_inner());
    }

    let ledger = server.ledger.clone();
    let writer = tokio::task::spawn_blocking(move || {
        for batch in 0..40u64 {
            let events = (0..=batch % 5)
                .map(|index| Event::AccountDeclassified {
                    system: SystemId::tailscale(),
                    account_id: format!("u{batch}-{index}"),
                    reason: "stream test".to_owned(),
                })
                .collect();
            ledger
                .append(tailledger::time::Timestamp::now(), Actor::Demo, events)
                .unwrap();
        }
        ledger.log().head().unwrap().seq
    });
    // Three followers read while the writer appends; the fourth reads only once it is done, so
    // its buffer fills up and it must catch up from the store.
    let mut readers = Vec::new();
    let slow = streams.pop().unwrap();
    let last_seq = writer.await.unwrap();
    for stream in streams {
        readers.push(tokio::spawn(drain(stream, last_seq)));
    }
    readers.push(tokio::spawn(drain(slow, last_seq)));
    for reader in readers {
        let events = reader.await.unwrap();
        assert_eq!(events.len() as u64, last_seq);
        assert_chain(&events, zero());
    }

    // A follower that starts in the middle gets exactly the rest.
    let mut late = server.ledger().await;
    let middle = last_seq / 2;
    let previous = server.ledger.log().get(middle).unwrap().unwrap();
    let rest = late
        .stream_events(auditor(pb::StreamEventsRequest {
            after_seq: middle,
            follow: false,
        }))
        .await
        .unwrap()
        .into_inner();
    let events = drain(rest, last_seq).await;
    assert_chain(&events, (middle, previous.hash.to_string()));
    server.stop().await;
}

#[tokio::test]
async fn oversized_messages_and_strings_are_refused() {
    let server = ApiServer::start(tokens()).await;
    let mut ledger = server.ledger().await;
    let mut admin_client = server.admin().await;
    let head = server.service.head();

    let huge_subject = "x".repeat(2 << 20);
    let refused = ledger
        .get_history(auditor(pb::GetHistoryRequest {
            subject: huge_subject,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.code(),
            Code::ResourceExhausted | Code::OutOfRange | Code::InvalidArgument
        ),
        "a 2 MiB read request: {refused:?}"
    );

    let huge_roster = vec![b'a'; 60 << 20];
    let refused = admin_client
        .import_roster(admin(pb::ImportRosterRequest { csv: huge_roster }))
        .await
        .unwrap_err();
    assert!(
        matches!(refused.code(), Code::ResourceExhausted | Code::OutOfRange),
        "a 60 MiB roster: {refused:?}"
    );

    let long_reason = "r".repeat(5_000);
    let refused = admin_client
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: system(),
            allowed_org_roles: vec![long_reason.clone()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("`allowed_org_roles`")
            && refused.message().contains("at most 4096"),
        "{}",
        refused.message()
    );
    let refused = ledger
        .get_history(auditor(pb::GetHistoryRequest {
            subject: long_reason,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    let negative = admin_client
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: system(),
            allowed_org_roles: vec!["IT".to_owned()],
            offboarding_grace: Some(prost_types::Duration {
                seconds: -5,
                nanos: 0,
            }),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(negative.code(), Code::InvalidArgument);
    assert!(
        negative.message().contains("`offboarding_grace`"),
        "{}",
        negative.message()
    );
    assert_eq!(server.service.head(), head, "nothing refused was recorded");
    server.stop().await;
}

/// The integration check's findings: (reason, login name).
async fn integration_findings(server: &ApiServer) -> (i32, Vec<(String, String)>) {
    let status = server
        .ledger()
        .await
        .get_status(auditor(pb::GetStatusRequest {
            system: system(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let check = status
        .checks
        .into_iter()
        .find(|check| check.check_id == "integration-healthy")
        .unwrap();
    let mut findings: Vec<(String, String)> = check
        .findings
        .into_iter()
        .map(|finding| (finding.reason, finding.subject.unwrap().login_name))
        .collect();
    findings.sort();
    (check.state, findings)
}

#[tokio::test]
async fn confirm_removals_releases_withheld_removals_dated_when_they_were_first_missed() {
    let server = ApiServer::start(tokens()).await;
    for index in 4..=10 {
        server
            .fixture
            .tailnet
            .upsert_user(tailledger::simulator::SimUser::member(
                &format!("u{index}"),
                &format!("person{index}@acme.example"),
                &format!("Person {index}"),
            ));
    }
    let mut admin_api = server.admin().await;
    let sync_now = || pb::SyncNowRequest { system: system() };
    admin_api.sync_now(admin(sync_now())).await.unwrap();
    for index in 5..=10 {
        server
            .fixture
            .tailnet
            .remove_user(&format!("u{index}"))
            .unwrap();
    }
    let withheld = admin_api
        .sync_now(admin(sync_now()))
        .await
        .unwrap()
        .into_inner();
    assert!(withheld.anomaly, "{withheld:?}");
    let Some(pb::event::Event::SyncCompleted(completed)) =
        withheld.events.last().and_then(|event| event.event.clone())
    else {
        panic!("the sync's batch ends with SyncCompleted: {withheld:?}");
    };
    let mut expected: Vec<(String, String)> = (5..=10)
        .map(|index| {
            (
                "removals-withheld".to_owned(),
                format!("person{index}@acme.example"),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(
        integration_findings(&server).await,
        (pb::CheckState::Failing as i32, expected)
    );

    let head = server.service.head();
    let confirm = |sync_id: &str, reason: &str| pb::ConfirmRemovalsRequest {
        system: system(),
        sync_id: sync_id.to_owned(),
        reason: reason.to_owned(),
    };
    let refusals = [
        (
            confirm("tailscale-000009", "real"),
            Code::NotFound,
            "tailscale-000009",
        ),
        (
            confirm(&withheld.sync_id, " "),
            Code::InvalidArgument,
            "`reason`",
        ),
        (confirm("", "real"), Code::InvalidArgument, "`sync_id`"),
    ];
    for (request, code, named) in refusals {
        let refused = admin_api
            .confirm_removals(admin(request))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), code, "{refused:?}");
        assert!(refused.message().contains(named), "{refused:?}");
    }
    let refused = admin_api
        .confirm_removals(auditor(confirm(&withheld.sync_id, "real")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        server.service.head(),
        head,
        "a refused call appends nothing"
    );

    let confirmed = admin_api
        .confirm_removals(admin(confirm(&withheld.sync_id, "the March offboarding")))
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = confirmed.events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(types[0], "RemovalsConfirmed");
    assert_eq!(types[1..], ["UserRemoved"; 6]);
    assert!(
        confirmed
            .events
            .iter()
            .all(|event| event.actor == "api:ops")
    );
    for event in &confirmed.events[1..] {
        let Some(pb::event::Event::UserRemoved(removed)) = &event.event else {
            panic!("{event:?}");
        };
        assert_eq!(removed.observed_at, completed.started_at, "{removed:?}");
    }
    assert_eq!(
        integration_findings(&server).await,
        (pb::CheckState::Passing as i32, vec![])
    );
    let again = admin_api
        .confirm_removals(admin(confirm(&withheld.sync_id, "again")))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound, "nothing is withheld any more");
}

#[tokio::test]
async fn as_of_takes_a_date_refuses_the_future_and_says_nothing_recorded_before_the_first_entry() {
    let server = ApiServer::start(tokens()).await;
    let mut ledger = server.ledger().await;
    server
        .admin()
        .await
        .sync_now(admin(pb::SyncNowRequest { system: system() }))
        .await
        .unwrap();
    let first = ledger
        .list_events(auditor(pb::ListEventsRequest {
            after_seq: 0,
            limit: 1,
        }))
        .await
        .unwrap()
        .into_inner()
        .events
        .remove(0)
        .recorded_at
        .unwrap();
    // The server's roster timezone is UTC: the first entry's day, and the days around it.
    let first_day = chrono::DateTime::from_timestamp(first.seconds, 0)
        .unwrap()
        .date_naive();
    let day = |offset: i64| {
        (first_day + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let status = |as_of: Option<prost_types::Timestamp>, as_of_date: String| {
        auditor(pb::GetStatusRequest {
            system: system(),
            as_of,
            as_of_date,
        })
    };

    let that_day = ledger
        .get_status(status(None, day(0)))
        .await
        .unwrap()
        .into_inner();
    assert!(
        that_day.ledger_seq > 0,
        "the day of the first entry knows it"
    );
    let evaluated = that_day.evaluated_at.unwrap();
    assert!(evaluated.seconds >= first.seconds, "{evaluated:?}");

    let before = ledger.get_status(status(None, day(-1))).await.unwrap_err();
    assert_eq!(before.code(), Code::NotFound, "{before:?}");
    assert!(
        before.message().contains("nothing recorded yet"),
        "{}",
        before.message()
    );
    let long_ago = prost_types::Timestamp {
        seconds: 946_684_800,
        nanos: 0,
    };
    let early = ledger
        .get_status(status(Some(long_ago), String::new()))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::NotFound, "{early:?}");
    assert!(
        early
            .message()
            .contains("nothing recorded yet at 2000-01-01")
    );

    let tomorrow_instant = prost_types::Timestamp {
        seconds: first.seconds + 2 * 86_400,
        nanos: 0,
    };
    for (name, request) in [
        (
            "future instant",
            status(Some(tomorrow_instant), String::new()),
        ),
        ("future date", status(None, day(2))),
    ] {
        let refused = ledger.get_status(request).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name}: {refused:?}");
        assert!(
            refused.message().contains("`as_of`") && refused.message().contains("in the future"),
            "{name}: {}",
            refused.message()
        );
    }
    let both = ledger
        .get_status(status(Some(long_ago), day(0)))
        .await
        .unwrap_err();
    assert!(
        both.message().contains("`as_of_date`"),
        "{}",
        both.message()
    );
    let malformed = ledger
        .get_status(status(None, "2026-3-1".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().contains("`as_of_date`"));
    server.stop().await;
}

/// What a history holds, in words: each event's type and the id of the account, device or key
/// it is about.
fn described(events: &[pb::Event]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            let canonical: serde_json::Value = serde_json::from_str(&event.canonical_json).unwrap();
            let body = &canonical["event"];
            let id = ["account", "device", "key"]
                .iter()
                .find_map(|thing| body[thing]["id"].as_str())
                .or_else(|| body["account_id"].as_str())
                .unwrap_or("-");
            format!("{} {id}", event.r#type)
        })
        .collect()
}

#[tokio::test]
async fn get_history_by_login_name_follows_a_rename_and_its_devices() {
    use tailledger::simulator::{SimAuthKey, SimDevice, SimUser};

    let server = ApiServer::start(tokens()).await;
    let tailnet = &server.fixture.tailnet;
    tailnet.upsert_user(SimUser::member("u7", "Lee@acme.example", "Lee Park"));
    tailnet.upsert_device(SimDevice::registered_by(
        "n7",
        "lee-laptop",
        "Lee@acme.example",
    ));
    tailnet.upsert_device(SimDevice::registered_by(
        "n8",
        "lee-phone",
        "lee@acme.example",
    ));
    tailnet.add_auth_key(SimAuthKey {
        id: "k7".to_owned(),
        user_id: "u7".to_owned(),
        description: "Lee's deploys".to_owned(),
        reusable: false,
        tags: Vec::new(),
        expires: None,
    });
    let mut admin_api = server.admin().await;
    let sync_now = || admin(pb::SyncNowRequest { system: system() });
    admin_api.sync_now(sync_now()).await.unwrap();

    // Lee is renamed, the laptop follows the new name (the phone still says the old one), and a
    // new account takes the old name.
    tailnet.upsert_user(SimUser::member("u7", "lee.park@acme.example", "Lee Park"));
    tailnet.upsert_device(SimDevice::registered_by(
        "n7",
        "lee-laptop",
        "lee.park@acme.example",
    ));
    tailnet.upsert_user(SimUser::member("u9", "lee@acme.example", "Lee Other"));
    admin_api.sync_now(sync_now()).await.unwrap();

    let mut ledger = server.ledger().await;
    let mut history = async |subject: &str| {
        let events = ledger
            .get_history(auditor(pb::GetHistoryRequest {
                subject: subject.to_owned(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .events;
        described(&events)
    };
    assert_eq!(
        history("LEE.PARK@acme.example").await,
        [
            "UserSeen u7",
            "DeviceSeen n7",
            "KeySeen k7",
            "UserSeen u7",
            "DeviceChanged n7"
        ],
        "the renamed account, the device registered under its new name and its key"
    );
    assert_eq!(
        history("lee@acme.example").await,
        ["DeviceSeen n8", "UserSeen u9"],
        "the old name is the new account's, with the device that still names it"
    );
    assert_eq!(history("u7").await, history("lee.park@acme.example").await);
    server.stop().await;
}
