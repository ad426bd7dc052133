//! Proofs an auditor checks without the whole ledger (docs/reference/ledger.md#proofs), end to end
//! on the real `serve` binary: a key from `tailledger keygen`, checkpoints from `GetCheckpoint` and
//! in `checkpoint_dir` at shutdown, inclusion and consistency proofs checked by our verifier, by
//! the README's scripts and by `tailledger checkpoint verify`; `history` and `export --server`
//! checked against the signed checkpoint; every mutation refused, and bad arguments refused
//! naming the field.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use tailledger::api::pb;
use tailledger::api::pb::admin_service_client::AdminServiceClient;
use tailledger::api::pb::ledger_service_client::LedgerServiceClient;
use tailledger::event::Actor;
use tailledger::hash::Hash256;
use tailledger::merkle::{
    Frontier, VerifierKey, leaf_hash, verify_checkpoint, verify_consistency, verify_inclusion,
};
use tailledger::time::Timestamp;
use tonic::Code;
use tonic::transport::Channel;

use crate::api::{ADMIN_TOKEN, AUDITOR_TOKEN, ApiServer, admin, auditor, tokens};
use crate::helpers::{
    API_TOKEN, Fixture, every_kind_of_event, free_port, keygen, run, spawn_serve, tailledger, text,
};
use crate::readme::python;
use tailledger::evidence::readme_script;

/// A `serve` binary signing checkpoints, on a temporary directory.
struct Live {
    dir: tempfile::TempDir,
    url: String,
    server: Child,
    /// The server's log lines, once it has exited.
    log: Option<std::thread::JoinHandle<Vec<String>>>,
    public_key: String,
    checkpoints: PathBuf,
    _fixture: Fixture,
}

