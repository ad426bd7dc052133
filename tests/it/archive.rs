//! The archive off the machine (docs/operating.md#backup): the directory bucket's never-twice
//! rule and its bound on reads, `[archive]` refusals, the `archive-behind` finding, and the
//! archiver under `serve` against a directory and against a real S3 server (SeaweedFS) whose
//! Object Lock is checked with boto3. The archive is the log as tiles, up to the head at
//! shutdown; through an outage of the server, and through a SIGKILL of `serve` mid-upload, it
//! ends whole, with no gap and no full object written twice. A ledger whose directory is
//! deleted is restored from `s3://` alone, equal to the original; a tampered bundle, a missing
//! tile and another log's checkpoint in the bucket are refused at the right entry index.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use tailledger::archive::{ArchiveError, ArchiveStatus, Bucket, DirBucket, PROGRESS_FILE};
use tailledger::checks::{CheckSettings, CheckState, Reason};
use tailledger::config::Config;
use tailledger::event::SystemId;
use tailledger::ledger::{Ledger, Log};
use tailledger::merkle::{VerifierKey, verify_checkpoint};
use tailledger::restore::restore_from_tiles;
use tailledger::service::Service;
use tailledger::tiles::{self, MAX_OBJECT_BYTES, TilePath};
use tailledger::time::{ManualClock, Timestamp};

use crate::cli::run_with_env;
use crate::helpers::{
    API_TOKEN, Fixture, every_kind_of_event, free_port, keygen, metric_value, spawn_serve, text,
};
use crate::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed, poll_until};

