//! The web console over HTTP on loopback (docs/admin.md#web-console): the auth matrix on every
//! page and form, CSRF and origin refusals that record nothing, hostile names shown as text,
//! reviewers deciding only their own reviews, admin actions recorded as `web:<token name>`, the
//! session cookie's attributes, and the listener's bounds against slow clients.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use tailledger::api::{Auth, Role, TokenEntry, Tokens};
use tailledger::checks::CheckSettings;
use tailledger::event::{Actor, SystemId};
use tailledger::hash::Hash256;
use tailledger::ledger::Ledger;
use tailledger::listener::HttpLimits;
use tailledger::service::Service;
use tailledger::simulator::SimUser;
use tailledger::sync::{Listers, SyncOptions, Syncer, TailscaleSource};
use tailledger::tailscale::TailscaleClient;
use tailledger::time::{Clock, SystemClock};
use tailledger::web;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{Fixture, api_token};
use crate::tls::TestPki;

pub const ADMIN_TOKEN: &str = "web-admin-token-1a2b";
pub const AUDITOR_TOKEN: &str = "web-auditor-token-3c4d";
pub const REVIEWER_TOKEN: &str = "web-reviewer-token-5e6f";
pub const LEAD_TOKEN: &str = "web-lead-token-7a8b";

/// The roster: Dana (`u1`) is E-1, the lead; Marco (`u2`) is E-2, the reviewer.
const ROSTER: &str = "employee_id,email,name,org_role\nE-1,dana@acme.example,Dana Whitfield,IT\nE-2,marco@acme.example,Marco Ibanez,IT\n";

/// A display name out to do harm: markup, a script URL and a right-to-left override.
const HOSTILE_NAME: &str = "<script>alert('x')</script> javascript:alert(1) \u{202e}gnp.exe";
const HOSTILE_ID: &str = "javascript:alert(1)";

fn tokens() -> Auth {
    let token = |name: &str, role, secret: &str, employee: Option<&str>| TokenEntry {
        name: name.to_owned(),
        role,
        sha256: Hash256::of(secret.as_bytes()),
        employee_id: employee.map(str::to_owned),
    };
    Auth::Tokens(vec![
        token("ops", Role::Admin, ADMIN_TOKEN, None),
        token("audit", Role::Auditor, AUDITOR_TOKEN, None),
        token("rev", Role::Reviewer, REVIEWER_TOKEN, Some("E-2")),
        token("lead", Role::Admin, LEAD_TOKEN, Some("E-1")),
    ])
}

/// A console serving a synced ledger of the simulated tailnet, with a hostile account.
pub struct Console {
    pub base: String,
    /// A client that trusts the console's certificate when it serves TLS.
    pub http: reqwest::Client,
    pub service: Arc<Service>,
    pub tokens: Arc<Tokens>,
    _fixture: Fixture,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A signed-in browser: its cookie and its session's CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Console {
    pub async fn start(limits: HttpLimits) -> Console {
        Console::serving(limits, None, Arc::new(SystemClock)).await
    }

