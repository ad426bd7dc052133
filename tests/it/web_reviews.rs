//! An admin hands a reviewer's part of an access review to someone else and cancels a review
//! from the web console: each a form refused without its CSRF token or for another role,
//! refused naming the field when wrong, and otherwise recorded as `web:<token name>` and shown.

use reqwest::StatusCode;
use tailledger::event::Event;
use tailledger::listener::HttpLimits;

use crate::web::{ADMIN_TOKEN, AUDITOR_TOKEN, Console, LEAD_TOKEN, REVIEWER_TOKEN, same_origin};

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_reassigns_a_reviewer_and_cancels_a_review() {
    let console = Console::start(HttpLimits::default()).await;
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let id = console.start_review(&admin, "E-1").await;
    let url = format!("/reviews/{id}");
    let (reassign, cancel) = (format!("{url}/reassign"), format!("{url}/cancel"));

    // Only an admin is offered the two forms.
    let (_, page) = console.get(Some(&admin), &url).await;
    for action in ["reassign-reviewer", "cancel-review"] {
        assert!(
            page.contains(&format!("data-action=\"{action}\"")),
            "{page}"
        );
    }
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let (status, page) = console.get(Some(&auditor), &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("data-action="), "{page}");
    let reviewer = console.sign_in(REVIEWER_TOKEN).await;
    let (status, _) = console.get(Some(&reviewer), &url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not yet E-2's review");

    // Refused: another role, another session's CSRF token, a reviewer not on the roster.
    let before = console.head_seq();
    let handover = [
        ("from_employee_id", "E-1"),
        ("to_employee_id", "E-2"),
        ("reason", "Dana is on leave"),
    ];
    let (status, body) = console
        .post(&auditor, &reassign, &handover, same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let lead = console.sign_in(LEAD_TOKEN).await;
    let mut foreign = handover.to_vec();
    foreign.push(("csrf", &lead.csrf));
    let (status, body) = console
        .post(&admin, &reassign, &foreign, same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("nothing was recorded"), "{body}");
    let (status, body) = console
        .post(
            &admin,
            &reassign,
            &[
                ("from_employee_id", "E-1"),
                ("to_employee_id", "E-404"),
                ("reason", "Dana is on leave"),
            ],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("to_employee_id") && body.contains("E-404"),
        "{body}"
    );
    assert_eq!(console.head_seq(), before, "a refusal recorded something");

    // Handed over: recorded as `web:ops` and shown; E-2 now reads and decides it.
    let (status, body) = console
        .post(&admin, &reassign, &handover, same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(console.head_seq(), before + 1);
    assert!(
        body.contains(&format!(
            "data-seq=\"{}\" data-event=\"AccessReviewReviewerReassigned\"",
            before + 1
        )),
        "{body}"
    );
    assert!(body.contains("data-actor=\"web:ops\""), "{body}");
    let entry = &console.service.events(before, 1).await.unwrap().entries[0];
    assert!(
        matches!(&entry.event, Event::AccessReviewReviewerReassigned { from_employee_id, to_employee_id, reason, .. }
            if from_employee_id == "E-1" && to_employee_id == "E-2" && reason == "Dana is on leave"),
        "{entry:?}"
    );
    let (status, page) = console.get(Some(&reviewer), &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-review-decision=\"u1\""), "{page}");

    // Cancelled: a reviewer may not, a reason is needed, then it is recorded and the review
    // takes no more decisions.
    let before = console.head_seq();
    let (status, _) = console
        .post(
            &reviewer,
            &cancel,
            &[("reason", "wrong scope")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = console
        .post(&admin, &cancel, &[("reason", " ")], same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("reason"), "{body}");
    assert_eq!(console.head_seq(), before);
    let (status, body) = console
        .post(
            &admin,
            &cancel,
            &[("reason", "wrong scope")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("data-event=\"AccessReviewCancelled\"")
            && body.contains("data-actor=\"web:ops\""),
        "{body}"
    );
    assert_eq!(console.head_seq(), before + 1);
    let (_, page) = console.get(Some(&admin), &url).await;
    assert!(page.contains("data-cancelled="), "{page}");
    assert!(
        !page.contains("data-action="),
        "a cancelled review offers forms: {page}"
    );
    let (_, page) = console.get(Some(&reviewer), &url).await;
    assert!(!page.contains("data-review-decision"), "{page}");
    let (status, body) = console
        .post(
            &reviewer,
            &format!("{url}/decide"),
            &[("account_id", "u1"), ("decision", "keep"), ("reason", "r")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("was cancelled"), "{body}");
    assert_eq!(console.head_seq(), before + 1);
    console.stop().await;
}
