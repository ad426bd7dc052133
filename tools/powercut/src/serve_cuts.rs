//! Power cuts under the real `tailledger serve`: it syncs the simulated tailnet every 100 ms
//! while roles keep changing, an admin client writes employees through `AdminService` (each
//! response lists the events it made durable), and a follower streams `StreamEvents` (each
//! streamed event is acknowledged too). At a random moment the server is SIGKILLed, or stopped
//! with SIGTERM and the power cut after it exited, and the backing directory is inspected.
//!
//! The next round's reopen check: the server must start on the ledger found on disk and accept
//! an admin write past its head.

use std::io;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tailledger::api::pb;
use tailledger::api::pb::admin_service_client::AdminServiceClient;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tokio::runtime::Runtime;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::mount::Mounted;
use crate::process::Running;
use crate::scenario::{Layout, Settings, cut_and_inspect, describe_discarded, random_delay};
use crate::tailnet::{
    ADMIN_TOKEN, API_TOKEN, API_TOKEN_ENV, RoleChanger, Tailnet, free_port, write_config,
};
use crate::tally::Tally;

/// Opening a large ledger replays from its last checkpoint; this only bounds a hung start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// An upper bound on admin writes per round, so the writer loop is bounded.
const MAX_WRITES: usize = 5_000;

type Acks = Arc<Mutex<Vec<(u64, String)>>>;

fn push(acks: &Acks, events: impl IntoIterator<Item = pb::Event>) {
    acks.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(events.into_iter().map(|event| (event.seq, event.hash)));
}

fn bearer() -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    let value: MetadataValue<_> = format!("Bearer {ADMIN_TOKEN}")
        .parse()
        .expect("a token of ASCII letters is a valid header");
    move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", value.clone());
        Ok(request)
    }
}

/// What one round's clients saw.
struct Clients {
    acks: Acks,
    /// The first admin write's result: its last seq, or why it failed.
    first_write: Option<Result<u64, String>>,
    writes: usize,
}

/// Starts `serve` on the mounted ledger, on a free loopback port, and waits for its "serving"
/// log line. Returns the server and its port, or why it did not start.
fn start_server(
    settings: &Settings,
    layout: &Layout,
    tailnet: &Tailnet,
) -> io::Result<Result<(Running, u16), String>> {
    let mut why = String::new();
    // A port found free can be taken by another process before the server binds it; that is
    // not the ledger's fault, so only that failure is retried.
    for _ in 0..3 {
        let port = free_port()?;
        write_config(
            &layout.config,
            &layout.mounted_ledger(),
            tailnet.base_url(),
            port,
            "10s",
        )?;
        let mut command = Command::new(&settings.binary);
        command
            .args(["--log-format", "json", "serve", "-c"])
            .arg(&layout.config)
            .env(API_TOKEN_ENV, API_TOKEN)
            // The configuration refuses intervals under 10 s; the binary's test hook syncs every
            // 100 ms so that cuts land while syncs append.
            .env("TAILLEDGER_TEST_SYNC_INTERVAL", "100ms")
            .current_dir(&settings.dir);
        let mut server = Running::spawn(command, Some("\"serving\""))?;
        if server.wait_for_marker(START_TIMEOUT) {
            return Ok(Ok((server, port)));
        }
        let finished = server.kill();
        why = format!(
            "serve did not start (exit {:?}): {}",
            finished.status.code(),
            finished.stderr_tail()
        );
        if !why.contains("cannot listen") {
            break;
        }
    }
    Ok(Err(why))
}

