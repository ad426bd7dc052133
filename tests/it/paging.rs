//! `ListEmployees` and `ListAccounts` page (docs/reference/api.md#paging): a roster whose one
//! unpaged answer would pass 4 MiB comes back in pages a default client accepts, in id order, every
//! employee once, as of the first page's instant even while the ledger grows; tokens of other
//! listings and oversized pages are refused; and the CLI reads every page.

use prost::Message;
use tailledger::api::pb;
use tailledger::event::{Actor, EmployeeRecord, Event};
use tailledger::time::Timestamp;
use tonic::Code;

use crate::api::{AUDITOR_TOKEN, ApiServer, tokens, with_token};
use crate::cli::{args, run_with_env};
use crate::helpers::text;

const EMPLOYEES: usize = 4_000;

fn onboarded(id: &str) -> Event {
    Event::EmployeeOnboarded {
        employee: EmployeeRecord {
            employee_id: id.to_owned(),
            email: format!("{id}@acme.example"),
            // About 1 KB an employee, so that 4,000 of them pass 4 MiB.
            name: Some(format!("{id} {}", "n".repeat(1_000))),
            org_role: "Engineer".to_owned(),
            start_date: None,
        },
    }
}

async fn page(
    ledger: &mut pb::ledger_service_client::LedgerServiceClient<tonic::transport::Channel>,
    request: pb::ListEmployeesRequest,
) -> Result<pb::ListEmployeesResponse, tonic::Status> {
    ledger
        .list_employees(with_token(request, Some(AUDITOR_TOKEN)))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_roster_too_large_for_one_answer_comes_in_consistent_pages() {
    let server = ApiServer::start(tokens()).await;
    let ids: Vec<String> = (0..EMPLOYEES)
        .map(|index| format!("e-{index:05}"))
        .collect();
    for chunk in ids.chunks(1_000) {
        server
            .ledger
            .append(
                Timestamp::now(),
                Actor::Roster,
                chunk.iter().map(|id| onboarded(id)).collect(),
            )
            .unwrap();
    }
    // A client with gRPC's default 4 MiB limit.
    let mut ledger = server.ledger().await;

    let mut listed = Vec::new();
    let mut bytes = 0;
    let mut pages = 0;
    let mut page_token = String::new();
    loop {
        let answer = page(
            &mut ledger,
            pb::ListEmployeesRequest {
                page_size: 5_000,
                page_token,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(answer.encoded_len() <= 3 << 20, "a page stays under 3 MiB");
        bytes += answer.encoded_len();
        pages += 1;
        listed.extend(answer.employees.into_iter().map(|e| e.employee_id));
        if pages == 1 {
            // Employees who sort first and last arrive after the first page: the listing is as
            // of the first page's instant, so neither appears.
            server
                .ledger
                .append(
                    Timestamp::now(),
                    Actor::Roster,
                    vec![onboarded("a-early"), onboarded("z-late")],
                )
                .unwrap();
        }
        if answer.next_page_token.is_empty() {
            break;
        }
        page_token = answer.next_page_token;
    }
    assert!(
        bytes > 4 << 20,
        "one unpaged answer would be {bytes} bytes, over 4 MiB"
    );
    assert!(pages >= 2, "{pages} pages");
    assert_eq!(listed, ids, "every employee once, in id order");

    // The default page size is 1,000, and a fresh listing sees the new employees.
    let first = page(&mut ledger, pb::ListEmployeesRequest::default())
        .await
        .unwrap();
    assert_eq!(first.employees.len(), 1_000);
    assert_eq!(first.employees[0].employee_id, "a-early");

    // Tokens and sizes that are refused, naming the field.
    let token = first.next_page_token;
    for (what, request, field) in [
        (
            "a token read at another instant",
            pb::ListEmployeesRequest {
                // Now: after the first page's instant, and after the first entry.
                as_of: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
                page_token: token.clone(),
                ..Default::default()
            },
            "`page_token`",
        ),
        (
            "a made-up token",
            pb::ListEmployeesRequest {
                page_token: "bm90IGEgdG9rZW4".to_owned(),
                ..Default::default()
            },
            "`page_token`",
        ),
        (
            "a page too large",
            pb::ListEmployeesRequest {
                page_size: 5_001,
                ..Default::default()
            },
            "`page_size`",
        ),
    ] {
        let status = page(&mut ledger, request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().starts_with(field), "{what}: {status:?}");
    }

    // The CLI reads every page.
    let output = run_with_env(
        args(&[
            "employees",
            "--json",
            "--server",
            &format!("http://{}", server.address),
        ]),
        vec![("TAILLEDGER_TOKEN", AUDITOR_TOKEN.to_owned())],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["employees"].as_array().map(Vec::len),
        Some(EMPLOYEES + 2)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_page_in_id_order_and_a_token_fits_only_its_listing() {
    let server = ApiServer::start(tokens()).await;
    server
        .service
        .sync_now(&tailledger::event::SystemId::tailscale())
        .await
        .unwrap();
    let mut ledger = server.ledger().await;
    let request = |page_token: String, include_removed: bool| {
        with_token(
            pb::ListAccountsRequest {
                system: "tailscale".to_owned(),
                include_removed,
                page_size: 1,
                page_token,
                ..Default::default()
            },
            Some(AUDITOR_TOKEN),
        )
    };
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let answer = ledger
            .list_accounts(request(token, false))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.accounts.len(), 1);
        ids.push(answer.accounts[0].account_id.clone());
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(ids, ["u1", "u2", "u3"]);

    let first = ledger
        .list_accounts(request(String::new(), false))
        .await
        .unwrap()
        .into_inner();
    let status = ledger
        .list_accounts(request(first.next_page_token, true))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("`page_token`"), "{status:?}");
    server.stop().await;
}
