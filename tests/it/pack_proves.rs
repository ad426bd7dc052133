//! An evidence pack proves its conclusions (docs/auditing.md#the-packs-own-checks).
//!
//! Every check scenario (tests/scenarios/checks/) is played on the real service, which records
//! its settings first as `serve` does; its ledger is exported and written into a signed pack.
//! The pack's `check_offboarding.py`, a second implementation of the offboarding report in
//! standard-library Python, must agree with the pack's `offboarding.csv`, whose rows must be the
//! server's own report; `replay --pack` must find nothing to say. Then a pack is tampered with,
//! file by file (each CSV file, the page, a proof), `MANIFEST.sha256` regenerated each time as a
//! forger would: the pack's own scripts and `replay --pack` catch each one, naming the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tailledger::as_of::AsOf;
use tailledger::event::SystemId;
use tailledger::evidence::{Pack, replay_pack, write_from_export};
use tailledger::merkle::SigningKey;
use tailledger::service::Service;
use tailledger::time::{Clock, ManualClock};

use crate::check_scenarios::play_recording_settings;
use crate::cli::{args, run_with_env};
use crate::helpers::{data_files, text};

/// The ledger's key for these packs.
fn key() -> SigningKey {
    SigningKey::from_seed("tailledger", &[42; 32]).expect("a valid key name")
}

fn python(script: &Path, arguments: &[&str]) -> Output {
    Command::new("python3")
        .arg(script)
        .args(arguments)
        .output()
        .expect("python3 runs")
}

/// The scenario `file` played, and its signed pack written into `out`: from before its first
/// entry to a second after its last step.
async fn scenario_pack(file: &Path, out: &Path) -> (Pack, Service) {
    let (service, clock) = play_recording_settings(file).await;
    clock.advance(std::time::Duration::from_secs(1));
    let mut export = tempfile::tempfile().unwrap();
    let mut after = 0;
    loop {
        let page = service.events(after, 1000).await.unwrap();
        if page.entries.is_empty() {
            break;
        }
        for entry in &page.entries {
            use std::io::Write;
            writeln!(export, "{}", entry.export_line()).unwrap();
        }
        after = page.next_after_seq;
    }
    let clock: Arc<ManualClock> = clock;
    let window = (
        AsOf::Instant("2000-01-01T00:00:00Z".parse().unwrap()),
        AsOf::Instant(clock.now()),
    );
    let (pack, _) = write_from_export(
        &mut export,
        clock,
        SystemId::tailscale(),
        window,
        out,
        Some(Arc::new(key())),
    )
    .await
    .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    (pack, service)
}

#[tokio::test(flavor = "multi_thread")]
async fn check_offboarding_agrees_with_the_server_on_every_scenario() {
    let files = data_files("tests/scenarios/checks", "json");
    let dir = tempfile::tempdir().unwrap();
    let mut rows = 0;
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let out = dir.path().join(&name);
        let (pack, service) = scenario_pack(file, &out).await;
        // The pack's table is the server's report as of the window's end.
        let report = service
            .offboarding_report(SystemId::tailscale(), None, None)
            .await
            .unwrap();
        assert_eq!(pack.offboarding, report, "{name}: the pack's rows");
        rows += report.len();
        let checked = python(&out.join("check_offboarding.py"), &[out.to_str().unwrap()]);
        assert!(checked.status.success(), "{name}: {}", text(&checked));
        assert!(
            text(&checked).starts_with(&format!("ok: offboarding.csv's {} rows", report.len())),
            "{name}: {}",
            text(&checked)
        );
        let replayed = replay_pack(&out, service.clock()).await.unwrap();
        assert!(replayed.is_empty(), "{name}: {replayed:?}");
        // `replay --offboarding` of the pack's export as of its end: the same rows.
        let end = pack
            .timeline
            .window
            .to
            .saturating_add_micros(-1)
            .to_string();
        let export = out.join("ledger.jsonl");
        let replayed = run_with_env(
            args(&[
                "replay",
                export.to_str().unwrap(),
                "--offboarding",
                "--as-of",
                &end,
                "--json",
            ]),
            vec![],
        )
        .await;
        assert_eq!(
            replayed.status.code(),
            Some(0),
            "{name}: {}",
            text(&replayed)
        );
        let answer: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
        assert_eq!(
            answer["rows"],
            serde_json::to_value(&report).unwrap(),
            "{name}: replay --offboarding"
        );
    }
    assert!(rows >= 10, "the scenarios offboard people: {rows} rows");
}

