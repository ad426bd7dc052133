//! The console under work that takes a while or grows with the ledger: an evidence pack is made
//! on the blocking pool, one at a time, while the console goes on answering on a runtime of a
//! single worker thread (the pack held, deterministically, by a clock the test opens); a
//! person's page finds their accounts through the projections' indexes,
//! and finds exactly those a scan of every account links to them, now and as of the past.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tailledger::event::SystemId;
use tailledger::listener::HttpLimits;
use tailledger::time::{Clock, SystemClock, Timestamp};

use crate::web::{ADMIN_TOKEN, AUDITOR_TOKEN, Browser, Console, same_origin};

/// A clock that, while closed, holds whoever reads it until it is opened (or a minute passes),
/// counting who waits.
#[derive(Default)]
struct GateClock {
    closed: Mutex<bool>,
    opened: Condvar,
    waiting: AtomicUsize,
}

impl GateClock {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.opened.notify_all();
    }
}

impl Clock for GateClock {
    fn now(&self) -> Timestamp {
        let closed = self.closed.lock().unwrap();
        if *closed {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _open = self
                .opened
                .wait_timeout_while(closed, Duration::from_secs(60), |closed| *closed)
                .unwrap();
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        SystemClock.now()
    }
}

/// The status and body of an evidence pack download, asked for from a task of its own.
fn download(
    console: &Console,
    browser: &Browser,
    pack: &str,
) -> tokio::task::JoinHandle<(StatusCode, Vec<u8>)> {
    let request = console
        .http
        .get(format!("{}{pack}", console.base))
        .header("cookie", &browser.cookie);
    tokio::spawn(async move {
        let answer = request.send().await.unwrap();
        let status = answer.status();
        (status, answer.bytes().await.unwrap().to_vec())
    })
}

/// The server runs on the runtime's one worker thread (the test's body on a thread of its own):
/// a pack made there would hold every other request until it was done.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_console_keeps_answering_while_an_evidence_pack_is_made() {
    let clock = Arc::new(GateClock::default());
    let console = Console::serving(HttpLimits::default(), None, clock.clone()).await;
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let pack = format!("/evidence?from=2000-01-01&to={}", console.service.now());
    // The pack is held where it first reads the clock, well into its making.
    clock.set(true);
    let first = download(&console, &auditor, &pack);
    let deadline = Instant::now() + Duration::from_secs(60);
    while clock.waiting.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the pack never read the clock");
        tokio::task::yield_now().await;
    }
    // Meanwhile a page is answered, and a second pack is refused at once.
    let (status, page) = console.get(Some(&auditor), "/signin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, refused) = console.get(Some(&auditor), &pack).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert!(
        refused.contains("another evidence pack is being made"),
        "{refused}"
    );
    assert_eq!(
        clock.waiting.load(Ordering::SeqCst),
        1,
        "the page waited for the pack"
    );
    clock.set(false);
    let (status, tar) = first.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.tar"), &tar).unwrap();
    let unpacked = std::process::Command::new("tar")
        .args(["-xf", "pack.tar"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let checked = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", "MANIFEST.sha256"])
        .current_dir(dir.path().join("evidence"))
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
    // Once it is done, the next one is made.
    let (status, _) = download(&console, &auditor, &pack).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    console.stop().await;
}

/// The ids of the accounts a person's page lists.
fn listed(page: &str) -> Vec<String> {
    page.split("<li data-account-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persons_accounts_are_those_a_scan_links_to_them() {
    let console = Console::start(HttpLimits::default()).await;
    let system = SystemId::tailscale();
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let before_links = console.service.now();
    // Priya's shared account, and Marco's (matched to E-2 by email), linked to Dana by hand.
    for account in ["u3", "u2"] {
        let (status, body) = console
            .post(
                &admin,
                &format!("/accounts/{account}/link"),
                &[("employee_id", "E-1"), ("reason", "Dana holds it")],
                same_origin(&console),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let now = console.service.now();
    for (at, employee, expected) in [
        (before_links, "E-1", &["u1"][..]),
        (before_links, "E-2", &["u2"][..]),
        (now, "E-1", &["u1", "u2", "u3"][..]),
        (now, "E-2", &[][..]),
    ] {
        let person = console
            .service
            .person(system.clone(), employee.to_owned(), at)
            .await
            .unwrap()
            .unwrap();
        let found: Vec<&str> = person
            .accounts
            .iter()
            .map(|view| view.account.snapshot.id.as_str())
            .collect();
        let scanned: Vec<String> = console
            .service
            .accounts(system.clone(), at, true, None, usize::MAX)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|view| {
                view.link
                    .as_ref()
                    .is_some_and(|(linked, _)| linked == employee)
            })
            .map(|view| view.account.snapshot.id)
            .collect();
        assert_eq!(found, scanned, "{employee} at {at}");
        assert_eq!(found, expected, "{employee} at {at}");
        let (status, page) = console
            .get(Some(&admin), &format!("/people/{employee}?as_of={at}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(listed(&page), expected, "{employee} at {at}: {page}");
    }
    // Dana's history holds the two links, each recorded as `web:ops`.
    let (_, page) = console.get(Some(&admin), "/people/E-1").await;
    assert_eq!(
        page.matches("<td><bdi>web:ops</bdi></td><td>AccountLinked</td>")
            .count(),
        2,
        "{page}"
    );
    let (status, _) = console.get(Some(&admin), "/people/E-404").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    console.stop().await;
}