/// How long a serve test waits for the archive at most.
const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_directory_bucket_writes_a_full_object_once_and_refuses_other_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = Bucket::Dir(DirBucket::new(dir.path().join("archive")));
    let now = Timestamp::from_micros(1_800_000_000_000_000).unwrap();
    bucket
        .put_full("tile/entries/000", b"one\n", now)
        .await
        .unwrap();
    let file = dir.path().join("archive/tile/entries/000");
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    // The same bytes again (a restart after a crash): success, and the file is not rewritten.
    bucket
        .put_full("tile/entries/000", b"one\n", now)
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
    let refused = bucket
        .put_full("tile/entries/000", b"two\n", now)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ArchiveError::Conflict { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("never written twice"),
        "{refused}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"one\n");
    // A mutable object is replaced; a path out of the archive is refused and writes nothing.
    bucket.put_mutable("checkpoint", b"a").await.unwrap();
    bucket.put_mutable("checkpoint", b"b").await.unwrap();
    assert_eq!(bucket.get("checkpoint").await.unwrap().unwrap(), b"b");
    assert_eq!(bucket.get("tile/0/000").await.unwrap(), None);
    for bad in ["../escape", "/etc/x", "a//b"] {
        assert!(matches!(
            bucket.put_mutable(bad, b"x").await,
            Err(ArchiveError::BadPath { .. })
        ));
    }
    assert!(!dir.path().join("escape").exists());
    assert_eq!(
        bucket.list("").await.unwrap(),
        ["checkpoint", "tile/entries/000"]
    );
    // No temporary file is left beside the objects.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("archive/tile/entries"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // An object larger than any of a tiled log is refused unread.
    std::fs::create_dir_all(dir.path().join("archive/tile/0")).unwrap();
    let huge = std::fs::File::create(dir.path().join("archive/tile/0/000")).unwrap();
    huge.set_len(MAX_OBJECT_BYTES as u64 + 1).unwrap();
    let refused = bucket.get("tile/0/000").await.unwrap_err();
    assert!(
        matches!(refused, ArchiveError::TooLarge { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("tile/0/000"), "{refused}");
}

/// A configuration with `[archive]` written as `archive`, secrets from `env`.
fn parse(archive: &str, checkpoint: bool) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    let checkpoint = if checkpoint {
        format!("[checkpoint]\nsigning_key_path = \"{}\"\n", key.display())
    } else {
        String::new()
    };
    let text = format!(
        "[auth]\ndisabled = true\n[tailscale]\napi_token_env = \"T\"\n{checkpoint}[archive]\n{archive}"
    );
    Config::parse(Path::new("t.toml"), &text, dir.path(), |name| {
        (name != "MISSING").then(|| "value".to_owned())
    })
    .map_err(|error| error.to_string())
}

#[test]
fn archive_settings_are_refused_naming_file_line_and_key() {
    let s3 = "s3 = { endpoint = \"http://127.0.0.1:9000\", bucket = \"ledger-archive\" }\n";
    for (archive, checkpoint, expected) in [
        ("max_lag = \"1h\"\n", true, "t.toml:7: `archive`: set `dir"),
        (
            "dir = \"a\"\n",
            false,
            "t.toml:5: `archive`: needs `[checkpoint] signing_key_path`",
        ),
        (
            "dir = \"a\"\nretention_days = 30\n",
            true,
            "t.toml:9: `archive.retention_days`: applies to `s3` only",
        ),
        (
            &format!("dir = \"a\"\n{s3}"),
            true,
            "t.toml:9: `archive.s3`: set `dir` or `s3`, not both",
        ),
        (
            "s3 = { endpoint = \"ftp://x\", bucket = \"ledger-archive\" }\n",
            true,
            "t.toml:8: `archive.s3.endpoint`: `ftp://x` is not an http:// or https:// address",
        ),
        (
            "s3 = { endpoint = \"https://s3.example\", bucket = \"Ledger_Archive\" }\n",
            true,
            "t.toml:8: `archive.s3.bucket`: `Ledger_Archive` is not a bucket name",
        ),
        (
            &format!("{s3}retention_mode = \"compliance\"\n"),
            true,
            "t.toml:9: `archive.retention_mode`: `compliance` is not an Object Lock mode",
        ),
        (
            &format!("{s3}retention_days = 0\n"),
            true,
            "t.toml:9: `archive.retention_days`: 0 is not between 1 and 36500",
        ),
        (
            &format!("{s3}max_lag = \"soon\"\n"),
            true,
            "t.toml:9: `archive.max_lag`: `soon` is not a duration",
        ),
        (
            "s3 = { endpoint = \"https://s3.example\", bucket = \"ledger-archive\", secret_key_env = \"MISSING\" }\n",
            true,
            "t.toml:8: `archive.s3.secret_key_env`: the environment variable MISSING is not set",
        ),
    ] {
        let refused = parse(archive, checkpoint).expect_err(archive);
        assert!(refused.starts_with(expected), "{archive}: {refused}");
    }
    let config = parse(
        "s3 = { endpoint = \"https://s3.example\", bucket = \"ledger-archive\", prefix = \"/tl/prod/\" }\n",
        true,
    )
    .unwrap();
    let settings = config.archive.unwrap();
    assert_eq!(settings.max_lag, Duration::from_secs(3600));
    let tailledger::config::ArchiveTarget::S3(s3) = settings.target else {
        panic!("an S3 archive");
    };
    assert_eq!(s3.prefix, "tl/prod");
    assert_eq!(s3.retention, tailledger::config::DEFAULT_RETENTION);
    // The secrets are read, and never shown.
    assert_eq!(s3.secret_key.expose(), "value");
    assert!(!format!("{s3:?}").contains("value"), "{s3:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_behind_is_found_live_past_max_lag_and_gone_once_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(crate::helpers::ledger_with_golden_events(dir.path(), 7));
    let head = ledger.log().head().unwrap().seq;
    let first_waiting = ledger.log().get(3).unwrap().unwrap().recorded_at;
    let clock = Arc::new(ManualClock::new(first_waiting.saturating_add_seconds(600)));
    let mut service = Service::new(
        ledger,
        clock.clone(),
        CheckSettings::default(),
        chrono_tz::UTC,
    );
    let status = Arc::new(ArchiveStatus::new("dir", Duration::from_secs(900), 2));
    status.set(2, Some(first_waiting));
    service.set_archive_status(status.clone());
    let behind = async |service: &Service| {
        let report = service.status(SystemId::tailscale(), None).await.unwrap();
        let check = report
            .checks
            .iter()
            .find(|check| check.check_id == "integration-healthy")
            .unwrap();
        let found: Vec<_> = check
            .findings
            .iter()
            .filter(|finding| finding.reason == Reason::ArchiveBehind)
            .map(|finding| finding.message.clone())
            .collect();
        (check.state, found)
    };
    assert!(
        behind(&service).await.1.is_empty(),
        "600 s is within max_lag"
    );
    assert_eq!(
        service.archive_lag().unwrap().1,
        tailledger::archive::Lag {
            entries: head - 2,
            seconds: 600
        }
    );
    clock.advance(Duration::from_secs(301));
    let (state, found) = behind(&service).await;
    assert_eq!(state, CheckState::Failing);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&format!("{} entries behind", head - 2)) && found[0].contains("901s"),
        "{}",
        found[0]
    );
    // Read live: caught up, the finding is gone without anything recorded.
    status.set(head, None);
    assert!(behind(&service).await.1.is_empty());
    assert!(Reason::ALL.contains(&Reason::ArchiveBehind));
    assert_eq!(Reason::parse("archive-behind"), Some(Reason::ArchiveBehind));
}