impl Live {
    async fn start() -> Live {
        let fixture = Fixture::start().await;
        let dir = tempfile::tempdir().unwrap();
        let (key, public_key) = keygen(dir.path());
        let port = free_port();
        let checkpoints = dir.path().join("checkpoints");
        let config = dir.path().join("tailledger.toml");
        fs::write(
            &config,
            format!(
                r#"data_dir = "ledger"
listen = "127.0.0.1:{port}"

[auth]
tokens = [
  {{ name = "audit", role = "auditor", sha256 = "{auditor}" }},
  {{ name = "ops", role = "admin", sha256 = "{admin}" }},
]

[tailscale]
api_base_url = "{base_url}"
api_token_env = "TL_PROOFS_TOKEN"
sync_interval = "1h"

[checkpoint]
signing_key_path = "{key}"
checkpoint_dir = "checkpoints"
"#,
                auditor = Hash256::of(AUDITOR_TOKEN.as_bytes()),
                admin = Hash256::of(ADMIN_TOKEN.as_bytes()),
                base_url = fixture.server.base_url(),
                key = key.display(),
            ),
        )
        .unwrap();
        let (server, log) = tokio::task::spawn_blocking(move || {
            spawn_serve(&config, &[("TL_PROOFS_TOKEN", API_TOKEN)])
        })
        .await
        .unwrap();
        Live {
            dir,
            url: format!("http://127.0.0.1:{port}"),
            server,
            log: Some(log),
            public_key,
            checkpoints,
            _fixture: fixture,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Appends `count` employees, one batch each.
    async fn append(&self, count: usize, tag: &str) {
        let mut admin_client = AdminServiceClient::new(self.channel().await);
        for n in 0..count {
            admin_client
                .upsert_employee(admin(pb::UpsertEmployeeRequest {
                    employee: Some(pb::EmployeeRecord {
                        employee_id: format!("E-{tag}-{n}"),
                        email: format!("{tag}{n}@acme.example"),
                        org_role: "Engineer".to_owned(),
                        ..Default::default()
                    }),
                }))
                .await
                .unwrap();
        }
    }

    /// The server's checkpoint, saved to `name` in the test directory.
    async fn checkpoint(&self, name: &str) -> (PathBuf, String) {
        let note = LedgerServiceClient::new(self.channel().await)
            .get_checkpoint(auditor(pb::GetCheckpointRequest {}))
            .await
            .unwrap()
            .into_inner()
            .checkpoint;
        let path = self.dir.path().join(name);
        fs::write(&path, &note).unwrap();
        (path, note)
    }

    /// Runs the binary with `args` and the auditor's token, off the async workers.
    async fn cli(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            tailledger()
                .args(&args)
                .env("TAILLEDGER_TOKEN", AUDITOR_TOKEN)
                .env_remove("TAILLEDGER_PUBLIC_KEY")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A test that failed before stopping the server must not leave it running.
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// One bit of a hash flipped.
fn flip(hash: &Hash256) -> Hash256 {
    let mut changed = *hash;
    changed.0[0] ^= 0x80;
    changed
}

fn hex(hashes: &[Hash256]) -> Vec<String> {
    hashes.iter().map(Hash256::to_string).collect()
}

fn parse(hashes: &[String]) -> Vec<Hash256> {
    hashes.iter().map(|hash| hash.parse().unwrap()).collect()
}

/// A proof and the claim it is checked for: the original first, then every mutation.
#[derive(Clone)]
enum Claim {
    Inclusion {
        index: u64,
        size: u64,
        leaf: Hash256,
        root: Hash256,
        proof: Vec<Hash256>,
    },
    Consistency {
        from: u64,
        to: u64,
        old: Hash256,
        new: Hash256,
        proof: Vec<Hash256>,
    },
}

impl Claim {
    fn json(&self) -> serde_json::Value {
        match self {
            Claim::Inclusion {
                index,
                size,
                leaf,
                root,
                proof,
            } => json!({"kind": "inclusion", "a": index, "b": size, "x": leaf.to_string(),
                        "y": root.to_string(), "proof": hex(proof)}),
            Claim::Consistency {
                from,
                to,
                old,
                new,
                proof,
            } => json!({"kind": "consistency", "a": from, "b": to, "x": old.to_string(),
                        "y": new.to_string(), "proof": hex(proof)}),
        }
    }

    fn ours(&self) -> bool {
        match self {
            Claim::Inclusion {
                index,
                size,
                leaf,
                root,
                proof,
            } => verify_inclusion(*index, *size, leaf, proof, root).is_ok(),
            Claim::Consistency {
                from,
                to,
                old,
                new,
                proof,
            } => verify_consistency(*from, *to, old, new, proof).is_ok(),
        }
    }

    /// Every hash flipped in turn, one removed, one added.
    fn with_proofs(&self) -> Vec<Claim> {
        let proof = match self {
            Claim::Inclusion { proof, .. } | Claim::Consistency { proof, .. } => proof.clone(),
        };
        let mut proofs = Vec::new();
        for i in 0..proof.len() {
            let mut changed = proof.clone();
            changed[i] = flip(&changed[i]);
            proofs.push(changed);
        }
        proofs.push(proof[..proof.len().saturating_sub(1)].to_vec());
        proofs.push([proof.as_slice(), &[leaf_hash(b"extra")]].concat());
        proofs
            .into_iter()
            .map(|changed| {
                let mut claim = self.clone();
                match &mut claim {
                    Claim::Inclusion { proof, .. } | Claim::Consistency { proof, .. } => {
                        *proof = changed
                    }
                }
                claim
            })
            .collect()
    }
}

/// The README's proof functions on every claim: whether each verifies.
fn readme_verdicts(dir: &Path, claims: &[Claim]) -> Vec<bool> {
    fs::write(dir.join("check_proof.py"), readme_script("check_proof.py")).unwrap();
    let cases = dir.join("claims.json");
    let list: Vec<_> = claims.iter().map(Claim::json).collect();
    fs::write(&cases, serde_json::to_string(&list).unwrap()).unwrap();
    let harness = dir.join("harness.py");
    fs::write(
        &harness,
        r#"import json, sys
sys.path.insert(0, sys.argv[1])
from check_proof import consistency, inclusion
verdicts = []
for c in json.load(open(sys.argv[2])):
    proof = [bytes.fromhex(h) for h in c["proof"]]
    x, y = bytes.fromhex(c["x"]), bytes.fromhex(c["y"])
    if c["kind"] == "inclusion":
        verdicts.append(inclusion(c["a"], c["b"], x, proof, y))
    else:
        verdicts.append(consistency(c["a"], c["b"], x, y, proof))
print(json.dumps(verdicts))
"#,
    )
    .unwrap();
    let output = python(&harness, &[dir.to_str().unwrap(), cases.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The checkpoint `note` with its tree size, root or signature changed.
fn forged_checkpoints(note: &str) -> Vec<(&'static str, String)> {
    let lines: Vec<&str> = note.split('\n').collect();
    let size: u64 = lines[1].parse().unwrap();
    let mut root = BASE64.decode(lines[2]).unwrap();
    root[0] ^= 1;
    let (signer, signature) = lines[4].rsplit_once(' ').unwrap();
    let mut signature = BASE64.decode(signature).unwrap();
    signature[10] ^= 1;
    let with = |index: usize, line: String| {
        let mut changed = lines.clone();
        changed[index] = &line;
        changed.join("\n")
    };
    vec![
        ("size", with(1, (size + 1).to_string())),
        ("root", with(2, BASE64.encode(&root))),
        (
            "signature",
            with(4, format!("{signer} {}", BASE64.encode(&signature))),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_from_a_live_server_verify_with_our_verifier_the_readme_scripts_and_the_cli() {
    let live = Live::start().await;
    let key_file = live.dir.path().join("checkpoint.key");
    assert_eq!(
        fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run(&["keygen", "--out", key_file.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an existing key is never replaced"
    );
    let public_key = VerifierKey::parse(&live.public_key).unwrap();

    live.append(20, "a").await;
    let (old_file, old_note) = live.checkpoint("old.checkpoint").await;
    live.append(25, "b").await;
    let (new_file, new_note) = live.checkpoint("new.checkpoint").await;
    let old = verify_checkpoint(&old_note, &public_key).unwrap();
    let new = verify_checkpoint(&new_note, &public_key).unwrap();
    assert!(old.origin.starts_with("tailledger/") && old.origin == new.origin);
    assert!(
        20 <= old.size && old.size + 25 <= new.size,
        "{old:?} {new:?}"
    );

    // The export, checked against the signed checkpoint by the CLI; the roots of every size
    // from it, for the claims of other sizes below.
    let export = live.dir.path().join("export.jsonl");
    let exported = live
        .cli(&[
            "export",
            "--server",
            &live.url,
            "--out",
            export.to_str().unwrap(),
            "--public-key",
            &live.public_key,
        ])
        .await;
    assert!(exported.status.success(), "{}", text(&exported));
    assert!(
        text(&exported).contains("the export checked against the checkpoint of tree size"),
        "{}",
        text(&exported)
    );
    let lines: Vec<String> = fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let leaves: Vec<Hash256> = lines
        .iter()
        .map(|line| {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            entry.as_object_mut().unwrap().remove("hash");
            leaf_hash(&serde_json_canonicalizer::to_vec(&entry).unwrap())
        })
        .collect();
    let mut frontier = Frontier::new();
    let mut roots = vec![frontier.root()];
    for leaf in &leaves {
        frontier.append(&[*leaf]);
        roots.push(frontier.root());
    }
    assert_eq!(
        (roots[old.size as usize], roots[new.size as usize]),
        (old.root, new.root)
    );

    // The README's signature check, and ours, on the checkpoints and on forged ones.
    let verify_checkpoint_py = live.file(
        "verify_checkpoint.py",
        readme_script("verify_checkpoint.py"),
    );
    for file in [&old_file, &new_file] {
        let checked = python(
            &verify_checkpoint_py,
            &[file.to_str().unwrap(), &live.public_key],
        );
        assert!(checked.status.success(), "{}", text(&checked));
        assert!(
            text(&checked).starts_with("ok: tailledger/"),
            "{}",
            text(&checked)
        );
    }
    for (what, forged) in forged_checkpoints(&new_note) {
        let file = live.file("forged.checkpoint", &forged);
        let refused = python(
            &verify_checkpoint_py,
            &[file.to_str().unwrap(), &live.public_key],
        );
        assert!(
            !refused.status.success(),
            "changed {what}: {}",
            text(&refused)
        );
        assert!(verify_checkpoint(&forged, &public_key).is_err(), "{what}");
        let cli = live
            .cli(&[
                "checkpoint",
                "verify",
                file.to_str().unwrap(),
                "--public-key",
                &live.public_key,
            ])
            .await;
        assert_eq!(cli.status.code(), Some(1), "changed {what}: {}", text(&cli));
    }

    // Inclusion of entries at the edges of subtrees and of both trees, by the README's script.
    let check_proof_py = live.file("check_proof.py", readme_script("check_proof.py"));
    let mut ledger = LedgerServiceClient::new(live.channel().await);
    let mut claims = Vec::new();
    for seq in [1, 2, 16, 17, old.size, new.size] {
        let proof = ledger
            .get_inclusion_proof(auditor(pb::GetInclusionProofRequest {
                seq,
                tree_size: new.size,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(proof.leaf_hash, leaves[seq as usize - 1].to_string());
        let proof_file = live.file(
            "inclusion.json",
            &json!({ "hashes": proof.hashes }).to_string(),
        );
        let entry_file = live.file("entry.json", &lines[seq as usize - 1]);
        let checked = python(
            &check_proof_py,
            &[
                "inclusion",
                new_file.to_str().unwrap(),
                entry_file.to_str().unwrap(),
                proof_file.to_str().unwrap(),
            ],
        );
        assert!(checked.status.success(), "seq {seq}: {}", text(&checked));
        claims.push(Claim::Inclusion {
            index: seq - 1,
            size: new.size,
            leaf: leaves[seq as usize - 1],
            root: new.root,
            proof: parse(&proof.hashes),
        });
    }
    // A changed entry is refused by the script.
    let entry_file = live.file(
        "entry.json",
        &lines[new.size as usize - 1].replacen("E-b", "E-x", 1),
    );
    let refused = python(
        &check_proof_py,
        &[
            "inclusion",
            new_file.to_str().unwrap(),
            entry_file.to_str().unwrap(),
            live.dir.path().join("inclusion.json").to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success(), "{}", text(&refused));

    // Consistency of the old checkpoint's tree with the new one's: the script and the CLI.
    let consistency = ledger
        .get_consistency_proof(auditor(pb::GetConsistencyProofRequest {
            from_size: old.size,
            to_size: new.size,
        }))
        .await
        .unwrap()
        .into_inner();
    let proof_file = live.file(
        "consistency.json",
        &json!({ "hashes": consistency.hashes }).to_string(),
    );
    let checked = python(
        &check_proof_py,
        &[
            "consistency",
            old_file.to_str().unwrap(),
            new_file.to_str().unwrap(),
            proof_file.to_str().unwrap(),
        ],
    );
    assert!(checked.status.success(), "{}", text(&checked));
    claims.push(Claim::Consistency {
        from: old.size,
        to: new.size,
        old: old.root,
        new: new.root,
        proof: parse(&consistency.hashes),
    });
    // From trees whose size is a power of two, which the RFC's algorithm treats apart.
    for from_size in [1, 16, 32] {
        let proof = ledger
            .get_consistency_proof(auditor(pb::GetConsistencyProofRequest {
                from_size,
                to_size: new.size,
            }))
            .await
            .unwrap()
            .into_inner();
        claims.push(Claim::Consistency {
            from: from_size,
            to: new.size,
            old: roots[from_size as usize],
            new: new.root,
            proof: parse(&proof.hashes),
        });
    }
    let verified = live
        .cli(&[
            "checkpoint",
            "verify",
            new_file.to_str().unwrap(),
            "--public-key",
            &live.public_key,
            "--previous",
            old_file.to_str().unwrap(),
            "--server",
            &live.url,
        ])
        .await;
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("consistent"),
        "{}",
        text(&verified)
    );

    // Every mutation of every proof, and of its index and size (another size with that size's
    // root, as its checkpoint would sign it), is refused by our verifier and by the script.
    let mut mutations = Vec::new();
    for claim in &claims {
        mutations.extend(claim.with_proofs());
        match claim.clone() {
            Claim::Inclusion {
                index,
                size,
                leaf,
                root,
                proof,
            } => {
                for other in [index + 1, index.wrapping_sub(1), size]
                    .into_iter()
                    .filter(|&other| other != index && other < size + 1)
                {
                    mutations.push(Claim::Inclusion {
                        index: other,
                        size,
                        leaf,
                        root,
                        proof: proof.clone(),
                    });
                }
                for other in [size - 1, size + 1]
                    .into_iter()
                    .filter(|&other| other > index && (other as usize) < roots.len())
                {
                    let root = roots[other as usize];
                    mutations.push(Claim::Inclusion {
                        index,
                        size: other,
                        leaf,
                        root,
                        proof: proof.clone(),
                    });
                }
                mutations.push(Claim::Inclusion {
                    index,
                    size,
                    leaf: flip(&leaf),
                    root,
                    proof: proof.clone(),
                });
                mutations.push(Claim::Inclusion {
                    index,
                    size,
                    leaf,
                    root: flip(&root),
                    proof,
                });
            }
            Claim::Consistency {
                from,
                to,
                old,
                new,
                proof,
            } => {
                for other in [from - 1, from + 1].into_iter().filter(|&other| other > 0) {
                    let old = roots[other as usize];
                    mutations.push(Claim::Consistency {
                        from: other,
                        to,
                        old,
                        new,
                        proof: proof.clone(),
                    });
                }
                mutations.push(Claim::Consistency {
                    from,
                    to: to - 1,
                    old,
                    new: roots[to as usize - 1],
                    proof: proof.clone(),
                });
                mutations.push(Claim::Consistency {
                    from,
                    to,
                    old: flip(&old),
                    new,
                    proof: proof.clone(),
                });
                mutations.push(Claim::Consistency {
                    from,
                    to,
                    old,
                    new: flip(&new),
                    proof,
                });
            }
        }
    }
    let all: Vec<Claim> = claims
        .iter()
        .cloned()
        .chain(mutations.iter().cloned())
        .collect();
    let verdicts = readme_verdicts(live.dir.path(), &all);
    let expected: Vec<bool> = all
        .iter()
        .enumerate()
        .map(|(i, _)| i < claims.len())
        .collect();
    assert_eq!(verdicts, expected, "the README's script");
    let ours: Vec<bool> = all.iter().map(Claim::ours).collect();
    assert_eq!(ours, expected, "our verifier");
    assert!(mutations.len() > 50, "{} mutations", mutations.len());

    // `history` checks each event it receives by an inclusion proof.
    let history = live
        .cli(&[
            "history",
            "E-a-3",
            "--server",
            &live.url,
            "--public-key",
            &live.public_key,
        ])
        .await;
    assert!(history.status.success(), "{}", text(&history));
    assert!(
        text(&history).contains("every event checked against the checkpoint"),
        "{}",
        text(&history)
    );

    // At shutdown the server writes the checkpoint of its head to `checkpoint_dir`.
    let mut live = live;
    terminate(&mut live.server);
    let written: Vec<PathBuf> = fs::read_dir(&live.checkpoints)
        .unwrap()
        .map(|item| item.unwrap().path())
        .collect();
    let last = tailledger::checkpoint_file::path_for(&live.checkpoints, new.size);
    assert_eq!(
        written,
        vec![last.clone()],
        "one checkpoint: nothing was appended since"
    );
    assert_eq!(fs::read_to_string(&last).unwrap(), new_note);

    // The signing key is in none of what the server and the CLI wrote or said.
    let secret = fs::read_to_string(&key_file).unwrap();
    let seed = secret.trim().splitn(5, '+').last().unwrap().to_owned();
    let log = live.log.take().unwrap().join().unwrap().join("\n");
    assert!(log.contains("checkpoint written to"), "{log}");
    let said = [
        log,
        fs::read_to_string(&export).unwrap(),
        new_note,
        text(&exported),
        text(&verified),
        text(&history),
    ];
    for text in said {
        assert!(!text.contains(&seed), "the signing key leaked: {text}");
    }
}

#[test]
fn a_signing_key_others_may_read_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path());
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.path().join("tailledger.toml");
    fs::write(
        &config,
        format!(
            "[auth]\ndisabled = true\n[tailscale]\napi_token_env = \"TL_KEY_TEST\"\n[checkpoint]\nsigning_key_path = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let refused = tailledger()
        .args(["sync", "-c", config.to_str().unwrap()])
        .env("TL_KEY_TEST", API_TOKEN)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains("checkpoint.signing_key_path") && said.contains("0644"),
        "{said}"
    );
    let secret = fs::read_to_string(&key).unwrap();
    assert!(
        !said.contains(secret.trim().splitn(5, '+').last().unwrap()),
        "{said}"
    );
}

/// Asks the server to stop (SIGTERM, as systemd does) and waits until it has.
fn terminate(server: &mut Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        server.wait().unwrap().success(),
        "serve exits cleanly on SIGTERM"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proofs_outside_the_tree_are_refused_naming_the_field_and_checkpoints_need_a_key() {
    let server = ApiServer::start(tokens()).await;
    let mut ledger = server.ledger().await;
    let refused = ledger
        .get_checkpoint(auditor(pb::GetCheckpointRequest {}))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("signing_key_path"),
        "{refused:?}"
    );
    let events = every_kind_of_event()
        .into_iter()
        .take(5)
        .map(|(_, event)| event);
    server
        .ledger
        .append(Timestamp::now(), Actor::Demo, events.collect())
        .unwrap();
    let inclusion = |seq, tree_size| pb::GetInclusionProofRequest { seq, tree_size };
    let consistency = |from_size, to_size| pb::GetConsistencyProofRequest { from_size, to_size };
    for (request, field) in [
        (inclusion(0, 5), "`seq`"),
        (inclusion(6, 5), "`seq`"),
        (inclusion(3, 0), "`tree_size`"),
        (inclusion(1, 6), "`tree_size`"),
    ] {
        let error = ledger
            .get_inclusion_proof(auditor(request))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
        assert!(error.message().starts_with(field), "{error:?}");
    }
    for (request, field) in [
        (consistency(0, 5), "`from_size`"),
        (consistency(3, 0), "`to_size`"),
        (consistency(4, 3), "`from_size`"),
        (consistency(2, 6), "`to_size`"),
    ] {
        let error = ledger
            .get_consistency_proof(auditor(request))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
        assert!(error.message().starts_with(field), "{error:?}");
    }
    let proof = ledger
        .get_consistency_proof(auditor(consistency(5, 5)))
        .await
        .unwrap()
        .into_inner();
    assert!(proof.hashes.is_empty());
    server.stop().await;
}

/// `tailledger evidence` of the window up to `to` from `live`, pinned to `key`, into `out`.
async fn evidence_from(live: &Live, out: &Path, key: &str, to: Timestamp) -> Output {
    live.cli(&[
        "evidence",
        "--server",
        &live.url,
        "--from",
        "2020-01-01",
        "--to",
        &to.to_string(),
        "--out",
        out.to_str().unwrap(),
        "--public-key",
        key,
    ])
    .await
}

/// The pack's own copy of one of its scripts, run with `args`.
fn pack_script(pack: &Path, script: &str, args: &[&str]) -> Output {
    python(&pack.join(script), args)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_evidence_pack_from_a_live_server_carries_its_signed_checkpoint_and_the_proof_its_export_starts_it()
 {
    let live = Live::start().await;
    live.append(20, "a").await;
    // The window ends before the entries of "b": the pack's export is a proper start of the
    // tree the server signs after exporting.
    let window_end = Timestamp::now();
    live.append(5, "b").await;
    let pack = live.dir.path().join("pack");
    let written = evidence_from(&live, &pack, &live.public_key, window_end).await;
    assert!(written.status.success(), "{}", text(&written));
    assert!(
        text(&written).contains("the pack's export checked against the checkpoint of tree size"),
        "{}",
        text(&written)
    );
    let export = fs::read_to_string(pack.join("ledger.jsonl")).unwrap();
    let note = fs::read_to_string(pack.join("checkpoint.txt")).unwrap();
    let checkpoint = verify_checkpoint(&note, &VerifierKey::parse(&live.public_key).unwrap())
        .expect("the pack's checkpoint is the server's, signed");
    let export_size = export.lines().count() as u64;
    assert!(
        0 < export_size && export_size + 5 <= checkpoint.size,
        "{export_size} {checkpoint:?}"
    );
    let proof: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(pack.join("consistency_proof.json")).unwrap())
            .unwrap();
    assert_eq!(
        (proof["from_size"].as_u64(), proof["to_size"].as_u64()),
        (Some(export_size), Some(checkpoint.size))
    );
    // The key stays on the server: the pack's statement is unsigned, and it has no tlog-proof
    // files, the checkpoint being of a larger tree than its export. What it derives from its
    // export is still what `replay --pack` computes again from it.
    assert!(!pack.join("proofs").exists());
    let replayed = live
        .cli(&["replay", "--pack", pack.to_str().unwrap()])
        .await;
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    let page = fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(
        page.contains(&format!("tree size {}", checkpoint.size))
            && page.contains(&checkpoint.root.to_string()),
        "the page tells the checkpoint"
    );
    let manifest = fs::read_to_string(pack.join("MANIFEST.sha256")).unwrap();
    for name in tailledger::evidence::CHECKPOINT_FILES {
        assert!(manifest.contains(&format!("  {name}\n")), "{manifest}");
    }

    // The auditor's checks with the pack's own scripts: the signature, then the export as the
    // start of the signed tree.
    let [note_file, proof_file] =
        tailledger::evidence::CHECKPOINT_FILES.map(|name| pack.join(name));
    let signed = pack_script(
        &pack,
        "verify_checkpoint.py",
        &[note_file.to_str().unwrap(), &live.public_key],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    let export_args = |export: &Path, proof: &Path| {
        pack_script(
            &pack,
            "check_proof.py",
            &[
                "export",
                note_file.to_str().unwrap(),
                export.to_str().unwrap(),
                proof.to_str().unwrap(),
            ],
        )
    };
    let started = export_args(&pack.join("ledger.jsonl"), &proof_file);
    assert!(started.status.success(), "{}", text(&started));
    assert!(
        text(&started).contains(&format!(
            "the export's {export_size} entries start the tree of size {}",
            checkpoint.size
        )),
        "{}",
        text(&started)
    );
    // An export changed in one entry, one entry short, or a proof with a hash changed: refused.
    let lines: Vec<&str> = export.lines().collect();
    let changed = live.file("changed.jsonl", &(export.replacen("E-a-3", "E-x-3", 1)));
    let short = live.file("short.jsonl", &(lines[..lines.len() - 1].join("\n") + "\n"));
    let mut hashes: Vec<String> = serde_json::from_value(proof["hashes"].clone()).unwrap();
    hashes[0] = flip(&hashes[0].parse().unwrap()).to_string();
    let forged = live.file(
        "forged_proof.json",
        &json!({ "hashes": hashes }).to_string(),
    );
    for (what, export, proof) in [
        ("a changed entry", &changed, &proof_file),
        ("a short export", &short, &proof_file),
        ("a changed proof", &pack.join("ledger.jsonl"), &forged),
    ] {
        let refused = export_args(export, proof);
        assert!(!refused.status.success(), "{what}: {}", text(&refused));
    }
    // The script's root of an export of every shape of tree (a power of two, one past it, odd
    // sizes), against the server's own proof from that size.
    let mut ledger = LedgerServiceClient::new(live.channel().await);
    for size in [1, 2, 3, 7, 16, 17, export_size] {
        let prefix = live.file("prefix.jsonl", &(lines[..size as usize].join("\n") + "\n"));
        let hashes = ledger
            .get_consistency_proof(auditor(pb::GetConsistencyProofRequest {
                from_size: size,
                to_size: checkpoint.size,
            }))
            .await
            .unwrap()
            .into_inner()
            .hashes;
        let proof = live.file(
            "prefix_proof.json",
            &json!({ "hashes": hashes }).to_string(),
        );
        let checked = export_args(&prefix, &proof);
        assert!(checked.status.success(), "size {size}: {}", text(&checked));
    }

    // Pinned to another key: the checkpoint is refused and no pack is left behind.
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other_key) = keygen(other_dir.path());
    let elsewhere = live.dir.path().join("pack-other-key");
    let refused = evidence_from(&live, &elsewhere, &other_key, window_end).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("no signature by"),
        "{}",
        text(&refused)
    );
    assert!(
        !elsewhere.exists(),
        "no pack from a checkpoint that did not verify"
    );
}
