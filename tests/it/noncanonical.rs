//! Every verifier refuses an export line that is not exactly the canonical form its hash covers:
//! `verify-export`, `replay`, and the README's `verify_export.py` and `check_proof.py` (the
//! pack's copies), each given a line with a key written twice (a reader that keeps the first
//! sees a forged actor), spaces, an escape the canonical form would not write, or its members
//! in another order.

use std::fs;
use std::path::Path;

use base64::Engine;

use crate::helpers::{golden_chain, run, text};
use crate::readme::python;
use tailledger::evidence::readme_script;

/// The forgeries of one export line: each with its name, and the words that name its refusal
/// in Rust and in Python.
fn respellings(line: &str) -> [(&'static str, String, &'static str, &'static str); 4] {
    let (first_member, rest) = line[1..line.len() - 1]
        .split_once(",\"")
        .expect("an entry has several members");
    let not_canonical = "not in canonical form";
    [
        (
            "a key written twice",
            line.replacen('{', "{\"actor\":\"api:forged\",", 1),
            "the key `actor` appears twice",
            "a key appears twice",
        ),
        (
            "re-spaced",
            line.replacen("\",\"", "\", \"", 1),
            not_canonical,
            not_canonical,
        ),
        (
            "a needless escape",
            line.replacen("\"actor\"", "\"\\u0061ctor\"", 1),
            not_canonical,
            not_canonical,
        ),
        (
            "members reordered",
            format!("{{\"{rest},{first_member}}}"),
            not_canonical,
            not_canonical,
        ),
    ]
}

#[test]
fn every_verifier_refuses_an_export_line_that_is_not_its_canonical_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let arg = |name: &str| path(name).to_str().unwrap().to_owned();
    let lines: Vec<String> = golden_chain()
        .iter()
        .map(|entry| entry.export_line())
        .collect();
    for script in ["verify_export.py", "check_proof.py"] {
        fs::write(path(script), readme_script(script)).unwrap();
    }
    // A tree of the first entry alone: its root is that entry's leaf.
    let first = &golden_chain()[0];
    let root = base64::engine::general_purpose::STANDARD.encode(first.leaf_hash().0);
    fs::write(path("checkpoint"), format!("tailledger/test\n1\n{root}\n")).unwrap();
    fs::write(path("proof.json"), "{\"hashes\": []}").unwrap();
    let write = |name: &str, lines: &[String]| fs::write(path(name), lines.join("\n") + "\n");

    // The untouched export passes every verifier.
    write("export.jsonl", &lines).unwrap();
    write("first.jsonl", &lines[..1]).unwrap();
    let passes = [
        run(&["verify-export", &arg("export.jsonl")]),
        run(&["replay", &arg("export.jsonl")]),
        python(&path("verify_export.py"), &[&arg("export.jsonl")]),
        check_proof(dir.path(), "inclusion", "first.jsonl"),
        check_proof(dir.path(), "export", "first.jsonl"),
    ];
    for output in passes {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    }

    let forgeries = respellings(&lines[2])
        .into_iter()
        .zip(respellings(&lines[0]));
    for ((name, forged, rust_says, python_says), (_, forged_first, _, _)) in forgeries {
        let mut edited = lines.clone();
        edited[2] = forged;
        write("forged.jsonl", &edited).unwrap();
        for command in ["verify-export", "replay"] {
            let output = run(&[command, &arg("forged.jsonl")]);
            let said = text(&output);
            assert_eq!(output.status.code(), Some(1), "{command}, {name}: {said}");
            assert!(
                said.contains("breaks at seq 3: undecodable: line 3: ") && said.contains(rust_says),
                "{command}, {name}: {said}"
            );
        }
        let output = python(&path("verify_export.py"), &[&arg("forged.jsonl")]);
        let said = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "verify_export.py, {name}: {said}"
        );
        assert!(
            said.contains("line 3: ") && said.contains(python_says),
            "{name}: {said}"
        );

        write("forged_first.jsonl", &[forged_first]).unwrap();
        for mode in ["inclusion", "export"] {
            let output = check_proof(dir.path(), mode, "forged_first.jsonl");
            let said = text(&output);
            assert_eq!(
                output.status.code(),
                Some(1),
                "check_proof.py {mode}, {name}: {said}"
            );
            assert!(
                said.contains(python_says),
                "check_proof.py {mode}, {name}: {said}"
            );
        }
    }
}

fn check_proof(dir: &Path, mode: &str, lines: &str) -> std::process::Output {
    let arg = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    python(
        &dir.join("check_proof.py"),
        &[mode, &arg("checkpoint"), &arg(lines), &arg("proof.json")],
    )
}