/// Appends `count` entries to a new ledger in `data_dir` (the golden events, over and over), an
/// hour ago.
fn fill(data_dir: &Path, count: usize) {
    let ledger = Ledger::open(data_dir).unwrap();
    let start = Timestamp::now().saturating_add_seconds(-3600);
    let events: Vec<_> = every_kind_of_event()
        .into_iter()
        .cycle()
        .take(count)
        .collect();
    for (index, batch) in events.chunks(1_000).enumerate() {
        let (actors, events): (Vec<_>, Vec<_>) = batch.iter().cloned().unzip();
        ledger
            .append(
                start.saturating_add_micros(index as i64),
                actors[0].clone(),
                events,
            )
            .unwrap();
    }
}

/// A `serve` configuration in `dir` (ledger `ledger`, the simulator's tailnet, a signing key,
/// metrics) with `[archive]` as written; returns its file, the public key and the metrics port.
fn serve_config(dir: &Path, fixture: &Fixture, archive: &str) -> (PathBuf, VerifierKey, u16) {
    let (key, public) = keygen(dir);
    let metrics = free_port();
    let config = dir.join("tailledger.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"ledger\"\nlisten = \"127.0.0.1:{}\"\n[auth]\ndisabled = true\n[tailscale]\napi_base_url = \"{}\"\napi_token_env = \"TL_TOKEN\"\nsync_interval = \"10s\"\n[checkpoint]\nsigning_key_path = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[archive]\n{archive}max_lag = \"1s\"\nretry_max = \"200ms\"\n",
            free_port(),
            fixture.server.base_url(),
            key.display()
        ),
    )
    .unwrap();
    (config, VerifierKey::parse(&public).unwrap(), metrics)
}