    /// A console over TLS with `pki`'s server certificate (for `localhost`) when it is given,
    /// whose service reads `clock`.
    pub async fn serving(
        limits: HttpLimits,
        pki: Option<&TestPki>,
        clock: Arc<dyn Clock>,
    ) -> Console {
        let fixture = Fixture::start().await;
        fixture.tailnet.upsert_user(SimUser::member(
            HOSTILE_ID,
            "mallory@evil.example",
            HOSTILE_NAME,
        ));
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(dir.path()).unwrap());
        let mut service = Service::new(
            ledger.clone(),
            clock,
            CheckSettings::default(),
            chrono_tz::UTC,
        );
        service.set_syncer(Syncer::new(
            SystemId::tailscale(),
            Box::new(TailscaleSource::new(
                TailscaleClient::new(fixture.config(api_token())).unwrap(),
                Listers::default(),
            )),
            ledger,
            Arc::new(SystemClock),
            SyncOptions::default(),
        ));
        let setup = Actor::Api("setup".to_owned());
        service
            .import_roster(setup.clone(), ROSTER.as_bytes().to_vec())
            .await
            .unwrap();
        service
            .set_access_policy(
                setup,
                SystemId::tailscale(),
                vec!["IT".to_owned()],
                vec!["IT".to_owned()],
                None,
                "the IT team runs the tailnet".to_owned(),
            )
            .await
            .unwrap();
        service.sync_now(&SystemId::tailscale()).await.unwrap();
        let service = Arc::new(service);
        let tokens = Arc::new(Tokens::new(tokens()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (base, http) = match pki {
            None => (format!("http://127.0.0.1:{port}"), Console::client()),
            Some(pki) => (
                format!("https://localhost:{port}"),
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .add_root_certificate(
                        reqwest::Certificate::from_pem(pki.ca.as_bytes()).unwrap(),
                    )
                    .build()
                    .unwrap(),
            ),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let console = web::Console {
            service: service.clone(),
            tokens: tokens.clone(),
            system: SystemId::tailscale(),
            tls: pki.map(TestPki::identity),
            session_ttl: Duration::from_secs(3600),
        };
        let task = tokio::spawn(async move {
            web::serve(listener, console, &limits, async {
                let _ = stopped.await;
            })
            .await;
        });
        Console {
            base,
            http,
            service,
            tokens,
            _fixture: fixture,
            stop,
            task,
            _dir: dir,
        }
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn head_seq(&self) -> u64 {
        self.service.head().map_or(0, |head| head.seq)
    }

    /// Signs in with `token`; the browser holding the cookie and a page's CSRF token.
    pub async fn sign_in(&self, token: &str) -> Browser {
        let answer = self
            .http
            .post(format!("{}/signin", self.base))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::SEE_OTHER,
            "sign-in with {token}"
        );
        let cookie = answer
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let mut browser = Browser {
            cookie,
            csrf: String::new(),
        };
        let (status, page) = self.get(Some(&browser), "/reviews").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        browser.csrf = csrf_of(&page);
        browser
    }

    pub async fn get(&self, browser: Option<&Browser>, path: &str) -> (StatusCode, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(browser) = browser {
            request = request.header("cookie", &browser.cookie);
        }
        let answer = request.send().await.unwrap();
        (answer.status(), answer.text().await.unwrap())
    }

    /// Posts `fields` (and the browser's CSRF token unless `csrf` says otherwise) with `headers`.
    pub async fn post(
        &self,
        browser: &Browser,
        path: &str,
        fields: &[(&str, &str)],
        headers: HeaderMap,
    ) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(name, _)| *name == "csrf") {
            form.push(("csrf", &browser.csrf));
        }
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &browser.cookie)
            .headers(headers)
            .form(&form)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    }

    /// Starts a review of every account by `reviewers` as `admin`; its id.
    pub async fn start_review(&self, admin: &Browser, reviewers: &str) -> String {
        let (status, page) = self
            .post(
                admin,
                "/reviews",
                &[
                    ("scope", "all"),
                    ("reviewers", reviewers),
                    ("due", "2999-01-01"),
                ],
                same_origin(self),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        review_id_of(&page)
    }

    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap();
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("the page has a form") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

pub fn same_origin(console: &Console) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("origin", HeaderValue::from_str(&console.base).unwrap());
    headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
    headers
}