/// How a forger changes a file's text.
type Change = Box<dyn Fn(&str) -> String>;

/// A copy of the pack `from` in `to`, with `file` changed by `change` and `MANIFEST.sha256`
/// regenerated, as a forger would.
fn forged(from: &Path, to: &Path, file: &str, change: impl Fn(&str) -> String) {
    copy_dir(from, to);
    let path = to.join(file);
    let before = std::fs::read_to_string(&path).unwrap();
    let after = change(&before);
    assert_ne!(before, after, "{file} is changed");
    std::fs::write(&path, after).unwrap();
    let manifest: String = std::fs::read_to_string(to.join("MANIFEST.sha256"))
        .unwrap()
        .lines()
        .map(|line| {
            let (_, name) = line.split_once("  ").unwrap();
            let bytes = std::fs::read(to.join(name)).unwrap();
            format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)))
        })
        .collect();
    std::fs::write(to.join("MANIFEST.sha256"), manifest).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pack_tampered_with_and_its_manifest_regenerated_is_caught_by_its_own_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let pack_dir = dir.path().join("pack");
    let scenario = data_files("tests/scenarios/checks", "json")
        .into_iter()
        .find(|file| file.ends_with("removal_attributed.json"))
        .expect("the scenario exists");
    let (pack, service) = scenario_pack(&scenario, &pack_dir).await;
    assert!(
        !pack.offboarding.is_empty(),
        "the scenario offboards someone"
    );
    let public_key = key().verifier_key().to_string();
    let script = |name: &str| pack_dir.join(name);
    let verify = |pack: &Path| {
        python(
            &script("verify_checkpoint.py"),
            &[
                pack.join("checkpoint.txt").to_str().unwrap(),
                &public_key,
                pack.join("MANIFEST.note").to_str().unwrap(),
            ],
        )
    };

    // The pack as written: every check says ok.
    let verified = verify(&pack_dir);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("ok: MANIFEST.note"),
        "{}",
        text(&verified)
    );
    let proofs: Vec<PathBuf> = std::fs::read_dir(pack_dir.join("proofs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let cited = pack
        .offboarding
        .iter()
        .flat_map(|row| {
            [
                Some(row.hr_recorded.seq),
                row.first_without_access.map(|m| m.seq),
            ]
        })
        .flatten();
    for seq in cited {
        assert!(
            pack_dir.join(format!("proofs/{seq}.tlog-proof")).exists(),
            "seq {seq} has its proof"
        );
    }
    let check_proof = |proof: &Path, pack: &Path| {
        python(
            &script("check_proof.py"),
            &[
                "tlog-proof",
                proof.to_str().unwrap(),
                pack.join("ledger.jsonl").to_str().unwrap(),
                &public_key,
            ],
        )
    };
    for proof in &proofs {
        let checked = check_proof(proof, &pack_dir);
        assert!(
            checked.status.success(),
            "{}: {}",
            proof.display(),
            text(&checked)
        );
    }
    // A witness's cosignature after the ledger's signature (C2SP tlog-cosignature: key id,
    // 8-byte timestamp, 64-byte signature): the scripts check the ledger's and list the other.
    let cosigned = dir.path().join("cosigned");
    copy_dir(&pack_dir, &cosigned);
    let cosignature = format!(
        "\u{2014} witness.example {}\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 76])
    );
    let note = std::fs::read_to_string(cosigned.join("checkpoint.txt")).unwrap() + &cosignature;
    std::fs::write(cosigned.join("checkpoint.txt"), &note).unwrap();
    let listed = python(
        &script("verify_checkpoint.py"),
        &[
            cosigned.join("checkpoint.txt").to_str().unwrap(),
            &public_key,
        ],
    );
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        text(&listed).contains("also signed by (not checked here): witness.example+07070707"),
        "{}",
        text(&listed)
    );
    let proof_file = std::fs::read_to_string(&proofs[0]).unwrap() + &cosignature;
    std::fs::write(cosigned.join("cosigned.tlog-proof"), proof_file).unwrap();
    let checked = check_proof(&cosigned.join("cosigned.tlog-proof"), &cosigned);
    assert!(checked.status.success(), "{}", text(&checked));

    let replayed = run_with_env(
        args(&["replay", "--pack", pack_dir.to_str().unwrap()]),
        vec![],
    )
    .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));

    // Each derived file changed, the manifest regenerated.
    let proof = proofs[0]
        .strip_prefix(&pack_dir)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let mut tampered: Vec<(String, Change)> = vec![
        (
            "index.html".to_owned(),
            Box::new(|page: &str| {
                if page.contains("<td>yes</td>") {
                    page.replacen("<td>yes</td>", "<td>no</td>", 1)
                } else {
                    page.replacen("<td>no</td>", "<td>yes</td>", 1)
                }
            }),
        ),
        (
            proof.clone(),
            Box::new(|file: &str| {
                // One hash of the inclusion proof, its first base64 letter changed.
                let mut lines: Vec<String> = file.lines().map(str::to_owned).collect();
                let hash = &mut lines[2];
                let first = if hash.starts_with('A') { "B" } else { "A" };
                hash.replace_range(0..1, first);
                lines.join("\n") + "\n"
            }),
        ),
    ];
    for name in tailledger::evidence::FILES
        .iter()
        .filter(|name| name.ends_with(".csv"))
    {
        tampered.push((
            (*name).to_owned(),
            Box::new(|table: &str| {
                if table.contains(",false,") {
                    table.replacen(",false,", ",true,", 1)
                } else {
                    format!("{table}x\n")
                }
            }),
        ));
    }
    for (index, (file, change)) in tampered.iter().enumerate() {
        let copy = dir.path().join(format!("forged-{index}"));
        forged(&pack_dir, &copy, file, change);
        let refused = verify(&copy);
        assert!(!refused.status.success(), "{file}: {}", text(&refused));
        assert!(
            text(&refused).contains("MANIFEST.sha256 is not the manifest MANIFEST.note signs"),
            "{file}: {}",
            text(&refused)
        );
        let differences = replay_pack(&copy, service.clock()).await.unwrap();
        assert!(
            differences
                .iter()
                .any(|difference| difference.file == *file),
            "{file}: {differences:?}"
        );
        if file == "offboarding.csv" {
            let refused = python(
                &copy.join("check_offboarding.py"),
                &[copy.to_str().unwrap()],
            );
            assert!(!refused.status.success(), "{}", text(&refused));
            assert!(
                text(&refused).contains("offboarding.csv"),
                "{}",
                text(&refused)
            );
        }
        if file == &proof {
            let refused = check_proof(&copy.join(file), &copy);
            assert!(!refused.status.success(), "{}", text(&refused));
            assert!(
                text(&refused).contains("does not verify"),
                "{}",
                text(&refused)
            );
        }
    }
    // The binary names the file and the line.
    let copy = dir.path().join("forged-0");
    let refused = run_with_env(args(&["replay", "--pack", copy.to_str().unwrap()]), vec![]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("index.html differs from what ledger.jsonl gives, first at line"),
        "{}",
        text(&refused)
    );

    // A pack without its statement cannot be replayed: refused, naming the file.
    let copy = dir.path().join("no-statement");
    copy_dir(&pack_dir, &copy);
    std::fs::remove_file(copy.join("MANIFEST.note")).unwrap();
    let refused = run_with_env(args(&["replay", "--pack", copy.to_str().unwrap()]), vec![]).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("MANIFEST.note"),
        "{}",
        text(&refused)
    );

    // A statement edited to match the forged manifest no longer verifies.
    let copy = dir.path().join("forged-restated");
    forged(&pack_dir, &copy, "offboarding.csv", |table| {
        format!("{table}x\n")
    });
    let manifest = std::fs::read(copy.join("MANIFEST.sha256")).unwrap();
    let note = std::fs::read_to_string(copy.join("MANIFEST.note")).unwrap();
    let old = note
        .lines()
        .find_map(|line| line.strip_prefix("manifest "))
        .unwrap()
        .to_owned();
    let restated = note.replace(&old, &hex::encode(Sha256::digest(&manifest)));
    std::fs::write(copy.join("MANIFEST.note"), restated).unwrap();
    let refused = verify(&copy);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("MANIFEST.note: the signature does not verify"),
        "{}",
        text(&refused)
    );
}