/// Runs the clients against the server until the cut: a follower and an admin writer, while the
/// tailnet's roles change. Returns once the server is dead.
#[allow(clippy::too_many_arguments)]
async fn clients_until_cut(
    url: String,
    mounted: &Mounted,
    server: &mut Option<Running>,
    changer: RoleChanger,
    rng: &mut fastrand::Rng,
    round: u64,
    after_seq: u64,
    kill: bool,
) -> Result<Clients, String> {
    let channel = Channel::from_shared(url)
        .map_err(|error| error.to_string())?
        .connect()
        .await
        .map_err(|error| format!("cannot connect to serve: {error}"))?;
    let acks: Acks = Arc::default();

    let mut follower = LedgerServiceClient::with_interceptor(channel.clone(), bearer());
    let mut stream = follower
        .stream_events(pb::StreamEventsRequest {
            after_seq,
            follow: true,
        })
        .await
        .map_err(|status| format!("StreamEvents refused: {status}"))?
        .into_inner();
    let streamed = acks.clone();
    let following = tokio::spawn(async move {
        while let Ok(Some(response)) = stream.message().await {
            push(&streamed, response.event);
        }
    });

    let stop = Arc::new(AtomicBool::new(false));
    let (first_sender, first_receiver) = tokio::sync::oneshot::channel();
    let written = acks.clone();
    let stopping = stop.clone();
    let mut writer_rng = fastrand::Rng::with_seed(rng.u64(..));
    let mut admin = AdminServiceClient::with_interceptor(channel, bearer());
    let writing = tokio::spawn(async move {
        let mut first = Some(first_sender);
        let mut writes = 0;
        for write in 0..MAX_WRITES {
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            // The next scheduled sync then has these changes to record.
            let changes = writer_rng.usize(0..6);
            changer.change_roles(&mut writer_rng, changes);
            let response = admin
                .upsert_employee(pb::UpsertEmployeeRequest {
                    employee: Some(pb::EmployeeRecord {
                        employee_id: format!("E-{round}-{write}"),
                        email: format!("e{round}-{write}@acme.example"),
                        org_role: "Engineer".to_owned(),
                        ..Default::default()
                    }),
                })
                .await;
            let result = match response {
                Ok(response) => {
                    let events = response.into_inner().events;
                    let last = events.last().map_or(0, |event| event.seq);
                    push(&written, events);
                    writes += 1;
                    Ok(last)
                }
                Err(status) => Err(format!("UpsertEmployee failed: {status}")),
            };
            let failed = result.is_err();
            if let Some(sender) = first.take() {
                let _ = sender.send(result);
            }
            if failed {
                break;
            }
        }
        writes
    });

    // The first write is the reopen check; wait for it before choosing the moment of the cut.
    let first_write = match tokio::time::timeout(START_TIMEOUT, first_receiver).await {
        Ok(result) => result.ok(),
        Err(_) => Some(Err(format!(
            "no answer to the first admin write within {START_TIMEOUT:?}"
        ))),
    };
    let limit = random_delay(rng, Duration::from_millis(2_000));
    if kill && rng.bool() {
        // The power fails at a random write from now on (often between a write and its fsync),
        // or at the random moment if that comes first.
        if let Some(mut running) = server.take() {
            mounted.fail_after_writes(rng.u64(0..1_000), running.pid());
            let running = tokio::task::spawn_blocking(move || {
                running.wait_exit(limit);
                running
            })
            .await
            .map_err(|error| error.to_string())?;
            running.kill();
        }
    } else if kill {
        tokio::time::sleep(limit).await;
        if let Some(server) = server.take() {
            server.kill();
        }
    } else {
        tokio::time::sleep(limit).await;
        // An orderly stop: the clients go first (a follower would hold the shutdown open), then
        // SIGTERM, and the power is cut once the server has exited.
        stop.store(true, Ordering::Relaxed);
    }
    let writes = writing.await.unwrap_or(0);
    following.abort();
    let _ = following.await;
    if let Some(mut running) = server.take() {
        running.terminate();
        let finished = running.wait(Duration::from_secs(30));
        if finished.killed {
            return Err("serve did not stop within 30 s of SIGTERM".to_owned());
        }
        tokio::time::sleep(random_delay(rng, Duration::from_millis(50))).await;
    }
    Ok(Clients {
        acks,
        first_write,
        writes,
    })
}

