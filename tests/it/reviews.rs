//! User access reviews over gRPC (docs/reference/checks.md#reviews): a review pinned to a seq lists
//! exactly the accounts holding access then, whatever happens after, and its population digest is
//! recomputed from the JSON Lines export; reviewers decide only reviews they review and never their
//! own account; every bad request is refused naming the field, with nothing recorded; the
//! follow-through is read from the sync that shows a revoked account gone.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tailledger::api::pb;
use tailledger::api::pb::admin_service_client::AdminServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::api::{
    ADMIN_TOKEN, AUDITOR_TOKEN, ApiServer, LEAD_EMPLOYEE, LEAD_TOKEN, REVIEWER_EMPLOYEE,
    REVIEWER_TOKEN, admin, auditor, tokens, with_token,
};

fn tailscale() -> String {
    "tailscale".to_owned()
}

/// Dana (`u1`, owner) is the lead E-1, Marco (`u2`, it-admin) the reviewer E-2; Priya (`u3`) is
/// a partner no roster knows.
const ROSTER: &str = "employee_id,email,name,org_role\nE-1,dana@acme.example,Dana Whitfield,IT\nE-2,marco@acme.example,Marco Ibanez,IT\n";

fn in_days(days: u64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp::from(
        SystemTime::now() + Duration::from_secs(days * 24 * 3600),
    ))
}

fn start(scope: &str, reviewers: &[&str]) -> pb::StartAccessReviewRequest {
    pb::StartAccessReviewRequest {
        system: tailscale(),
        reviewer_employee_ids: reviewers.iter().map(|id| (*id).to_owned()).collect(),
        due_at: in_days(14),
        scope: scope.to_owned(),
    }
}

fn decide(
    review_id: &str,
    account_id: &str,
    decision: &str,
    reason: &str,
    new_role: &str,
) -> pb::DecideAccessReviewRequest {
    pb::DecideAccessReviewRequest {
        review_id: review_id.to_owned(),
        account_id: account_id.to_owned(),
        decision: decision.to_owned(),
        reason: reason.to_owned(),
        new_role: new_role.to_owned(),
        decisions: Vec::new(),
    }
}

/// A request as Dana, an admin whose token names her employee.
fn lead<T>(message: T) -> tonic::Request<T> {
    with_token(message, Some(LEAD_TOKEN))
}

/// A request as Marco, a `reviewer`.
fn reviewer<T>(message: T) -> tonic::Request<T> {
    with_token(message, Some(REVIEWER_TOKEN))
}

async fn sync(server: &ApiServer) {
    server
        .admin()
        .await
        .sync_now(admin(pb::SyncNowRequest {
            system: tailscale(),
        }))
        .await
        .unwrap();
}

/// The accounts of a review, by id.
fn population(review: &pb::AccessReview) -> Vec<&str> {
    review
        .population
        .iter()
        .map(|account| account.account_id.as_str())
        .collect()
}

/// The SHA-256 of a review's population as anyone recomputes it from an export: the
/// `population` arrays of its `AccessReviewStarted` lines in part order, as one RFC 8785 array.
fn population_digest_from_export(export: &str, review_id: &str) -> (String, u64) {
    let mut parts: Vec<(u64, Vec<Value>, String, u64)> = export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| {
            line["event"]["type"] == "AccessReviewStarted"
                && line["event"]["review_id"] == review_id
        })
        .map(|line| {
            let event = &line["event"];
            (
                event["part"].as_u64().unwrap(),
                event["population"].as_array().unwrap().clone(),
                event["population_sha256"].as_str().unwrap().to_owned(),
                event["pinned_seq"].as_u64().unwrap(),
            )
        })
        .collect();
    parts.sort_by_key(|part| part.0);
    assert!(!parts.is_empty(), "{review_id} is in the export");
    let recorded = parts[0].2.clone();
    let pinned = parts[0].3;
    let whole: Vec<Value> = parts.into_iter().flat_map(|part| part.1).collect();
    let canonical = serde_json_canonicalizer::to_vec(&Value::Array(whole)).unwrap();
    let recomputed = hex::encode(Sha256::digest(&canonical));
    assert_eq!(
        recomputed, recorded,
        "the recorded digest is the population's"
    );
    (recomputed, pinned)
}