/// The review started by a page that shows what was appended.
fn review_id_of(page: &str) -> String {
    // Autoescaping writes the link's slashes as `&#x2f;`, which browsers read as `/`.
    let page = page.replace("&#x2f;", "/");
    let marker = "href=\"/reviews/";
    let start = page.find(marker).expect("a link to the review") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_and_form_keeps_the_auth_matrix() {
    let console = Console::start(HttpLimits::default()).await;
    // An admin starts a review of E-2's, so a reviewer has a review to read.
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let review = format!("/reviews/{}", console.start_review(&admin, "E-2").await);
    let pages = [
        "/",
        "/checks/user-identified",
        "/accounts",
        "/accounts?filter=unidentified",
        "/accounts/u1",
        "/people",
        "/people/E-1",
        "/report",
        "/exceptions",
        "/ledger",
    ];
    let forms = [
        ("/accounts/u3/link", "admin"),
        ("/accounts/u3/classify", "admin"),
        ("/people/E-1/offboard", "admin"),
        ("/exceptions", "admin"),
        ("/exceptions/x/revoke", "admin"),
        ("/sync", "admin"),
        ("/reviews", "admin"),
        (&*format!("{review}/complete"), "admin"),
        (&*format!("{review}/reassign"), "admin"),
        (&*format!("{review}/cancel"), "admin"),
        (&*format!("{review}/decide"), "decide"),
    ];
    let reviewer = console.sign_in(REVIEWER_TOKEN).await;
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    for (role, browser) in [
        ("admin", &admin),
        ("auditor", &auditor),
        ("reviewer", &reviewer),
    ] {
        for page in pages {
            let (status, body) = console.get(Some(browser), page).await;
            let expected = if role == "reviewer" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::OK
            };
            assert_eq!(status, expected, "{role} GET {page}: {body}");
            if role == "auditor" {
                assert!(
                    !body.contains("data-action="),
                    "an auditor is offered an admin action on {page}"
                );
            }
        }
        for page in ["/reviews", review.as_str()] {
            let (status, body) = console.get(Some(browser), page).await;
            assert_eq!(status, StatusCode::OK, "{role} GET {page}: {body}");
        }
        for (path, needs) in &forms {
            let may = matches!((*needs, role), (_, "admin") | ("decide", "reviewer"));
            let before = console.head_seq();
            // Empty fields: an allowed form is refused for what it lacks, never for the role.
            let (status, body) = console
                .post(browser, path, &[], same_origin(&console))
                .await;
            if may {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role} POST {path}: {body}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} POST {path}: {body}");
                assert!(body.contains("may not"), "{body}");
                assert_eq!(
                    console.head_seq(),
                    before,
                    "{role} POST {path} recorded something"
                );
            }
        }
    }
    // Signed out, every page and form sends one to sign in.
    for page in pages.iter().copied().chain(["/reviews", review.as_str()]) {
        let answer = Console::client()
            .get(format!("{}{page}", console.base))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(answer.headers()["location"], "/signin");
    }
    let before = console.head_seq();
    let answer = Console::client()
        .post(format!("{}/sync", console.base))
        .form(&[("csrf", admin.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(console.head_seq(), before);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_without_its_csrf_token_or_from_another_origin_records_nothing() {
    let console = Console::start(HttpLimits::default()).await;
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let other = console.sign_in(LEAD_TOKEN).await;
    let link = [("employee_id", "E-1"), ("reason", "Priya works for Dana")];
    let before = console.head_seq();
    let mut cross_origin = HeaderMap::new();
    cross_origin.insert("origin", HeaderValue::from_static("http://evil.example"));
    let mut cross_site = HeaderMap::new();
    cross_site.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    let missing: Vec<(&str, &str)> = link.iter().copied().chain([("csrf", "")]).collect();
    let wrong: Vec<(&str, &str)> = link
        .iter()
        .copied()
        .chain([("csrf", other.csrf.as_str())])
        .collect();
    for (what, fields, headers) in [
        ("no CSRF token", &missing[..], same_origin(&console)),
        (
            "another session's CSRF token",
            &wrong[..],
            same_origin(&console),
        ),
        ("another origin", &link[..], cross_origin),
        ("a cross-site fetch", &link[..], cross_site),
    ] {
        let (status, body) = console
            .post(&admin, "/accounts/u3/link", fields, headers)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert!(body.contains("nothing was recorded"), "{what}: {body}");
        assert_eq!(console.head_seq(), before, "{what} recorded something");
    }
    // The same form, from the console with its token, is recorded as `web:ops` and shown.
    let (status, body) = console
        .post(&admin, "/accounts/u3/link", &link, same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seq = console.head_seq();
    assert_eq!(seq, before + 1);
    assert!(body.contains(&format!("data-seq=\"{seq}\"")), "{body}");
    assert!(body.contains("data-actor=\"web:ops\""), "{body}");
    assert!(body.contains("AccountLinked"), "{body}");
    let entry = console.service.events(seq - 1, 1).await.unwrap().entries;
    assert_eq!(entry[0].actor, Actor::Web("ops".to_owned()));
    // The account's page shows the link, and the check no longer names the account.
    let (_, page) = console.get(Some(&admin), "/accounts/u3").await;
    assert!(page.contains("data-link=\"manual\""), "{page}");
    let (_, check) = console.get(Some(&admin), "/checks/user-identified").await;
    assert!(!check.contains("data-account-id=\"u3\""), "{check}");
    // A bad form is refused, naming the field, and records nothing.
    let (status, body) = console
        .post(
            &admin,
            "/accounts/u3/classify",
            &[("classification", "robot"), ("reason", "r")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("`classification`: `robot`"), "{body}");
    assert_eq!(console.head_seq(), seq);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_shown_as_text() {
    let console = Console::start(HttpLimits::default()).await;
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let account = format!("/accounts/{}", "javascript%3Aalert%281%29");
    for page in ["/accounts", "/checks/user-identified", account.as_str()] {
        let answer = Console::client()
            .get(format!("{}{page}", console.base))
            .header("cookie", &auditor.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{page}");
        assert_eq!(
            answer.headers()["content-security-policy"],
            web::CONTENT_SECURITY_POLICY
        );
        let body = answer.text().await.unwrap();
        assert!(body.contains("mallory@evil.example"), "{page}: {body}");
        assert!(!body.contains("<script"), "{page}: {body}");
        assert!(
            !body.contains('\u{202e}'),
            "{page}: the override is in the page"
        );
        assert!(
            !body.to_lowercase().contains("href=\"javascript"),
            "{page}: {body}"
        );
        for tag in body.split('<').skip(1) {
            assert!(!tag.starts_with("script"), "{page}: {body}");
        }
        if page != "/checks/user-identified" {
            assert!(body.contains("&lt;script&gt;"), "{page}: {body}");
            assert!(body.contains("\\u{202e}gnp.exe"), "{page}: {body}");
        }
        assert!(
            body.contains("href=\"/accounts/javascript%3Aalert%281%29\"") || page == account,
            "{page}: {body}"
        );
    }
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_decides_their_own_reviews_only_per_account_and_in_bulk() {
    let console = Console::start(HttpLimits::default()).await;
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let theirs = console.start_review(&admin, "E-2").await;
    let others = console.start_review(&admin, "E-1").await;
    let reviewer = console.sign_in(REVIEWER_TOKEN).await;
    let (_, list) = console.get(Some(&reviewer), "/reviews").await;
    assert!(
        list.contains(&format!("data-review-id=\"{theirs}\"")),
        "{list}"
    );
    assert!(
        !list.contains(&format!("data-review-id=\"{others}\"")),
        "{list}"
    );
    let (status, _) = console
        .get(Some(&reviewer), &format!("/reviews/{others}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, page) = console
        .get(Some(&reviewer), &format!("/reviews/{theirs}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-review-decision=\"u1\""), "{page}");
    assert!(page.contains("name=\"decision\""), "{page}");
    // One account, then two at once.
    let decide = format!("/reviews/{theirs}/decide");
    let (status, body) = console
        .post(
            &reviewer,
            &decide,
            &[
                ("account_id", "u1"),
                ("decision", "keep"),
                ("reason", "owner of the tailnet"),
            ],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("data-actor=\"web:rev\""), "{body}");
    assert!(body.contains("AccessReviewDecided"), "{body}");
    let before = console.head_seq();
    let (status, body) = console
        .post(
            &reviewer,
            &decide,
            &[
                ("account_id", "u3"),
                ("account_id", HOSTILE_ID),
                ("decision", "revoke"),
                ("reason", "not on the roster"),
            ],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        console.head_seq(),
        before + 2,
        "one entry per account: {body}"
    );
    let (_, page) = console
        .get(Some(&reviewer), &format!("/reviews/{theirs}"))
        .await;
    assert!(
        page.contains("data-account-id=\"u3\" data-decision=\"revoke\""),
        "{page}"
    );
    // The reviewer cannot decide the other review, nor complete theirs.
    let before = console.head_seq();
    let (status, body) = console
        .post(
            &reviewer,
            &format!("/reviews/{others}/decide"),
            &[("account_id", "u1"), ("decision", "keep"), ("reason", "r")],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = console
        .post(
            &reviewer,
            &format!("/reviews/{theirs}/complete"),
            &[],
            same_origin(&console),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(console.head_seq(), before);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sets_a_strict_session_cookie_and_sign_out_ends_it() {
    let console = Console::start(HttpLimits::default()).await;
    let answer = Console::client()
        .post(format!("{}/signin", console.base))
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(answer.headers().get("set-cookie").is_none());
    let page = answer.text().await.unwrap();
    assert!(!page.contains("not-a-token"), "the page repeats the token");
    let answer = Console::client()
        .post(format!("{}/signin", console.base))
        .form(&[("token", AUDITOR_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plaintext: {cookie}");
    assert!(!cookie.contains(AUDITOR_TOKEN));
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let (status, page) = console.get(Some(&auditor), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-check-id=\"user-identified\""), "{page}");
    assert!(page.contains("<svg class=\"bar\""), "{page}");
    assert!(
        !page.contains("data-action=\"sync\""),
        "an auditor is offered an admin action"
    );
    let (status, _) = console
        .post(&auditor, "/signout", &[], same_origin(&console))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = console.get(Some(&auditor), "/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the session outlived its sign-out"
    );
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_tokens_sessions_end_at_once() {
    let console = Console::start(HttpLimits::default()).await;
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let admin = console.sign_in(ADMIN_TOKEN).await;
    let Auth::Tokens(mut kept) = tokens() else {
        unreachable!()
    };
    kept.retain(|token| token.name != "audit");
    console.tokens.replace(Auth::Tokens(kept));
    let (status, _) = console.get(Some(&auditor), "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = console.get(Some(&admin), "/").await;
    assert_eq!(status, StatusCode::OK);
    console.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_downloads_the_evidence_pack_of_a_window() {
    let console = Console::start(HttpLimits::default()).await;
    let auditor = console.sign_in(AUDITOR_TOKEN).await;
    let (status, page) = console.get(Some(&auditor), "/evidence").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-action=\"download-evidence\""), "{page}");
    let (status, body) = console
        .get(Some(&auditor), "/evidence?from=2000-01-01&to=yesterday")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("`to`"), "{body}");
    let to = console.service.now().to_string();
    let answer = Console::client()
        .get(format!("{}/evidence", console.base))
        .query(&[("from", "2000-01-01"), ("to", to.as_str())])
        .header("cookie", &auditor.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/x-tar");
    assert!(
        answer.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"tailledger-evidence-2000-01-01-"),
    );
    let tar = answer.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pack.tar"), &tar).unwrap();
    let unpacked = std::process::Command::new("tar")
        .args(["-xf", "pack.tar"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(unpacked.success());
    let pack = dir.path().join("evidence");
    let checked = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", "MANIFEST.sha256"])
        .current_dir(&pack)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
    let index = std::fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(index.contains("user-identified"), "the pack's page");
    let export = std::fs::read_to_string(pack.join("ledger.jsonl")).unwrap();
    assert_eq!(export.lines().count() as u64, console.head_seq());
    console.stop().await;
}

/// `count` connections that each sent `start`.
async fn connections(address: &str, count: usize, start: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..count {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(start).await.unwrap();
        streams.push(stream);
    }
    streams
}

/// Whether the server closed `stream` within `wait`.
pub async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0u8; 512];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_cannot_hold_the_console() {
    let limits = HttpLimits {
        max_connections: 4,
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
    };
    let console = Console::start(limits).await;
    let address = console.base.trim_start_matches("http://").to_owned();
    // Silent clients beyond the cap: the oldest are closed to make room for an honest request.
    let mut silent = connections(&address, 4, b"GET / HTTP/1.1\r\nhost: x\r\n").await;
    let (status, _) = console.get(None, "/signin").await;
    assert_eq!(status, StatusCode::OK, "an honest request was locked out");
    // The header timeout closes the ones left.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a silent client held on"
        );
    }
    // A sign-in whose body trickles is cut at the body deadline.
    let mut trickle = TcpStream::connect(&address).await.unwrap();
    trickle
        .write_all(b"POST /signin HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ntoken=")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 1024];
        loop {
            match trickle.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => answer.extend_from_slice(&buffer[..read]),
            }
            if answer.windows(4).any(|end| end == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the trickling body was not cut");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    console.stop().await;
}
