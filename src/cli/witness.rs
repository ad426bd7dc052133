//! `tailledger witness` (docs/auditing.md#run-a-witness): a C2SP witness an auditor runs on their
//! own machine. `keygen` makes its key; `serve` cosigns the checkpoints of the logs it is told
//! to trust, each consistent with the last it cosigned.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::{Failure, Outcome, runtime, shutdown_signal};
use crate::config::{create_signing_key, read_signing_key};
use crate::listener::HttpLimits;
use crate::merkle::{CosignerKey, VerifierKey};
use crate::time::SystemClock;
use crate::witness::{Witness, WitnessState, serve};

#[derive(clap::Subcommand, Debug)]
pub enum WitnessCommand {
    /// Make a witness key: write it to a new file (mode 0600) and print the witness's public
    /// key (`<name>+<key id>+<base64>`), which the ledger's `[[witness]] key` takes.
    Keygen {
        /// The witness's name, carried by its cosignatures (for example `auditor.example/w1`).
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Answer C2SP `add-checkpoint` requests until stopped (SIGINT or SIGTERM).
    Serve {
        /// Where to listen (`127.0.0.1:0` picks a port; the address is printed).
        #[arg(long, value_name = "ADDR")]
        listen: SocketAddr,
        /// The witness's state: the latest tree cosigned per log, and every cosigned checkpoint.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// The witness's key (made by `tailledger witness keygen`, mode 0600).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// A log to cosign: `<origin>=<the log's public key>` (the ledger's origin is
        /// `tailledger/<ledger id>`, its key what `tailledger keygen` printed). Repeatable.
        #[arg(long = "log", value_name = "ORIGIN=KEY", required = true, value_parser = log_arg)]
        logs: Vec<(String, VerifierKey)>,
        /// Connections held at once.
        #[arg(long, default_value_t = 256)]
        max_connections: usize,
        /// How long a request's headers may take.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        header_timeout: Duration,
        /// How long a request's body may take.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        body_timeout: Duration,
    },
}

/// `<origin>=<key>`.
fn log_arg(text: &str) -> Result<(String, VerifierKey), String> {
    let (origin, key) = text
        .split_once('=')
        .ok_or("expected <origin>=<the log's public key>")?;
    if origin.is_empty() || origin.chars().any(|c| c.is_control()) {
        return Err("the origin must be non-empty, without control characters".to_owned());
    }
    let key = VerifierKey::parse(key).map_err(|error| error.to_string())?;
    Ok((origin.to_owned(), key))
}

pub fn run(command: WitnessCommand) -> Outcome {
    match command {
        WitnessCommand::Keygen { name, out } => keygen(&name, &out),
        WitnessCommand::Serve {
            listen,
            state,
            key,
            logs,
            max_connections,
            header_timeout,
            body_timeout,
        } => {
            if max_connections == 0 {
                return Err(Failure::input("--max-connections must be at least 1"));
            }
            let limits = HttpLimits {
                max_connections,
                header_timeout,
                body_timeout,
            };
            witness_serve(listen, &state, &key, logs, &limits)
        }
    }
}

fn keygen(name: &str, out: &Path) -> Outcome {
    let key = create_signing_key(out, name).map_err(Failure::input)?;
    println!("{}", CosignerKey::of(&key));
    eprintln!(
        "wrote the witness key to {} (keep it secret); the line above is the witness's public key, for the ledger's [[witness]] key",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn witness_serve(
    listen: SocketAddr,
    state: &Path,
    key: &Path,
    logs: Vec<(String, VerifierKey)>,
    limits: &HttpLimits,
) -> Outcome {
    let key = read_signing_key(key)
        .map_err(|error| Failure::input(format!("the witness key {} {error}", key.display())))?;
    let mut trusted = BTreeMap::new();
    for (origin, log_key) in logs {
        if trusted.insert(origin.clone(), log_key).is_some() {
            return Err(Failure::input(format!(
                "--log names {} twice",
                origin.escape_debug()
            )));
        }
    }
    let state = WitnessState::open(state).map_err(Failure::input)?;
    runtime()?.block_on(async {
        let stop = shutdown_signal();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|error| Failure::input(format!("cannot listen on {listen}: {error}")))?;
        let address = listener
            .local_addr()
            .map_err(|error| Failure::input(format!("cannot listen on {listen}: {error}")))?;
        println!(
            "witness {} listening on http://{address} for {} log(s)",
            CosignerKey::of(&key),
            trusted.len()
        );
        let witness = Witness {
            key,
            logs: trusted,
            state: Arc::new(Mutex::new(state)),
            clock: Arc::new(SystemClock),
        };
        serve(listener, witness, limits, stop).await;
        Ok(ExitCode::SUCCESS)
    })
}
