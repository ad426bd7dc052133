//! A malformed `[alerts]` refused at start (docs/reference/config.md#alerts): the real `serve`
//! with each mistake (an unknown check or state, a secret's variable not set, a URL that is no
//! https://, a digest time that is no HH:MM, a route to a destination that is not configured, a
//! `ca_file` holding no certificate) exits with status 2 and a message naming the file, the line,
//! the key and why; it creates no ledger and sends nothing.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::alerts::{Helper, SECRET, needs, stats};
use crate::alerts_serve::{SECRET_ENV, config};
use crate::cli::TOKEN_ENV;
use crate::helpers::{API_TOKEN, free_port, tailledger};

/// Runs `serve` on `file`; fails if it is still running after a deadline (the configuration
/// was accepted). Returns its exit code and standard error.
fn serve_refuses(file: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = tailledger()
        .args(["serve", "-c", file.to_str().unwrap()])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve accepted {}", file.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_malformed_alerts_table_is_refused_at_start_with_nothing_sent() {
    if !needs(
        "Python 3",
        &["python3", "--version"],
        "apt-get install python3",
    ) {
        return;
    }
    let receiver = Helper::start("receiver.py", &[]);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "http://127.0.0.1:9", &receiver, free_port());
    let file = dir.path().join("tailledger.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|line| line.starts_with(needle))
            .expect("the case's line")
            + 1
    };
    let all_env = [(TOKEN_ENV, API_TOKEN), (SECRET_ENV, SECRET)];
    // (what, the line replaced, its replacement, the key named, why, where the line it names
    // starts)
    let cases = [
        (
            "an unknown check",
            "checks = [\"offboarded-access-removed\"]",
            "checks = [\"no-such-check\"]",
            "alerts.route.checks",
            "no-such-check is no check id",
            "checks =",
        ),
        (
            "an unknown state",
            "states = [\"FAILING\"]",
            "states = [\"BROKEN\"]",
            "alerts.route.states",
            "BROKEN is not DUE, FAILING, EXCEPTED or RESOLVED",
            "states =",
        ),
        (
            "a URL that is no https://",
            "\nurl = \"http://127.0.0.1:",
            "\nurl = \"ftp://alerts.example/hook\"\n#",
            "alerts.destination.url",
            "must be an https:// URL",
            "url =",
        ),
        (
            "a digest time that is no HH:MM",
            "states = [\"FAILING\"]",
            "states = [\"FAILING\"]\ndigest = \"25:00\"",
            "alerts.route.digest",
            "is not a time of day HH:MM",
            "digest =",
        ),
        (
            "a route to a missing destination",
            "destination = \"hook\"",
            "destination = \"pager\"",
            "alerts.route.destination",
            "no [[alerts.destination]] is named pager",
            "destination = \"pager\"",
        ),
        (
            "a ca_file holding no certificate",
            "kind = \"webhook\"",
            "kind = \"email\"\nsmtp_host = \"127.0.0.1\"\nfrom = \"a@acme.example\"\nto = [\"b@acme.example\"]\nca_file = \"staff.csv\"",
            "alerts.destination.ca_file",
            "holds no PEM certificate",
            "ca_file =",
        ),
    ];
    for (what, line, replacement, key, why, named) in cases {
        let bad = good.replacen(line, replacement, 1);
        assert_ne!(bad, good, "{what}: the case changes the file");
        std::fs::write(&file, &bad).unwrap();
        let (code, said) = serve_refuses(&file, &all_env);
        assert_eq!(code, Some(2), "{what}: {said}");
        let at = format!("{}:{}: `{key}`", file.display(), line_of(&bad, named));
        assert!(said.contains(&at) && said.contains(why), "{what}: {said}");
    }
    // The webhook's secret named but not set.
    std::fs::write(&file, &good).unwrap();
    let (code, said) = serve_refuses(&file, &[(TOKEN_ENV, API_TOKEN)]);
    assert_eq!(code, Some(2), "{said}");
    let at = format!(
        "{}:{}: `alerts.destination.secret_env`",
        file.display(),
        line_of(&good, "secret_env")
    );
    assert!(
        said.contains(&at) && said.contains(&format!("{SECRET_ENV} is not set")),
        "{said}"
    );
    assert!(!dir.path().join("ledger").exists(), "no ledger was made");
    let got = stats(&receiver).await;
    assert!(got["webhook"].as_object().unwrap().is_empty(), "{got}");
}
