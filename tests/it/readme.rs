//! The README's promises: its auditor's script, taken from the README itself, verifies an export
//! written by the demo, and refuses a tampered one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{run, text};

/// The Python script between the README's `verify_export.py` markers.
fn script_from_readme() -> String {
    let readme = fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let block = readme
        .split("<!-- verify_export.py begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- verify_export.py end -->").next())
        .expect("the README marks the script");
    block
        .trim()
        .strip_prefix("```python")
        .and_then(|code| code.strip_suffix("```"))
        .expect("the script is a python code block")
        .to_owned()
}

fn python(script: &Path, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs")
}

#[test]
fn readme_script_verifies_the_demo_export_and_refuses_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("ledger");
    let output = run(&[
        "demo",
        "--no-serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    let digest = said
        .lines()
        .find_map(|line| line.strip_prefix("digest:"))
        .expect("the demo prints its digest")
        .trim()
        .to_owned();

    let script = dir.path().join("verify_export.py");
    fs::write(&script, script_from_readme()).unwrap();
    let export = data_dir.join("export.jsonl");
    let verified = python(&script, &[export.to_str().unwrap(), &digest]);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains(&format!("head {digest}")),
        "{}",
        text(&verified)
    );

    let tampered = dir.path().join("tampered.jsonl");
    let original = fs::read_to_string(&export).unwrap();
    fs::write(&tampered, original.replacen("Marco", "Mallory", 1)).unwrap();
    let refused = python(&script, &[tampered.to_str().unwrap(), &digest]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("hash does not match"),
        "{}",
        text(&refused)
    );
}

/// The first fenced block of `language` after `heading` in the README.
fn readme_block(heading: &str, language: &str) -> String {
    let readme = fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let after = readme
        .split(heading)
        .nth(1)
        .expect("the README has the heading");
    let fence = format!("```{language}\n");
    let block = after
        .split(&fence)
        .nth(1)
        .expect("a fenced block follows the heading");
    block
        .split("```")
        .next()
        .expect("the block is closed")
        .to_owned()
}

#[test]
fn readme_configuration_and_roster_examples_are_valid() {
    let toml = readme_block("### 4. The configuration file", "toml");
    let env = |name: &str| {
        matches!(
            name,
            "TAILSCALE_OAUTH_CLIENT_ID" | "TAILSCALE_OAUTH_CLIENT_SECRET"
        )
        .then(|| format!("value of {name}"))
    };
    let config = tailledger::config::Config::parse(
        Path::new("README.md"),
        &toml,
        Path::new("/etc/tailledger"),
        env,
    )
    .unwrap_or_else(|error| panic!("the README's configuration is refused: {error}"));
    assert_eq!(config.sync_interval, std::time::Duration::from_secs(900));
    assert!(config.policy.is_some() && config.roster.is_some());
    assert_eq!(
        config.sync_options.removal_guard_hold_seconds,
        Some(24 * 3600)
    );
    let admin_only = toml.replace(
        "removal_guard_hold = \"24h\"",
        "removal_guard_hold = \"0s\"",
    );
    let config = tailledger::config::Config::parse(
        Path::new("README.md"),
        &admin_only,
        Path::new("/etc/tailledger"),
        env,
    )
    .expect("a hold of 0s is accepted");
    assert_eq!(
        config.sync_options.removal_guard_hold_seconds, None,
        "0s leaves releasing to an admin"
    );

    let csv = readme_block("### 3. The roster", "csv");
    let roster = tailledger::roster::parse_roster(csv.as_bytes(), chrono_tz::Europe::Berlin)
        .unwrap_or_else(|errors| panic!("the README's roster is refused: {errors}"));
    assert_eq!(roster.rows.len(), 3);
}