/// Acceptance 1 of the access review issue: the population is the accounts holding access at
/// the pinned seq, not after, and its digest is the export's.
#[tokio::test]
async fn a_review_pins_the_population_at_its_seq_and_the_export_proves_its_digest() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    let mut ledger = server.ledger().await;
    // Marco is back from his suspension, so both admins hold access.
    server.fixture().tailnet.set_status("u2", "active").unwrap();
    sync(&server).await;
    admin_client
        .import_roster(admin(pb::ImportRosterRequest {
            csv: ROSTER.as_bytes().to_vec(),
        }))
        .await
        .unwrap();

    // No policy yet: nothing to review access against.
    let head = server.service.head();
    let refused = admin_client
        .start_access_review(admin(start("privileged", &[LEAD_EMPLOYEE])))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("`system`") && refused.message().contains("no access policy"),
        "{}",
        refused.message()
    );
    assert_eq!(
        server.service.head(),
        head,
        "a refused start records nothing"
    );

    admin_client
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: tailscale(),
            allowed_org_roles: vec!["*".to_owned()],
            reason: "reviews".to_owned(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let holding: Vec<String> = ledger
        .list_accounts(auditor(pb::ListAccountsRequest {
            system: tailscale(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .accounts
        .into_iter()
        .filter(|account| account.holds_access)
        .map(|account| account.account_id)
        .collect();
    let pinned_at = server.service.head().unwrap().seq;
    let started = admin_client
        .start_access_review(admin(start("all", &[LEAD_EMPLOYEE, REVIEWER_EMPLOYEE])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.review_id, "AR-1");
    let privileged = admin_client
        .start_access_review(admin(start("privileged", &[LEAD_EMPLOYEE])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(privileged.review_id, "AR-2");

    // What happens after changes nothing of the pinned populations.
    server.fixture().tailnet.set_role("u3", "admin").unwrap();
    server.fixture().tailnet.remove_user("u2").unwrap();
    sync(&server).await;

    let get = |review_id: &str| {
        let mut ledger = ledger.clone();
        let request = auditor(pb::GetAccessReviewRequest {
            review_id: review_id.to_owned(),
        });
        async move {
            ledger
                .get_access_review(request)
                .await
                .unwrap()
                .into_inner()
                .review
                .unwrap()
        }
    };
    let all = get("AR-1").await;
    assert_eq!(all.pinned_seq, pinned_at);
    assert_eq!(
        population(&all),
        holding,
        "exactly the accounts holding access at the pinned seq"
    );
    let admins = get("AR-2").await;
    assert_eq!(
        population(&admins),
        ["u1", "u2"],
        "the owner and the it-admin, not Priya's later admin role"
    );
    let dana = &all.population[0];
    assert_eq!(
        (
            dana.employee_id.as_str(),
            dana.link.as_str(),
            dana.org_role.as_str(),
            dana.role.as_str()
        ),
        ("E-1", "auto", "IT", "owner")
    );
    let priya = all
        .population
        .iter()
        .find(|account| account.account_id == "u3")
        .unwrap();
    assert_eq!(
        priya.findings,
        ["unidentified"],
        "the findings about it at the pinned seq"
    );

    let export_file = tempfile::NamedTempFile::new().unwrap();
    server
        .ledger
        .log()
        .export_to_file(export_file.path(), &|_| {})
        .unwrap();
    let export = std::fs::read_to_string(export_file.path()).unwrap();
    for (review, id) in [(&all, "AR-1"), (&admins, "AR-2")] {
        let (digest, pinned) = population_digest_from_export(&export, id);
        assert_eq!(digest, review.population_sha256);
        assert_eq!(pinned, review.pinned_seq);
    }
    for token in [ADMIN_TOKEN, AUDITOR_TOKEN, REVIEWER_TOKEN, LEAD_TOKEN] {
        assert!(!export.contains(token), "a token is in the export");
    }
    server.stop().await;
}

/// Marco back from his suspension (so both admins hold access) and synced, the roster imported,
/// and a policy that lets every org role in: the ground the gRPC review tests start from.
async fn both_admins_on_the_roster(
    server: &ApiServer,
    admin_client: &mut AdminServiceClient<Channel>,
) {
    server.fixture().tailnet.set_status("u2", "active").unwrap();
    sync(server).await;
    admin_client
        .import_roster(admin(pb::ImportRosterRequest {
            csv: ROSTER.as_bytes().to_vec(),
        }))
        .await
        .unwrap();
    admin_client
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: tailscale(),
            allowed_org_roles: vec!["*".to_owned()],
            reason: "reviews".to_owned(),
            ..Default::default()
        }))
        .await
        .unwrap();
}

/// The lifecycle over gRPC with every refusal of docs/reference/api.md#reviews and the issue, each
/// naming its field and recording nothing; a revoke's follow-through is the sync that shows the
/// account gone.
#[tokio::test]
async fn reviewers_decide_their_reviews_only_and_bad_decisions_record_nothing() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    let mut ledger = server.ledger().await;
    both_admins_on_the_roster(&server, &mut admin_client).await;
    admin_client
        .start_access_review(admin(start(
            "privileged",
            &[LEAD_EMPLOYEE, REVIEWER_EMPLOYEE],
        )))
        .await
        .unwrap();
    admin_client
        .start_access_review(admin(start("all", &[LEAD_EMPLOYEE])))
        .await
        .unwrap();

    let head = server.service.head();
    let mut rows = decide("AR-1", "", "", "", "");
    rows.decisions = vec![
        pb::ReviewDecisionInput {
            account_id: "u2".to_owned(),
            decision: "revoke".to_owned(),
            reason: "left the platform team".to_owned(),
            new_role: String::new(),
            line: 2,
        },
        pb::ReviewDecisionInput {
            account_id: "u3".to_owned(),
            decision: "keep".to_owned(),
            reason: "partner".to_owned(),
            new_role: String::new(),
            line: 3,
        },
        pb::ReviewDecisionInput {
            account_id: "u2".to_owned(),
            decision: "maybe".to_owned(),
            reason: "owner".to_owned(),
            new_role: String::new(),
            line: 4,
        },
    ];
    let cases = [
        (
            "outside the population",
            lead(decide("AR-1", "u3", "keep", "partner", "")),
            Code::InvalidArgument,
            "`account_id` `u3` is not in the population",
        ),
        (
            "empty reason",
            lead(decide("AR-1", "u2", "keep", " ", "")),
            Code::InvalidArgument,
            "`reason`",
        ),
        (
            "modify without new_role",
            lead(decide("AR-1", "u2", "modify", "least privilege", "")),
            Code::InvalidArgument,
            "`new_role`",
        ),
        (
            "self-review",
            lead(decide("AR-1", "u1", "keep", "I need it", "")),
            Code::InvalidArgument,
            "self-review-refused",
        ),
        (
            "unknown review",
            lead(decide("AR-9", "u1", "keep", "r", "")),
            Code::NotFound,
            "access review `AR-9`",
        ),
        (
            "a token naming no employee",
            admin(decide("AR-1", "u2", "keep", "r", "")),
            Code::PermissionDenied,
            "`employee_id` token `ops` names no employee",
        ),
        (
            "not a reviewer of this review",
            reviewer(decide("AR-2", "u1", "keep", "r", "")),
            Code::PermissionDenied,
            "is not a reviewer of `AR-2`",
        ),
        (
            "an auditor",
            auditor(decide("AR-1", "u2", "keep", "r", "")),
            Code::PermissionDenied,
            "role auditor",
        ),
        (
            "rows from a file, two bad",
            lead(rows),
            Code::InvalidArgument,
            "line 3: `account_id` `u3` is not in the population",
        ),
    ];
    for (what, request, code, named) in cases {
        let refused = admin_client
            .decide_access_review(request)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), code, "{what}: {refused:?}");
        assert!(
            refused.message().contains(named),
            "{what}: {}",
            refused.message()
        );
        if what.starts_with("rows") {
            assert!(
                refused
                    .message()
                    .contains("line 4: `decision` `maybe` is not a decision"),
                "{}",
                refused.message()
            );
            assert!(
                !refused.message().contains("line 2"),
                "the good row is not a problem"
            );
        }
    }
    let refused = admin_client
        .complete_access_review(admin(pb::CompleteAccessReviewRequest {
            review_id: "AR-1".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("`review_id` `AR-1` has 2 accounts without a decision"),
        "{}",
        refused.message()
    );
    // A reviewer reads its own reviews only, and nothing else.
    let denied = ledger
        .get_access_review(reviewer(pb::GetAccessReviewRequest {
            review_id: "AR-2".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let listed = ledger
        .list_access_reviews(reviewer(pb::ListAccessReviewsRequest {
            system: tailscale(),
        }))
        .await
        .unwrap()
        .into_inner()
        .reviews;
    assert_eq!(
        listed
            .iter()
            .map(|review| review.review_id.as_str())
            .collect::<Vec<_>>(),
        ["AR-1"]
    );
    let denied = ledger
        .get_status(reviewer(pb::GetStatusRequest {
            system: tailscale(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        server.service.head(),
        head,
        "refused requests record nothing"
    );

    // Marco decides Dana's account, Dana Marco's, twice: the second supersedes the first.
    admin_client
        .decide_access_review(reviewer(decide(
            "AR-1",
            "u1",
            "keep",
            "owns the tailnet",
            "",
        )))
        .await
        .unwrap();
    admin_client
        .decide_access_review(lead(decide(
            "AR-1",
            "u2",
            "modify",
            "least privilege",
            "member",
        )))
        .await
        .unwrap();
    admin_client
        .decide_access_review(lead(decide(
            "AR-1",
            "u2",
            "revoke",
            "left the platform team",
            "",
        )))
        .await
        .unwrap();
    let completed = admin_client
        .complete_access_review(admin(pb::CompleteAccessReviewRequest {
            review_id: "AR-1".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.events.len(), 1);
    let refused = admin_client
        .decide_access_review(lead(decide("AR-1", "u2", "keep", "changed my mind", "")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("`review_id` `AR-1` was completed"),
        "{}",
        refused.message()
    );

    let review = ledger
        .get_access_review(auditor(pb::GetAccessReviewRequest {
            review_id: "AR-1".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    let history: Vec<(&str, &str, &str)> = review
        .decisions
        .iter()
        .map(|decision| {
            (
                decision.account_id.as_str(),
                decision.decision.as_str(),
                decision.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("u1", "keep", "api:rev"),
            ("u2", "modify", "api:lead"),
            ("u2", "revoke", "api:lead")
        ]
    );
    assert_eq!(review.decided_count, 2);
    assert_eq!(
        review.follow_through.len(),
        1,
        "the revoke in force, not the superseded modify"
    );
    assert_eq!(review.follow_through[0].decision, "revoke");
    assert!(review.follow_through[0].done_at.is_none());

    server.fixture().tailnet.remove_user("u2").unwrap();
    sync(&server).await;
    let removed_at = server.service.head().unwrap().seq;
    let review = ledger
        .get_access_review(auditor(pb::GetAccessReviewRequest {
            review_id: "AR-1".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    let done = review.follow_through[0].done_seq;
    assert!(
        done > review.completed_seq && done < removed_at,
        "done at the sync's UserRemoved, seq {done}"
    );
    let status = ledger
        .get_status(auditor(pb::GetStatusRequest {
            system: tailscale(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let actions = status
        .checks
        .iter()
        .find(|check| check.check_id == "access-review-actions-done")
        .unwrap();
    assert_eq!(actions.state(), pb::CheckState::Passing, "{actions:?}");
    server.stop().await;
}

/// Item 5 of issue 38: once Marco has left, his reviewer token decides nothing on a review he
/// was named on, and no review can be started with him as a reviewer; both are refused as a
/// failed precondition naming his offboarding, and nothing is recorded.
#[tokio::test]
async fn a_leaver_neither_decides_nor_is_made_a_reviewer() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    both_admins_on_the_roster(&server, &mut admin_client).await;
    admin_client
        .start_access_review(admin(start("all", &[LEAD_EMPLOYEE, REVIEWER_EMPLOYEE])))
        .await
        .unwrap();
    let offboarded = admin_client
        .offboard_employee(admin(pb::OffboardEmployeeRequest {
            employee_id: REVIEWER_EMPLOYEE.to_owned(),
            effective_at: None,
            reason: "left".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    let offboarded_seq = offboarded.events[0].seq;
    let head = server.service.head();

    let refused = admin_client
        .decide_access_review(reviewer(decide("AR-1", "u1", "keep", "owner", "")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused
            .message()
            .contains(&format!("`{REVIEWER_EMPLOYEE}` was offboarded at "))
            && refused
                .message()
                .contains(&format!("(recorded at seq {offboarded_seq})")),
        "{}",
        refused.message()
    );
    let refused = admin_client
        .start_access_review(admin(start("all", &[LEAD_EMPLOYEE, REVIEWER_EMPLOYEE])))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("`reviewer_employee_ids`")
            && refused
                .message()
                .contains(&format!("(recorded at seq {offboarded_seq})")),
        "{}",
        refused.message()
    );
    assert_eq!(server.service.head(), head, "nothing was recorded");
    // Dana, who has not left, still decides.
    admin_client
        .decide_access_review(lead(decide("AR-1", "u2", "keep", "admin", "")))
        .await
        .unwrap();
}

/// A reviewer's part handed over and a review withdrawn, both recorded over gRPC: the one
/// replaced decides no more, what they decided stays, each bad request is refused naming its
/// field with nothing recorded, and a cancelled review takes nothing more and is listed so.
#[tokio::test]
async fn a_reviewer_is_handed_over_and_a_cancelled_review_takes_nothing_more() {
    let server = ApiServer::start(tokens()).await;
    let mut admin_client = server.admin().await;
    let mut ledger = server.ledger().await;
    both_admins_on_the_roster(&server, &mut admin_client).await;
    admin_client
        .start_access_review(admin(start("all", &[REVIEWER_EMPLOYEE])))
        .await
        .unwrap();
    admin_client
        .decide_access_review(reviewer(decide("AR-1", "u1", "keep", "owner", "")))
        .await
        .unwrap();

    let head = server.service.head();
    let reassign = |to: &str, reason: &str| pb::ReassignAccessReviewerRequest {
        review_id: "AR-1".to_owned(),
        from_employee_id: REVIEWER_EMPLOYEE.to_owned(),
        to_employee_id: to.to_owned(),
        reason: reason.to_owned(),
    };
    for (request, field) in [
        (reassign("E-404", "on leave"), "to_employee_id"),
        (reassign(REVIEWER_EMPLOYEE, "on leave"), "to_employee_id"),
        (reassign(LEAD_EMPLOYEE, " "), "reason"),
    ] {
        let refused = admin_client
            .reassign_access_reviewer(admin(request))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert!(refused.message().contains(field), "{}", refused.message());
    }
    let refused = admin_client
        .reassign_access_reviewer(reviewer(reassign(LEAD_EMPLOYEE, "mine")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(server.service.head(), head, "refusals record nothing");

    let handed = admin_client
        .reassign_access_reviewer(admin(reassign(LEAD_EMPLOYEE, "Marco is on leave")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(handed.events.len(), 1);
    let refused = admin_client
        .decide_access_review(reviewer(decide("AR-1", "u3", "keep", "partner", "")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let review = ledger
        .get_access_review(auditor(pb::GetAccessReviewRequest {
            review_id: "AR-1".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner()
        .review
        .unwrap();
    assert_eq!(review.reviewers, [LEAD_EMPLOYEE]);
    assert_eq!(review.reassignments.len(), 1);
    assert_eq!(review.reassignments[0].from_employee_id, REVIEWER_EMPLOYEE);
    assert_eq!(review.decisions.len(), 1, "Marco's decision stays in force");

    let cancelled = admin_client
        .cancel_access_review(admin(pb::CancelAccessReviewRequest {
            review_id: "AR-1".to_owned(),
            reason: "started with the wrong scope".to_owned(),
        }))
        .await
        .unwrap()
        .into_inner();
    let cancelled_seq = cancelled.events[0].seq;
    let head = server.service.head();
    let refused = admin_client
        .decide_access_review(lead(decide("AR-1", "u3", "keep", "partner", "")))
        .await
        .unwrap_err();
    assert!(refused.message().contains("was cancelled"), "{refused:?}");
    let refused = admin_client
        .cancel_access_review(admin(pb::CancelAccessReviewRequest {
            review_id: "AR-1".to_owned(),
            reason: "again".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let refused = admin_client
        .cancel_access_review(admin(pb::CancelAccessReviewRequest {
            review_id: "AR-9".to_owned(),
            reason: "unknown".to_owned(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert_eq!(server.service.head(), head, "refusals record nothing");
    let listed = ledger
        .list_access_reviews(auditor(pb::ListAccessReviewsRequest {
            system: tailscale(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reviews[0].cancelled_seq, cancelled_seq);
    server.stop().await;
}
