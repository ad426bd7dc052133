//! Roster imports through the service, on a real sled ledger: a file with bad rows is refused
//! whole, with every problem and its line, and the ledger is left exactly as it was; a good file
//! appends one batch whose summary counts what happened.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use tailledger::checks::CheckSettings;
use tailledger::event::Actor;
use tailledger::ledger::Ledger;
use tailledger::service::{Service, ServiceError};
use tailledger::time::ManualClock;

use crate::helpers::at;

fn service(dir: &Path) -> (Service, Arc<Ledger>) {
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let clock = ManualClock::new(at("2026-03-02T09:00:00Z"));
    let service = Service::new(
        ledger.clone(),
        Arc::new(clock),
        CheckSettings::default(),
        chrono_tz::Europe::Berlin,
    );
    (service, ledger)
}

fn roster(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/roster")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn a_roster_with_bad_rows_is_refused_whole_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(dir.path());
    let (first, _) = service
        .import_roster(Actor::Roster, roster("good.csv"))
        .await
        .unwrap();
    assert!(first.onboarded > 0, "{first:?}");
    let head = service.head();

    let refused = service
        .import_roster(Actor::Roster, roster("many_errors.csv"))
        .await;
    let Err(ServiceError::Roster(errors)) = refused else {
        panic!("the roster must be refused: {refused:?}");
    };
    let text = errors.to_string();
    for (line, words) in [(3, "email"), (4, "ANN@example.com"), (5, "2026-13-01")] {
        assert!(
            text.contains(&format!("line {line}")),
            "line {line} is not reported:\n{text}"
        );
        assert!(text.contains(words), "{words} is not named:\n{text}");
    }
    assert!(errors.0.len() >= 5, "every problem is reported:\n{text}");
    assert_eq!(service.head(), head, "a refused roster appends nothing");
}

#[tokio::test]
async fn a_second_import_records_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (service, ledger) = service(dir.path());
    let csv = "email,org_role,end_date\nann@example.com,Engineer,\nbob@example.com,IT,2026-03-01\n";
    let (summary, entries) = service
        .import_roster(Actor::Roster, csv.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!((summary.onboarded, summary.offboarded), (2, 1));
    let types: Vec<_> = entries
        .entries
        .iter()
        .map(|entry| entry.event.type_name())
        .collect();
    assert_eq!(
        types,
        [
            "EmployeeOnboarded",
            "EmployeeOnboarded",
            "EmployeeOffboarded"
        ]
    );

    let (again, entries) = service
        .import_roster(Actor::Roster, csv.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!(again.unchanged, 2);
    assert!(
        entries.entries.is_empty(),
        "an unchanged roster appends nothing"
    );

    // A partial roster leaves the missing people alone; a changed role is an update.
    let partial = "email,org_role\nann@example.com,IT\n";
    let (summary, entries) = service
        .import_roster(Actor::Roster, partial.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!((summary.updated, summary.offboarded), (1, 0));
    assert_eq!(entries.entries.len(), 1);
    let effective = ledger.read(|projections| {
        projections
            .employees()
            .get("bob@example.com")
            .and_then(|bob| bob.offboarding.clone())
    });
    // 2026-03-01 is Bob's last day; in Berlin the next day starts at 23:00 UTC.
    assert_eq!(
        effective.map(|offboarding| offboarding.effective_at),
        Some(at("2026-03-01T23:00:00Z"))
    );
}

/// A file says only what its columns say (docs/reference/sync.md#roster-import): a column absent
/// from the header changes nothing about the employees; an empty cell of a column that is there
/// means "empty".
#[tokio::test]
async fn a_roster_says_only_what_its_columns_say() {
    let dir = tempfile::tempdir().unwrap();
    let (service, ledger) = service(dir.path());
    let import = |csv: &str| {
        let service = service.clone();
        let csv = csv.as_bytes().to_vec();
        async move {
            let (summary, entries) = service.import_roster(Actor::Roster, csv).await.unwrap();
            let types: Vec<&str> = entries
                .entries
                .iter()
                .map(|e| e.event.type_name())
                .collect();
            (summary, types)
        }
    };
    let employee = |id: &str| {
        ledger.read(|projections| {
            let state = projections.employees().get(id).unwrap();
            (state.record.name.clone(), state.offboarding.is_some())
        })
    };
    import("email,name,org_role,end_date\nann@example.com,Ann Example,Engineer,\nbob@example.com,Bob Example,IT,2026-03-01\n").await;

    // No `name`, `status` nor `end_date` column: names stay, Bob stays offboarded.
    let (summary, types) =
        import("email,org_role,employee_id\nann@example.com,Engineer,ann@example.com\nbob@example.com,IT,bob@example.com\n").await;
    assert_eq!(types, Vec::<&str>::new(), "{summary:?}");
    assert_eq!(summary.unchanged, 2);
    assert_eq!(
        employee("ann@example.com"),
        (Some("Ann Example".to_owned()), false)
    );
    assert_eq!(
        employee("bob@example.com"),
        (Some("Bob Example".to_owned()), true)
    );

    // Only `status`: Bob's offboarding stands until the file says otherwise.
    let (_, types) = import("email,org_role,status\nbob@example.com,IT,offboarded\n").await;
    assert_eq!(types, Vec::<&str>::new());

    // Present but empty: Ann's name is cleared, and Bob, with no end date, is back.
    let (_, types) = import(
        "email,name,org_role,end_date\nann@example.com,,Engineer,\nbob@example.com,Bob Example,IT,\n",
    )
    .await;
    assert_eq!(types, ["EmployeeUpdated", "EmployeeReinstated"]);
    assert_eq!(employee("ann@example.com"), (None, false));
    assert_eq!(
        employee("bob@example.com"),
        (Some("Bob Example".to_owned()), false)
    );
}