/// Starts `serve` on `config`; `syncing` makes it sync every 50 ms, appending as it goes.
fn serve(config: &Path, syncing: bool) -> Child {
    let mut env = vec![
        ("TL_TOKEN", API_TOKEN),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    if syncing {
        env.push(("TAILLEDGER_TEST_SYNC_INTERVAL", "50ms"));
    }
    spawn_serve(config, &env).0
}

/// The archived size the progress file in `data_dir` states (0 before there is one).
fn progress(data_dir: &Path) -> u64 {
    std::fs::read_to_string(data_dir.join(PROGRESS_FILE))
        .ok()
        .and_then(|text| text.lines().nth(1).and_then(|size| size.parse().ok()))
        .unwrap_or(0)
}

fn stop(mut server: Child) {
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

/// Checks that `bucket` holds a whole archive of the ledger in `data_dir` (stopped) up to its
/// head: a tiled log whose signed checkpoint names the ledger's root at its head, that holds
/// nothing but tiles and the checkpoint, and that restores (every entry, tile and the root
/// checked) to the ledger's head. Returns the archived size.
async fn assert_whole(bucket: &Bucket, data_dir: &Path, key: &VerifierKey, scratch: &Path) -> u64 {
    let note = bucket
        .get("checkpoint")
        .await
        .unwrap()
        .expect("a checkpoint");
    let checkpoint = verify_checkpoint(std::str::from_utf8(&note).unwrap(), key).unwrap();
    let log = Log::open_existing(data_dir).unwrap();
    let head = log.head().unwrap();
    assert_eq!(checkpoint.size, head.seq, "the archive ends at the head");
    assert_eq!(checkpoint.root, log.tree_root(checkpoint.size).unwrap());
    drop(log);
    let paths = bucket.list("").await.unwrap();
    for path in &paths {
        assert!(
            path == "checkpoint" || TilePath::parse(path).is_some(),
            "{path} is not an object of a tiled log"
        );
    }
    for tile in tiles::tiles_of_size(checkpoint.size) {
        assert!(paths.contains(&tile.to_string()), "{tile} is missing");
    }
    let target = scratch.join(format!("restored-{}", checkpoint.size));
    let restored = restore_from_tiles(bucket, key, &target, &|_| {})
        .await
        .unwrap();
    assert_eq!(restored.head, head);
    std::fs::remove_dir_all(&target).unwrap();
    checkpoint.size
}

/// How many full tiles and bundles the tree of `size` leaves has: the objects under Object Lock.
fn full_objects(size: u64) -> usize {
    tiles::tiles_of_size(size)
        .iter()
        .filter(|tile| tile.is_full())
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_archives_the_log_to_a_directory_as_it_grows_and_up_to_its_head_at_shutdown() {
    let fixture = Fixture::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("ledger");
    fill(&data_dir, 700);
    let archive = dir.path().join("archive");
    let (config, key, metrics) = serve_config(dir.path(), &fixture, "dir = \"archive\"\n");
    let server = tokio::task::spawn_blocking(move || serve(&config, true))
        .await
        .unwrap();
    let grown = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || {
            poll_until("the archive passes 770 entries", WITHIN, || {
                progress(&data_dir) > 770
            })
        }
    });
    grown.await.unwrap();
    let scrape = reqwest::get(format!("http://127.0.0.1:{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lag = metric_value(&scrape, "tailledger_archive_lag_entries{archive=\"dir\"}");
    assert!(lag.is_some(), "{scrape}");
    assert!(metric_value(&scrape, "tailledger_archive_lag_seconds{archive=\"dir\"}").is_some());
    // Stopped while the syncs append every 50 ms: the last pass archives up to the very head.
    tokio::task::spawn_blocking(move || stop(server))
        .await
        .unwrap();
    let size = assert_whole(
        &Bucket::Dir(DirBucket::new(archive.clone())),
        &data_dir,
        &key,
        dir.path(),
    )
    .await;
    assert!(size > 770);
    assert_eq!(progress(&data_dir), size);
    // The independent reader takes the archive directory for the tiled log it is.
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiles/read_tiles.py");
    let public_key = format!("{}", key);
    let read = std::process::Command::new("python3")
        .args([
            reader,
            &format!("file://{}", archive.display()),
            "--public-key",
            &public_key,
        ])
        .output()
        .expect("python3 runs");
    assert!(read.status.success(), "{}", text(&read));
}

/// The S3 `[archive]` of a bucket on `seaweed`, under a prefix.
fn s3_archive(seaweed: &Seaweed, bucket: &str) -> String {
    format!(
        "s3 = {{ endpoint = \"{}\", bucket = \"{bucket}\", prefix = \"tl/prod\" }}\nretention_mode = \"COMPLIANCE\"\nretention_days = 30\n",
        seaweed.endpoint()
    )
}

/// The bucket on `seaweed` under `prefix`, through tailledger's own client.
fn s3_bucket(seaweed: &Seaweed, bucket: &str, prefix: &str) -> Bucket {
    use tailledger::archive::{Retention, RetentionMode, S3Bucket, S3Settings};
    Bucket::S3(S3Bucket::new(&S3Settings {
        endpoint: seaweed.endpoint(),
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        region: "us-east-1".to_owned(),
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        retention: Retention {
            mode: RetentionMode::Compliance,
            days: 30,
        },
    }))
}

/// The ledger's head seq, from the metrics endpoint.
async fn head_and_lag(metrics: u16) -> (u64, u64) {
    let scrape = reqwest::get(format!("http://127.0.0.1:{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let head = metric_value(&scrape, "tailledger_ledger_head_seq").unwrap_or(0.0);
    let lag =
        metric_value(&scrape, "tailledger_archive_lag_entries{archive=\"s3\"}").unwrap_or(0.0);
    (head as u64, lag as u64)
}

/// Object Lock as boto3 sees it under `tl/prod` of `bucket`: one version per full object
/// (never written twice), retained in COMPLIANCE for 30 days, that can be neither deleted nor
/// shortened nor replaced. Returns how many full objects there are. Run last: it puts a new
/// version over one of them, as someone rewriting the archive would.
fn object_lock_holds(seaweed: &Seaweed, bucket: &str) -> usize {
    let checked = seaweed.python(&[
        "check",
        &seaweed.endpoint(),
        bucket,
        "tl/prod",
        "COMPLIANCE",
        "30",
    ]);
    checked
        .trim()
        .strip_prefix("ok ")
        .unwrap_or_else(|| panic!("{checked}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_outage_during_appends_builds_a_backlog_that_catches_up_under_object_lock() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut seaweed) = Seaweed::start(
        "an_s3_outage_during_appends_builds_a_backlog_that_catches_up_under_object_lock",
        &dir.path().join("seaweed"),
        "outage",
    ) else {
        return;
    };
    let fixture = Fixture::start().await;
    let data_dir = dir.path().join("ledger");
    fill(&data_dir, 600);
    let (config, key, metrics) =
        serve_config(dir.path(), &fixture, &s3_archive(&seaweed, "outage"));
    let server = tokio::task::spawn_blocking(move || serve(&config, true))
        .await
        .unwrap();
    let archived = {
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            poll_until("the first archive step", WITHIN, || {
                progress(&data_dir) >= 600
            });
            progress(&data_dir)
        })
        .await
        .unwrap()
    };
    // The store goes away while the syncs go on appending: a backlog builds, in the metrics too.
    seaweed.stop();
    let deadline = tokio::time::Instant::now() + WITHIN;
    let backlog_head = loop {
        let (head, lag) = head_and_lag(metrics).await;
        if lag >= 30 && head >= archived + 30 {
            break head;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no backlog built: head {head}, lag {lag}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(progress(&data_dir) < backlog_head);
    seaweed.restart();
    let caught_up = {
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            poll_until("the archive catches up after the outage", WITHIN, || {
                progress(&data_dir) >= backlog_head
            });
        })
    };
    caught_up.await.unwrap();
    tokio::task::spawn_blocking(move || stop(server))
        .await
        .unwrap();
    let size = assert_whole(
        &s3_bucket(&seaweed, "outage", "tl/prod"),
        &data_dir,
        &key,
        dir.path(),
    )
    .await;
    assert!(size >= backlog_head);
    assert_eq!(object_lock_holds(&seaweed, "outage"), full_objects(size));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_killed_mid_upload_resumes_with_no_gap_and_no_full_object_written_twice() {
    let dir = tempfile::tempdir().unwrap();
    let Some(seaweed) = Seaweed::start(
        "serve_killed_mid_upload_resumes_with_no_gap_and_no_full_object_written_twice",
        &dir.path().join("seaweed"),
        "killed",
    ) else {
        return;
    };
    let fixture = Fixture::start().await;
    let data_dir = dir.path().join("ledger");
    // Three steps of uploads (4,096 entries each: 16 bundles and 16 level-0 tiles a step).
    fill(&data_dir, 10_000);
    let (config, key, _) = serve_config(dir.path(), &fixture, &s3_archive(&seaweed, "killed"));
    let killed_at = {
        let (config, data_dir) = (config.clone(), data_dir.clone());
        tokio::task::spawn_blocking(move || {
            let mut server = serve(&config, false);
            // Killed once the first step is saved, while the second one uploads.
            poll_until("the first step is archived", WITHIN, || {
                progress(&data_dir) > 0
            });
            server.kill().unwrap();
            server.wait().unwrap();
            progress(&data_dir)
        })
        .await
        .unwrap()
    };
    let server = {
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let server = serve(&config, false);
            poll_until("the archive resumes to the head", WITHIN, || {
                progress(&data_dir) >= 10_000
            });
            server
        })
        .await
        .unwrap()
    };
    tokio::task::spawn_blocking(move || stop(server))
        .await
        .unwrap();
    assert!(killed_at < 10_000, "killed before the end ({killed_at})");
    let size = assert_whole(
        &s3_bucket(&seaweed, "killed", "tl/prod"),
        &data_dir,
        &key,
        dir.path(),
    )
    .await;
    assert!(size >= 10_000);
    assert_eq!(object_lock_holds(&seaweed, "killed"), full_objects(size));
}

/// Copies every object of `from` to `to` (as mutable objects: a damaged copy for a test), each
/// through `change`, which may alter its bytes or leave it out (`None`).
async fn copy_bucket(
    from: &Bucket,
    to: &Bucket,
    change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
) {
    for path in from.list("").await.unwrap() {
        let bytes = from.get(&path).await.unwrap().unwrap();
        if let Some(bytes) = change(&path, bytes) {
            to.put_mutable(&path, &bytes).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_is_restored_from_s3_alone_and_a_damaged_archive_there_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(seaweed) = Seaweed::start(
        "a_ledger_is_restored_from_s3_alone_and_a_damaged_archive_there_is_refused",
        &dir.path().join("seaweed"),
        "restore",
    ) else {
        return;
    };
    let fixture = Fixture::start().await;
    let data_dir = dir.path().join("ledger");
    fill(&data_dir, 3_000);
    let (config, key, _) = serve_config(dir.path(), &fixture, &s3_archive(&seaweed, "restore"));
    let key_file = dir.path().join("checkpoint.key");
    let public_key = format!("{key}");
    let server = {
        let data_dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let server = serve(&config, false);
            poll_until("the ledger is archived", WITHIN, || {
                progress(&data_dir) >= 3_000
            });
            server
        })
        .await
        .unwrap()
    };
    tokio::task::spawn_blocking(move || stop(server))
        .await
        .unwrap();
    let head = Log::open_existing(&data_dir).unwrap().head().unwrap();
    let middle = head.seq / 2;
    let expected = crate::tiles::answers_of(&data_dir, middle).await;

    // The machine is lost; the ledger comes back from the bucket alone.
    std::fs::remove_dir_all(&data_dir).unwrap();
    let restore = |prefix: &str, target: &Path| {
        run_with_env(
            [
                "restore",
                "--from",
                &format!("s3://restore/{prefix}"),
                "--data-dir",
                target.to_str().unwrap(),
                "--public-key",
                &public_key,
                "--s3-endpoint",
                &seaweed.endpoint(),
            ]
            .map(str::to_owned)
            .to_vec(),
            vec![
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
                ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ],
        )
    };
    let restored = restore("tl/prod", &data_dir).await;
    assert_eq!(restored.status.code(), Some(0), "{}", text(&restored));
    assert!(
        text(&restored).contains(&format!("restored {} entries", head.seq)),
        "{}",
        text(&restored)
    );
    assert_eq!(crate::tiles::answers_of(&data_dir, middle).await, expected);

    // Damaged copies of the archive in the same bucket, each refused at its first bad entry.
    let good = s3_bucket(&seaweed, "restore", "tl/prod");
    let other_dir = dir.path().join("other-ledger");
    fill(&other_dir, 300);
    let other_tiles = dir.path().join("other-tiles");
    crate::tiles::tiles_export(&other_dir, &key_file, &other_tiles);
    let foreign_checkpoint = std::fs::read(other_tiles.join("checkpoint")).unwrap();
    let target = dir.path().join("refused");
    for (prefix, expected) in [
        ("tampered", "refused at entry index 1290 (seq 1291)"),
        ("missing", "refused at entry index 1792 (seq 1793)"),
        ("foreign", "is another ledger's checkpoint"),
    ] {
        copy_bucket(
            &good,
            &s3_bucket(&seaweed, "restore", prefix),
            |path, bytes| match (prefix, path) {
                ("tampered", "tile/entries/005") => {
                    Some(crate::tiles::tamper_entry_10_of_bundle_5(&bytes))
                }
                ("missing", "tile/0/007") => None,
                ("foreign", "checkpoint") => Some(foreign_checkpoint.clone()),
                _ => Some(bytes),
            },
        )
        .await;
        let refused = restore(prefix, &target).await;
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
        assert!(text(&refused).contains(expected), "{}", text(&refused));
        assert!(text(&refused).contains(&format!("s3://restore/{prefix}")));
        assert!(!target.exists(), "a refused restore writes nothing");
    }
    // Without the endpoint, nothing is read.
    let no_endpoint = crate::helpers::tailledger()
        .args([
            "restore",
            "--from",
            "s3://restore/tl/prod",
            "--data-dir",
            target.to_str().unwrap(),
            "--public-key",
            &public_key,
        ])
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert_eq!(no_endpoint.status.code(), Some(2), "{}", text(&no_endpoint));
    assert!(
        text(&no_endpoint).contains("--s3-endpoint"),
        "{}",
        text(&no_endpoint)
    );
    assert!(!target.exists());
    assert_eq!(
        object_lock_holds(&seaweed, "restore"),
        full_objects(head.seq)
    );
}
