//! Alerts through the real `serve` binary (docs/operating.md#alerts): configured from the file,
//! secrets from the environment, a leaver found FAILING at the first sync is posted to the Python
//! receiver; `serve` is killed with SIGKILL while the receiver holds that delivery unanswered, and
//! after a restart the notification is sent again with the same id (the receiver counts two
//! arrivals of one id, which it deduplicates) and recorded exactly once: no loss, no duplicate
//! record. `tailledger alerts pending` lists the notification through the running server's API
//! and, from the ledger directory, while `serve` is down; and
//! `tailledger alerts test` sends a signed test message and records nothing.

use std::process::Command;

use tailledger::event::Event;
use tailledger::hash::Hash256;
use tailledger::ledger::Ledger;

use crate::alerts::{Helper, SECRET, control, needs, stats, until};
use crate::cli::{ADMIN_TOKEN, TOKEN_ENV, args, run_with_env};
use crate::helpers::{API_TOKEN, Fixture, free_port, metric_value, spawn_serve};

pub const SECRET_ENV: &str = "TL_TEST_ALERT_SECRET";

pub fn config(dir: &std::path::Path, base_url: &str, receiver: &Helper, metrics_port: u16) {
    std::fs::write(
        dir.join("staff.csv"),
        "email,name,org_role,end_date\ndana@acme.example,Dana Whitfield,IT,2026-01-01\nmarco@acme.example,Marco Ibáñez,IT,\n",
    )
    .unwrap();
    let text = format!(
        r#"data_dir = "ledger"
listen = "127.0.0.1:{grpc}"

[auth]
tokens = [{{ name = "ops", role = "admin", sha256 = "{admin}" }}]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "{TOKEN_ENV}"
sync_interval = "1h"

[tailscale.access_policy]
allowed_org_roles = ["IT"]
offboarding_grace = "1s"

[roster]
csv_path = "staff.csv"
timezone = "Europe/Berlin"

[metrics]
listen = "127.0.0.1:{metrics_port}"

[alerts]
lookback = "1d"

[[alerts.destination]]
name = "hook"
kind = "webhook"
url = "{url}"
secret_env = "{SECRET_ENV}"

[[alerts.route]]
name = "leavers"
checks = ["offboarded-access-removed"]
states = ["FAILING"]
destination = "hook"
"#,
        grpc = free_port(),
        admin = Hash256::of(ADMIN_TOKEN.as_bytes()),
        url = receiver.url("webhook"),
    );
    std::fs::write(dir.join("tailledger.toml"), text).unwrap();
}