pub fn run(settings: &Settings, runtime: &Runtime) -> io::Result<Tally> {
    let layout = Layout::create(&settings.dir)?;
    let tailnet = Tailnet::start(runtime, settings.users)?;
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let mut tally = Tally::default();
    let mut reopen = false;
    let mut cuts = 0;
    // Bounded: every pass either cuts, or checks a reopen and then starts a fresh ledger or ends.
    for _ in 0..2 * settings.rounds + 2 {
        // After the last cut, and before a planned fresh ledger, the reopen check is all.
        let check_only = reopen && (cuts == settings.rounds || settings.fresh_due(cuts));
        if cuts == settings.rounds && !check_only {
            break;
        }
        let round = cuts + 1;
        let mut mounted = layout.mount()?;
        let mut note = String::new();
        let (server, port) = match start_server(settings, &layout, &tailnet)? {
            Ok(server) => server,
            Err(why) if reopen => {
                note.push_str("REOPEN FAILED; fresh ledger; ");
                tally.record_failed_append(cuts, why);
                reopen = false;
                drop(mounted);
                tally.restart(&layout.backing_ledger())?;
                if check_only {
                    println!("  serve check after cut {cuts}: {note}");
                    continue;
                }
                mounted = layout.mount()?;
                start_server(settings, &layout, &tailnet)?
                    .map_err(|why| io::Error::other(format!("on a fresh ledger: {why}")))?
            }
            Err(why) => return Err(io::Error::other(format!("on a fresh ledger: {why}"))),
        };
        let kill = !check_only && rng.f64() < 0.65;
        let mut server = Some(server);
        let after_seq = tally.verified_head;
        let clients = runtime
            .block_on(clients_until_cut(
                format!("http://127.0.0.1:{port}"),
                &mounted,
                &mut server,
                tailnet.changer(),
                &mut rng,
                round,
                after_seq,
                kill,
            ))
            .map_err(io::Error::other)?;
        let first = match &clients.first_write {
            Some(Ok(seq)) if *seq > after_seq => Ok(*seq),
            Some(Ok(seq)) => Err(format!(
                "the admin write got seq {seq}, not past {after_seq}"
            )),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no admin write completed".to_owned()),
        };
        let mut reopen_failed = false;
        match (first, reopen) {
            (Ok(seq), true) => note.push_str(&format!("reopened and appended at {seq}; ")),
            (Ok(_), false) => {}
            (Err(why), true) => {
                note.push_str("REOPEN FAILED; fresh ledger; ");
                tally.record_failed_append(cuts, why);
                reopen_failed = true;
            }
            (Err(why), false) => tally.record_failed_write(round, why),
        }
        let acks =
            std::mem::take(&mut *clients.acks.lock().unwrap_or_else(PoisonError::into_inner));
        note.push_str(&format!(
            "{} admin writes, {} events acknowledged, then {}",
            clients.writes,
            acks.len(),
            if mounted.tripped() {
                "a power failure at a write"
            } else if kill {
                "SIGKILL and a cut"
            } else {
                "SIGTERM and a cut after the exit"
            }
        ));
        if check_only || reopen_failed {
            // This ledger is not inspected again, so what it acknowledged here is not counted.
            drop(mounted);
            reopen = false;
            if reopen_failed {
                tally.restart(&layout.backing_ledger())?;
            } else if cuts < settings.rounds {
                tally.start_fresh(&layout.backing_ledger())?;
                note.push_str("; a fresh ledger (planned)");
            }
            println!("  serve check after cut {cuts}: {note}");
            continue;
        }
        for (seq, hash) in &acks {
            tally.ack(*seq, hash);
        }
        cuts += 1;
        let (opened, discarded) =
            cut_and_inspect(settings, &layout, &mut tally, mounted, cuts, kill)?;
        reopen = opened;
        println!(
            "  serve round {cuts:>2}: {note}; {}; {}",
            describe_discarded(&discarded, settings.write_back),
            if opened {
                format!("ledger verifies, head {}", tally.verified_head)
            } else {
                "LEDGER DOES NOT REOPEN".to_owned()
            }
        );
    }
    Ok(tally)
}
