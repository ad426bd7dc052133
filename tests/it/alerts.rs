//! Alerts end to end (docs/operating.md#alerts), in process against a real sled ledger: the
//! delivery loop `serve` runs, real destinations on loopback started by the tests (an HTTP
//! receiver in Python that checks the signature with `hmac` and counts by id,
//! `tests/alerts/receiver.py`; a real SMTP server, PyPI `aiosmtpd`, `tests/alerts/smtp.py`).
//! A leaver's grace runs out by time alone → one webhook, one Slack-shaped post and one email,
//! each recorded once, with hostile names escaped; a destination down gets its backlog once it
//! returns; a digest at its time holds every change since the previous one. Without Python or
//! aiosmtpd the tests say SKIPPED and return, unless `CI` is set, where they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveTime;
use serde_json::Value;
use tailledger::alerts::send::{Destination, Kind, Smtp, SmtpTls};
use tailledger::alerts::{AlertsSettings, Change, Route, Schedule, run};
use tailledger::archive::ArchiveStatus;
use tailledger::checks::CheckSettings;
use tailledger::entry::Entry;
use tailledger::event::{Actor, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::metrics::Metrics;
use tailledger::service::Service;
use tailledger::skew::DateReading;
use tailledger::sync::{AuditWindow, Listing, Observation, Observing, Source, SyncOptions, Syncer};
use tailledger::tailscale::{FetchError, Secret};
use tailledger::time::{Clock, ManualClock, SystemClock, Timestamp};
use tokio::sync::watch;

use crate::helpers::{metric_value, snapshot};

pub const SECRET: &str = "alert-test-secret";
const DEADLINE: Duration = Duration::from_secs(30);
/// A login name that tries Slack markup, a mention, a link and an email header.
const HOSTILE: &str = "<!channel> *x* & <https://evil.example|click>\r\nBcc: victim@evil.example";

/// Whether an outside program is there; when it is not, says SKIPPED (false) or, under CI, fails.
pub fn needs(what: &str, check: &[&str], install: &str) -> bool {
    let present = Command::new(check[0])
        .args(&check[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is missing under CI: {install}"
        );
        eprintln!("SKIPPED: {what} is missing; install it with `{install}`");
    }
    present
}

/// A helper program on loopback: killed when dropped.
pub struct Helper {
    child: Child,
    pub port: u16,
}

impl Helper {
    pub fn start(script: &str, args: &[&str]) -> Helper {
        Self::start_with_env(script, args, &[])
    }

    /// [`Helper::start`] with `env` added to its environment.
    pub fn start_with_env(script: &str, args: &[&str], env: &[(&str, &str)]) -> Helper {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/alerts")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .env("TL_ALERT_SECRET", SECRET)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the helper prints its port");
        let port = line.trim().parse().expect("a port");
        Helper { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn stats(receiver: &Helper) -> Value {
    reqwest::get(receiver.url("stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn control(receiver: &Helper, what: &str) {
    reqwest::Client::new()
        .post(receiver.url(&format!("control/{what}")))
        .send()
        .await
        .unwrap();
}

/// Waits until `condition` holds, polling the observable state, or fails after the deadline.
pub async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The listing the next sync observes, and the reading of the source's clock it gives.
#[derive(Clone, Default)]
pub struct Listed(
    pub Arc<Mutex<Vec<tailledger::event::AccountSnapshot>>>,
    pub Arc<Mutex<Option<DateReading>>>,
    Arc<Mutex<Option<DateReading>>>,
);

impl Source for Listed {
    fn take_date_reading(&self) -> Option<DateReading> {
        self.2.lock().unwrap().take()
    }

    fn observe(&self, _audit_log: AuditWindow) -> Observing<'_> {
        let accounts = self.0.lock().unwrap().clone();
        *self.2.lock().unwrap() = *self.1.lock().unwrap();
        Box::pin(async move {
            Ok::<_, FetchError>(Observation {
                listing: Listing::new(accounts).unwrap(),
                credential: None,
                devices: None,
                keys: None,
                audit_log: None,
            })
        })
    }
}

/// A service over a sled ledger in `dir` with `clock`, Dana on the roster and her account
/// (named `login`) listed and linked, and an offboarding grace of `grace_seconds`.
pub async fn service_with_dana(
    dir: &Path,
    clock: Arc<dyn Clock>,
    login: &str,
    grace_seconds: u64,
) -> (Arc<Service>, Listed) {
    service_archived(dir, clock, login, grace_seconds, None).await
}

/// [`service_with_dana`], its archive's progress read from `archive` when given.
pub async fn service_archived(
    dir: &Path,
    clock: Arc<dyn Clock>,
    login: &str,
    grace_seconds: u64,
    archive: Option<Arc<ArchiveStatus>>,
) -> (Arc<Service>, Listed) {
    let ledger = Arc::new(Ledger::open(dir).unwrap());
    let mut service = Service::new(
        ledger.clone(),
        clock.clone(),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    let listed = Listed::default();
    *listed.0.lock().unwrap() = vec![snapshot("u1", login, "member", "active")];
    service.set_syncer(Syncer::new(
        SystemId::tailscale(),
        Box::new(listed.clone()),
        ledger,
        clock,
        SyncOptions::default(),
    ));
    if let Some(archive) = archive {
        service.set_archive_status(archive);
    }
    let admin = || Actor::Api("admin".to_owned());
    service
        .import_roster(
            admin(),
            b"email,name,org_role\ndana@acme.example,Dana Whitfield,Engineer\n".to_vec(),
        )
        .await
        .unwrap();
    service
        .set_access_policy(
            admin(),
            SystemId::tailscale(),
            vec!["*".to_owned()],
            Vec::new(),
            Some(grace_seconds),
            String::new(),
        )
        .await
        .unwrap();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    service
        .link_account(
            admin(),
            SystemId::tailscale(),
            "u1".to_owned(),
            "dana@acme.example".to_owned(),
            "test".to_owned(),
        )
        .await
        .unwrap();
    (Arc::new(service), listed)
}

pub fn webhook(receiver: &Helper) -> Destination {
    Destination {
        name: "hook".to_owned(),
        kind: Kind::Webhook {
            url: receiver.url("webhook"),
            secret: Secret::new(SECRET),
        },
    }
}

pub fn route(name: &str, destination: &str, states: Vec<Change>, schedule: Schedule) -> Route {
    Route {
        name: name.to_owned(),
        checks: vec!["offboarded-access-removed".to_owned()],
        states,
        destination: destination.to_owned(),
        schedule,
    }
}

/// The delivery loop, running until the returned sender says stop.
pub fn start_alerts(
    service: &Arc<Service>,
    settings: AlertsSettings,
    metrics: &Metrics,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(run::run(
        service.clone(),
        settings,
        chrono_tz::UTC,
        metrics.clone(),
        stopping,
    ));
    (stop, task)
}

/// The `AlertDelivered` events recorded so far.
pub async fn delivered(service: &Service) -> Vec<Entry> {
    service
        .events(0, 10_000)
        .await
        .unwrap()
        .entries
        .into_iter()
        .filter(|entry| matches!(entry.event, Event::AlertDelivered { .. }))
        .collect()
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leavers_grace_running_out_reaches_each_destination_once() {
    if !needs(
        "Python 3 with aiosmtpd",
        &["python3", "-c", "import aiosmtpd"],
        "python3 -m pip install aiosmtpd",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    let mail_dir = tempfile::tempdir().unwrap();
    let smtp = Helper::start("smtp.py", &[mail_dir.path().to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let (service, _listed) = service_with_dana(dir.path(), Arc::new(SystemClock), HOSTILE, 1).await;
    let destinations = vec![
        webhook(&receiver),
        Destination {
            name: "slack".to_owned(),
            kind: Kind::Slack {
                url: Secret::new(receiver.url("slack")),
            },
        },
        Destination {
            name: "mail".to_owned(),
            kind: Kind::Email(Box::new(Smtp {
                host: "127.0.0.1".to_owned(),
                port: smtp.port,
                tls: SmtpTls::None,
                ca: None,
                username: None,
                password: None,
                from: "tailledger <alerts@acme.example>".parse().unwrap(),
                to: vec!["security@acme.example".parse().unwrap()],
            })),
        },
    ];
    let failing = || vec![Change::Failing];
    let settings = AlertsSettings {
        console_url: Some("https://console.acme.example/".to_owned()),
        lookback: Duration::from_secs(3600),
        destinations,
        routes: vec![
            route("to-hook", "hook", failing(), Schedule::Immediate),
            route("to-slack", "slack", failing(), Schedule::Immediate),
            route("to-mail", "mail", failing(), Schedule::Immediate),
        ],
    };
    let metrics = Metrics::new();
    let (stop, task) = start_alerts(&service, settings, &metrics);
    // Dana leaves now: DUE at once (not routed), FAILING a second later by time alone, with no
    // entry to announce it.
    service
        .offboard_employee(
            Actor::Api("admin".to_owned()),
            "dana@acme.example".to_owned(),
            Some(service.now()),
            String::new(),
        )
        .await
        .unwrap();
    until("three deliveries recorded", || async {
        delivered(&service).await.len() >= 3
    })
    .await;
    let recorded = delivered(&service).await;
    assert_eq!(recorded.len(), 3, "{recorded:#?}");
    let mut ids = Vec::new();
    for entry in &recorded {
        let Event::AlertDelivered {
            notification_id,
            state,
            check_id,
            ..
        } = &entry.event
        else {
            unreachable!()
        };
        assert_eq!(state, "FAILING");
        assert_eq!(check_id, "offboarded-access-removed");
        assert_eq!(entry.actor, Actor::Alerts);
        ids.push(notification_id.clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one change, one id for every destination");
    let id = &ids[0];
    // Nothing more is pending: a further pass sends nothing.
    let window = service
        .alert_window(SystemId::tailscale(), Duration::from_secs(3600))
        .await
        .unwrap();
    stop.send_replace(true);
    task.await.unwrap();
    let routes = [
        route("to-hook", "hook", failing(), Schedule::Immediate),
        route("to-slack", "slack", failing(), Schedule::Immediate),
        route("to-mail", "mail", failing(), Schedule::Immediate),
    ];
    assert!(tailledger::alerts::route::pending(&routes, window.derived()).is_empty());
    let got = stats(&receiver).await;
    assert_eq!(got["webhook"][id], 1, "{got}");
    assert_eq!(got["slack"][id], 1, "{got}");
    assert_eq!(got["bad_signatures"], 0);
    assert_eq!(got["webhook"].as_object().unwrap().len(), 1, "{got}");
    // Slack: the hostile name is escaped text, no mention, no link.
    let slack: Value =
        serde_json::from_str(got["bodies"][format!("slack:{id}")].as_str().unwrap()).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("&lt;!channel&gt;"), "{text}");
    assert!(text.contains("&amp;"), "{text}");
    assert!(
        !text.contains("<!channel>") && !text.contains("<https://evil"),
        "{text}"
    );
    assert!(
        text.contains("<https://console.acme.example/|Open the console>"),
        "{text}"
    );
    // The webhook's JSON carries the name verbatim, as data.
    let hook: Value =
        serde_json::from_str(got["bodies"][format!("webhook:{id}")].as_str().unwrap()).unwrap();
    assert_eq!(hook["notifications"][0]["subject"]["login_name"], HOSTILE);
    // Email: one message; its headers hold no name, its body shows the name's line break escaped.
    let mails = eml_files(mail_dir.path());
    assert_eq!(mails.len(), 1, "{mails:?}");
    let raw = std::fs::read_to_string(&mails[0]).unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").expect("headers, then a body");
    assert!(
        !headers.contains("victim") && !headers.contains("Bcc"),
        "{headers}"
    );
    assert!(
        headers.contains(&format!("Message-ID: <{id}@tailledger>")),
        "{headers}"
    );
    assert!(body.contains("\\r\\nBcc: victim@evil.example"), "{body}");
    let scrape = metrics.encode();
    assert_eq!(
        metric_value(
            &scrape,
            "tailledger_alerts_sent_total{destination=\"hook\"}"
        ),
        Some(1.0),
        "{scrape}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_down_gets_its_backlog_once_it_returns() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    control(&receiver, "down").await;
    let dir = tempfile::tempdir().unwrap();
    let (service, listed) =
        service_with_dana(dir.path(), Arc::new(SystemClock), "dana@acme.example", 3600).await;
    let settings = AlertsSettings {
        console_url: None,
        lookback: Duration::from_secs(3600),
        destinations: vec![webhook(&receiver)],
        routes: vec![route(
            "to-hook",
            "hook",
            vec![Change::Due, Change::Resolved],
            Schedule::Immediate,
        )],
    };
    let metrics = Metrics::new();
    let (stop, task) = start_alerts(&service, settings, &metrics);
    service
        .offboard_employee(
            Actor::Api("admin".to_owned()),
            "dana@acme.example".to_owned(),
            Some(service.now()),
            String::new(),
        )
        .await
        .unwrap();
    // The account is removed while the receiver is still down: DUE, then RESOLVED, both pending.
    until("the receiver refusing a delivery", || async {
        stats(&receiver).await["refused"].as_u64().unwrap() >= 1
    })
    .await;
    listed.0.lock().unwrap().clear();
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("two pending, one failure counted", || async {
        let scrape = metrics.encode();
        metric_value(&scrape, "tailledger_alerts_pending{destination=\"hook\"}") == Some(2.0)
            && metric_value(
                &scrape,
                "tailledger_alerts_failed_total{destination=\"hook\"}",
            )
            .is_some_and(|failed| failed >= 1.0)
    })
    .await;
    assert!(delivered(&service).await.is_empty());
    control(&receiver, "up").await;
    until("both delivered and recorded", || async {
        delivered(&service).await.len() == 2
    })
    .await;
    let got = stats(&receiver).await;
    let counts = got["webhook"].as_object().unwrap();
    assert_eq!(counts.len(), 2, "{got}");
    assert!(counts.values().all(|count| count == 1), "{got}");
    until("nothing pending", || async {
        metric_value(
            &metrics.encode(),
            "tailledger_alerts_pending{destination=\"hook\"}",
        ) == Some(0.0)
    })
    .await;
    stop.send_replace(true);
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_at_its_time_holds_every_change_since_the_previous_one() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let start: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let (service, listed) =
        service_with_dana(dir.path(), clock.clone(), "dana@acme.example", 3600).await;
    let settings = AlertsSettings {
        console_url: None,
        lookback: Duration::from_secs(3 * 24 * 3600),
        destinations: vec![webhook(&receiver)],
        routes: vec![route(
            "daily",
            "hook",
            vec![Change::Due, Change::Failing, Change::Resolved],
            Schedule::Digest(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
        )],
    };
    let metrics = Metrics::new();
    let (stop, task) = start_alerts(&service, settings, &metrics);
    let admin = || Actor::Api("admin".to_owned());
    // DUE at 12:00, FAILING at 13:00 by time alone: two changes before the next 09:00.
    service
        .offboard_employee(
            admin(),
            "dana@acme.example".to_owned(),
            Some("2026-03-02T12:00:00Z".parse().unwrap()),
            String::new(),
        )
        .await
        .unwrap();
    clock.set("2026-03-02T20:00:00Z".parse().unwrap());
    // Each sync wakes the loop (an entry); until 09:00 nothing is due.
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("two pending", || async {
        metric_value(
            &metrics.encode(),
            "tailledger_alerts_pending{destination=\"hook\"}",
        ) == Some(2.0)
    })
    .await;
    assert!(
        stats(&receiver).await["webhook"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    clock.set("2026-03-03T09:00:01Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("the first digest recorded", || async {
        delivered(&service).await.len() == 2
    })
    .await;
    // A change after the digest waits for the next one.
    listed.0.lock().unwrap().clear();
    clock.set("2026-03-03T10:00:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("one pending", || async {
        metric_value(
            &metrics.encode(),
            "tailledger_alerts_pending{destination=\"hook\"}",
        ) == Some(1.0)
    })
    .await;
    clock.set("2026-03-04T09:00:00Z".parse().unwrap());
    service.sync_now(&SystemId::tailscale()).await.unwrap();
    until("the second digest recorded", || async {
        delivered(&service).await.len() == 3
    })
    .await;
    stop.send_replace(true);
    task.await.unwrap();
    let got = stats(&receiver).await;
    let digests = got["webhook"].as_object().unwrap();
    assert_eq!(digests.len(), 2, "{got}");
    assert!(digests.values().all(|count| count == 1), "{got}");
    let states_of = |id: &str| -> Vec<String> {
        let body: Value =
            serde_json::from_str(got["bodies"][format!("webhook:{id}")].as_str().unwrap()).unwrap();
        body["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["state"].as_str().unwrap().to_owned())
            .collect()
    };
    let recorded = delivered(&service).await;
    let digest_of = |entry: &Entry| match &entry.event {
        Event::AlertDelivered { digest_id, .. } => digest_id.clone().unwrap(),
        _ => unreachable!(),
    };
    let first = digest_of(&recorded[0]);
    assert_eq!(digest_of(&recorded[1]), first);
    assert_eq!(states_of(&first), ["DUE", "FAILING"]);
    let second = digest_of(&recorded[2]);
    assert_ne!(second, first);
    assert_eq!(states_of(&second), ["RESOLVED"]);
}