/// The gRPC address `serve` listens on, from the configuration.
fn grpc_url(config: &std::path::Path) -> String {
    let text = std::fs::read_to_string(config).unwrap();
    let listen = text
        .lines()
        .find_map(|line| line.strip_prefix("listen = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("the configuration's listen");
    format!("http://{listen}")
}

async fn sent(metrics_port: u16) -> Option<f64> {
    let scrape = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    metric_value(
        &scrape,
        "tailledger_alerts_sent_total{destination=\"hook\"}",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_delivery_resends_once_with_the_same_id_and_records_it_once() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let fixture = Fixture::start().await;
    let receiver = Helper::start("receiver.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    config(
        dir.path(),
        fixture.server.base_url(),
        &receiver,
        metrics_port,
    );
    let path = dir.path().join("tailledger.toml");
    let env = [(TOKEN_ENV, API_TOKEN), (SECRET_ENV, SECRET)];
    control(&receiver, "hold").await;
    let start =
        |path: std::path::PathBuf| tokio::task::spawn_blocking(move || spawn_serve(&path, &env));
    let (mut first, _log) = start(path.clone()).await.unwrap();
    until("the delivery reaching the receiver", || async {
        stats(&receiver).await["webhook"].as_object().unwrap().len() == 1
    })
    .await;
    // While `serve` runs, the backlog through its API: the delivery in hand is not recorded.
    let config_arg = path.to_str().unwrap();
    let grpc = grpc_url(&path);
    let through_server = || {
        run_with_env(
            args(&["alerts", "pending", "-c", config_arg, "--server", &grpc]),
            vec![
                (TOKEN_ENV, API_TOKEN.to_owned()),
                (SECRET_ENV, SECRET.to_owned()),
                ("TAILLEDGER_TOKEN", ADMIN_TOKEN.to_owned()),
            ],
        )
    };
    let pending = through_server().await;
    let said = String::from_utf8_lossy(&pending.stdout);
    assert!(pending.status.success(), "{said}");
    assert!(
        said.ends_with("1 pending\n") && said.contains("hook leavers"),
        "{said}"
    );
    // Mid-delivery: the receiver has it, `serve` has no answer yet, so nothing is recorded.
    first.kill().expect("SIGKILL is delivered");
    first.wait().unwrap();
    control(&receiver, "release").await;
    let got = stats(&receiver).await;
    let id = got["webhook"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    assert_eq!(got["webhook"][&id], 1);

    let env = || {
        vec![
            (TOKEN_ENV, API_TOKEN.to_owned()),
            (SECRET_ENV, SECRET.to_owned()),
        ]
    };
    // While `serve` is down, the backlog is the notification it did not record.
    let pending = run_with_env(args(&["alerts", "pending", "-c", config_arg]), env()).await;
    let said = String::from_utf8_lossy(&pending.stdout);
    assert!(pending.status.success(), "{said}");
    assert!(
        said.contains(&id) && said.contains("hook leavers"),
        "{said}"
    );
    assert!(said.ends_with("1 pending\n"), "{said}");
    // A test message: signed and acknowledged, recorded nowhere.
    let test = run_with_env(
        args(&["alerts", "test", "-c", config_arg, "--route", "leavers"]),
        env(),
    )
    .await;
    let said = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{said}");
    assert!(
        said.contains("hook acknowledged test message test-"),
        "{said}"
    );
    let got = stats(&receiver).await;
    assert_eq!(got["webhook"].as_object().unwrap().len(), 2, "{got}");
    let unknown = run_with_env(
        args(&["alerts", "test", "-c", config_arg, "--route", "nope"]),
        env(),
    )
    .await;
    assert_eq!(unknown.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("no [[alerts.route]] is named nope"), "{said}");

    let (mut second, log) = start(path.clone()).await.unwrap();
    until("the restarted serve sending it again", || async {
        sent(metrics_port).await == Some(1.0)
    })
    .await;
    until(
        "nothing pending, asked through the running server",
        || async { through_server().await.stdout == b"0 pending\n" },
    )
    .await;
    // SIGTERM: `serve` finishes the delivery in hand (its record included) and stops.
    let status = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(second.wait().unwrap().success());
    let log = log.join().unwrap();
    assert!(
        log.iter().all(|line| !line.contains(SECRET)),
        "the secret is in no log line"
    );
    let got = stats(&receiver).await;
    // The notification, and the test message.
    assert_eq!(got["webhook"].as_object().unwrap().len(), 2, "{got}");
    assert_eq!(
        got["webhook"][&id], 2,
        "sent again, with the same id: {got}"
    );
    assert_eq!(got["bad_signatures"], 0);

    let ledger = Ledger::open(&dir.path().join("ledger")).unwrap();
    let head = ledger.log().head().unwrap().seq;
    let recorded: Vec<_> = ledger
        .log()
        .read(1, usize::try_from(head).unwrap())
        .unwrap()
        .into_iter()
        .filter_map(|entry| match entry.event {
            Event::AlertDelivered {
                notification_id,
                destination,
                ..
            } => Some((destination, notification_id)),
            _ => None,
        })
        .collect();
    assert_eq!(recorded, [("hook".to_owned(), id)], "recorded exactly once");
}
