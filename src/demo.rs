//! `tailledger demo`: the embedded default, a short story told on a fresh ledger.
//!
//! This first version records a realistic day of a small company: the access policy from the
//! configuration, the HR roster, a Tailscale sync that sees three accounts, an offboarding, and
//! the sync that sees the leaver's account removed. It then verifies the chain, writes the JSON
//! Lines export, and prints the digest an auditor would note down.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::event::{AccountSnapshot, Actor, CredentialKind, EmployeeRecord, Event, SystemId};
use crate::export::{ExportError, export_to_file};
use crate::hash::{Digest, Hash256};
use crate::ledger::Ledger;
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::verify::{Report, verify_store};

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("could not create a temporary data directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("could not write the demo's output: {0}")]
    Output(#[from] std::io::Error),
    #[error("the demo ledger did not verify: {0}")]
    NotVerified(String),
}

/// What the demo left behind.
pub struct DemoOutcome {
    pub data_dir: PathBuf,
    pub export_path: PathBuf,
    pub digest: Digest,
}

/// Runs the story on a ledger in `data_dir` (a fresh temporary directory, kept afterwards, when
/// `None`), printing it to `out`.
pub fn run(data_dir: Option<&Path>, out: &mut impl Write) -> Result<DemoOutcome, DemoError> {
    let data_dir = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => tempfile::Builder::new()
            .prefix("tailledger-demo-")
            .tempdir()
            .map_err(DemoError::TempDir)?
            .keep(),
    };
    let ledger = Ledger::open(&data_dir)?;
    writeln!(out, "tailledger demo: ledger in {}\n", data_dir.display())?;

    for (actor, title, events) in story() {
        let entries = ledger.append(Timestamp::now(), actor.clone(), events)?;
        writeln!(out, "{title}")?;
        for entry in &entries {
            writeln!(
                out,
                "  seq {:>3}  {:<20} {}",
                entry.seq,
                entry.event.type_name(),
                entry.actor
            )?;
        }
    }

    let report = verify_store(ledger.store())?;
    let digest = verified_digest(&report)?;
    writeln!(
        out,
        "\nverified: {} events, the chain is intact",
        report.events_checked
    )?;
    let export_path = data_dir.join("export.jsonl");
    export_to_file(ledger.store(), &export_path)?;
    writeln!(out, "digest:   {digest}")?;
    writeln!(out, "export:   {}", export_path.display())?;
    writeln!(
        out,
        "\nCheck it yourself, without trusting tailledger:\n  \
         tailledger verify-export {} --digest {digest}\n  \
         python3 verify_export.py {} {digest}   (the script is in README.md)",
        export_path.display(),
        export_path.display()
    )?;
    Ok(DemoOutcome {
        data_dir,
        export_path,
        digest,
    })
}

fn verified_digest(report: &Report) -> Result<Digest, DemoError> {
    match (&report.broken, report.last_good) {
        (None, Some(digest)) => Ok(digest),
        (Some(broken), _) => Err(DemoError::NotVerified(broken.to_string())),
        (None, None) => Err(DemoError::NotVerified("the ledger is empty".to_owned())),
    }
}

fn account(id: &str, login: &str, name: &str, role: &str, created: &str) -> AccountSnapshot {
    AccountSnapshot {
        id: id.to_owned(),
        login_name: login.to_owned(),
        display_name: name.to_owned(),
        role: role.to_owned(),
        status: "active".to_owned(),
        account_type: "member".to_owned(),
        created: created.parse().ok(),
    }
}

fn employee(email: &str, name: &str, org_role: &str) -> Event {
    Event::EmployeeOnboarded {
        employee: EmployeeRecord {
            employee_id: email.to_owned(),
            email: email.to_owned(),
            name: Some(name.to_owned()),
            org_role: org_role.to_owned(),
            start_date: None,
        },
    }
}

fn sync_completed(sync_id: &str, observed: u64, listing: &str, appended: u64) -> Event {
    let now = Timestamp::now();
    Event::SyncCompleted {
        system: SystemId::tailscale(),
        sync_id: sync_id.to_owned(),
        started_at: now,
        finished_at: now,
        accounts_observed: observed,
        listing_sha256: Hash256::of(listing.as_bytes()),
        events_appended: appended,
    }
}

/// The batches of the story: who appends them, a caption, and the events.
fn story() -> Vec<(Actor, &'static str, Vec<Event>)> {
    let tailscale = SystemId::tailscale();
    let dana = account(
        "uQ7mK2pXw411CNTRL",
        "dana.whitfield@acme-corp.example",
        "Dana Whitfield",
        "owner",
        "2023-02-14T09:12:44Z",
    );
    let marco = account(
        "uH3cZ9rLe611CNTRL",
        "marco.ibanez@acme-corp.example",
        "Marco Ibáñez",
        "it-admin",
        "2024-06-03T15:27:05Z",
    );
    let sam = account(
        "uK8vR4tYm211CNTRL",
        "sam.okafor@acme-corp.example",
        "Sam Okafor",
        "member",
        "2025-01-20T10:02:11Z",
    );
    let yesterday = Timestamp::now().saturating_add_micros(-86_400_000_000);
    vec![
        (
            Actor::Config,
            "The configuration sets the access policy:",
            vec![Event::AccessPolicySet {
                system: tailscale.clone(),
                allowed_org_roles: vec!["Engineer".to_owned(), "IT".to_owned()],
                privileged_org_roles: vec!["IT".to_owned()],
                offboarding_grace_seconds: 86_400,
                reason: Some("initial policy from tailledger.toml".to_owned()),
            }],
        ),
        (
            Actor::Roster,
            "The HR roster is imported:",
            vec![
                employee(&dana.login_name, &dana.display_name, "IT"),
                employee(&marco.login_name, &marco.display_name, "IT"),
                employee(&sam.login_name, &sam.display_name, "Engineer"),
            ],
        ),
        (
            Actor::Sync(tailscale.clone()),
            "The first Tailscale sync sees three accounts:",
            vec![
                Event::CredentialObserved {
                    system: tailscale.clone(),
                    credential_id: "k5hT2wQx9111CNTRL".to_owned(),
                    credential_kind: CredentialKind::OauthClient,
                    expires_at: None,
                },
                Event::UserSeen {
                    system: tailscale.clone(),
                    account: dana.clone(),
                },
                Event::UserSeen {
                    system: tailscale.clone(),
                    account: marco.clone(),
                },
                Event::UserSeen {
                    system: tailscale.clone(),
                    account: sam,
                },
                sync_completed("sync-1", 3, "listing-1", 4),
            ],
        ),
        (
            Actor::Roster,
            "HR records that Marco left yesterday:",
            vec![Event::EmployeeOffboarded {
                employee_id: marco.login_name.clone(),
                effective_at: yesterday,
                reason: Some("end_date on the roster".to_owned()),
            }],
        ),
        (
            Actor::Sync(tailscale.clone()),
            "The next sync sees Marco's account gone:",
            vec![
                Event::UserRemoved {
                    system: tailscale,
                    account_id: marco.id,
                    login_name: marco.login_name,
                },
                sync_completed("sync-2", 2, "listing-2", 1),
            ],
        ),
    ]
}
