//! The operating guide's "Try it first" run literally: its shell blocks, read out of
//! `docs/operating.md` in order (`tailledger simulate`, then `serve`, then the first day's admin
//! tasks, then what follows the scripted changes), each run by bash as written in one directory,
//! the built binary first on `PATH`. Only the documented variables differ from a reader's shell:
//! `TAILLEDGER_SIMULATE_GRPC_LISTEN` and `TAILLEDGER_SIMULATE_WEBHOOK_LISTEN` take free ports,
//! and `TAILLEDGER_SIMULATE_STEP` a short step. If the guide changes, this follows it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::{free_port, text};

const GUIDE: &str = "docs/operating.md";
const SECTION: &str = "## Try it first\n";
/// How long a background block may take to say it is ready, and the script to end.
const READY: Duration = Duration::from_secs(120);

/// The `sh` blocks of the guide's section, in order.
fn section_blocks() -> Vec<String> {
    let guide = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(GUIDE))
        .expect("the operating guide is readable");
    let section = guide
        .split(SECTION)
        .nth(1)
        .expect("the guide has its try-it section")
        .split("\n## ")
        .next()
        .expect("a section");
    section
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().expect("a closed block").to_owned())
        .collect()
}

/// A block as bash runs it, in `dir`, with the built binary first on the path, in a process
/// group of its own (so it is stopped with everything it started).
fn bash(dir: &Path, block: &str, env: &[(&str, String)]) -> Command {
    use std::os::unix::process::CommandExt as _;
    let binaries = PathBuf::from(env!("CARGO_BIN_EXE_tailledger"))
        .parent()
        .expect("the binary's directory")
        .to_owned();
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", block])
        .current_dir(dir)
        .env(
            "PATH",
            format!(
                "{}:{}",
                binaries.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env_remove("TAILLEDGER_TOKEN")
        .env_remove("TAILLEDGER_SERVER")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .process_group(0);
    command
}

/// A block left running, its output lines arriving on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash starts");
        let (send, lines) = mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
        for stream in [out, err] {
            let send = send.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if send.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits, until a deadline, for a line that contains `wanted`.
    fn wait_for(&mut self, wanted: &str) {
        let deadline = Instant::now() + READY;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(wanted);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "no line with {wanted:?} within {READY:?}; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SIGTERM to the whole group: bash and what it started stop as a reader's Ctrl-C would.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) -> Output {
    command.output().expect("bash runs")
}

#[test]
fn the_operating_guides_try_it_section_runs_as_written() {
    let blocks = section_blocks();
    assert_eq!(
        blocks.len(),
        4,
        "simulate, serve, the first day and what follows: {blocks:#?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let env = [
        (
            "TAILLEDGER_SIMULATE_GRPC_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        ),
        (
            "TAILLEDGER_SIMULATE_WEBHOOK_LISTEN",
            format!("127.0.0.1:{}", free_port()),
        ),
        ("TAILLEDGER_SIMULATE_STEP", "3s".to_owned()),
    ];

    let mut simulation = Running::start(bash(dir.path(), &blocks[0], &env));
    simulation.wait_for("Ctrl-C stops the simulation");
    let said = simulation.seen.join("\n");
    assert!(
        said.contains("TAILSCALE_OAUTH_CLIENT_SECRET=tskey-client-")
            && said.contains("TAILSCALE_WEBHOOK_SECRET=tskey-webhook-")
            && said.contains("api_base_url = \"http://127.0.0.1:")
            && said.contains("source = \"truto\""),
        "simulate prints the configuration and its environment: {said}"
    );

    let mut server = Running::start(bash(dir.path(), &blocks[1], &env));
    server.wait_for("serving");

    let first_day = run(&mut bash(dir.path(), &blocks[2], &env));
    let said = text(&first_day);
    assert!(first_day.status.success(), "the first day fails: {said}");
    for shown in [
        // `accounts --finding unidentified` lists the two accounts HR cannot explain.
        "uCi7dEp1oyCNTRL",
        "sam.okafor@gmail.example",
        "unidentified",
        "AccountClassified",
        // `admin link` took Sam's login name; `history` says what the link is.
        "AccountLinked",
        "sam.okafor@gmail.example -> E-1002: \"Sam signs in with a personal address\"",
    ] {
        assert!(said.contains(shown), "{shown:?} is not in: {said}");
    }
    let unidentified_after = said
        .rsplit("ACCOUNT")
        .next()
        .expect("the last accounts table");
    assert!(
        !unidentified_after.contains("uCi7dEp1oyCNTRL"),
        "the classified account is no longer unidentified: {said}"
    );

    simulation.wait_for("the script has ended");
    let later = run(&mut bash(dir.path(), &blocks[3], &env));
    let said = text(&later);
    assert!(later.status.success(), "the later block fails: {said}");
    for shown in [
        "privilege-not-allowed",
        "device-retained",
        "key-retained",
        "marco.ibanez@acme-corp.example",
        "EmployeeOffboarded",
        "UserRemoved",
        "--from 2026-01-01: the start of that day in UTC (the server's roster.timezone)",
    ] {
        assert!(said.contains(shown), "{shown:?} is not in: {said}");
    }
    drop(server);
    drop(simulation);
}
