//! `tailledger simulate`: the simulated Tailscale API and Truto HRIS of `src/simulator/` as a
//! command of its own, so that `serve` can be tried, and every first-day admin task done, before
//! a real tailnet is connected (docs/operating.md#try-it-first).
//!
//! It serves both on loopback ports it reports, registers `serve`'s webhook endpoint (signed
//! deliveries go there as the tailnet changes), and writes the configuration and environment
//! that point `serve` at it. Then it plays a small script (`script.rs`): one change every
//! `step`, each told as it is made, until it is stopped.

mod script;

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hash::Hash256;
use crate::simulator::{SUBSCRIPTIONS, SimulatedHris, SimulatedTailnet, SimulatorHandle};
use crate::time::Timestamp;

/// The configuration file and environment file `simulate` writes into its directory.
pub const CONFIG_FILE: &str = "tailledger.toml";
pub const ENV_FILE: &str = "simulated.env";

/// Where the simulation listens, where `serve` will, and how fast the script goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// The simulated Tailscale API.
    pub tailscale_listen: SocketAddr,
    /// The simulated Truto HRIS.
    pub truto_listen: SocketAddr,
    /// `serve`'s gRPC address, written into the configuration.
    pub grpc_listen: SocketAddr,
    /// `serve`'s webhook endpoint, written into the configuration; deliveries are sent there.
    pub webhook_listen: SocketAddr,
    /// The time between two scripted changes.
    pub step: Duration,
    /// The directory the configuration, the environment and the ledger go in.
    pub dir: PathBuf,
}

/// Why the simulation could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(
        "--{flag} {addr}: the simulation listens on loopback only (it serves made-up data and fixed credentials)"
    )]
    NotLoopback {
        flag: &'static str,
        addr: SocketAddr,
    },
    #[error("--{flag} and --{other} are both {addr}: each needs a port of its own")]
    SamePort {
        flag: &'static str,
        other: &'static str,
        addr: SocketAddr,
    },
    #[error("--step must be at least one second, not {0:?}")]
    StepTooShort(Duration),
    #[error("could not listen on {addr} (--{flag}): {source}")]
    Listen {
        flag: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "{}: {why}; give --dir a new or empty directory (it receives a configuration and a ledger of simulated accounts)",
        dir.display()
    )]
    Dir { dir: PathBuf, why: String },
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read random bytes for the admin token from /dev/urandom: {0}")]
    Random(#[source] std::io::Error),
    #[error("a scripted change names nothing in the simulated tailnet: {0}")]
    Script(#[from] crate::simulator::UnknownId),
}

/// A running simulation: its two servers and what it wrote.
pub struct Simulation {
    tailnet: SimulatedTailnet,
    hris: SimulatedHris,
    tailscale: SimulatorHandle,
    truto: SimulatorHandle,
    options: Options,
    config: String,
    env: String,
}

impl Simulation {
    /// Checks the options, serves the simulated tailnet and HR system as they are now, and
    /// writes the configuration and environment into `options.dir`.
    pub async fn start(options: Options) -> Result<Self, SimulateError> {
        check(&options)?;
        let now = Timestamp::now();
        prepare_dir(&options.dir)?;
        let tailnet = SimulatedTailnet::new(script::TAILNET);
        let hris = SimulatedHris::new(script::TRUTO_ACCOUNT, script::TRUTO_TOKEN);
        script::populate(&tailnet, &hris, now);
        let webhook = tailnet.add_webhook(
            &format!("http://{}/webhooks/tailscale", options.webhook_listen),
            &SUBSCRIPTIONS,
        );
        let serving = |flag: &'static str, addr: SocketAddr| {
            move |source| SimulateError::Listen { flag, addr, source }
        };
        let tailscale = tailnet
            .start(bind("listen", options.tailscale_listen).await?)
            .map_err(serving("listen", options.tailscale_listen))?;
        let truto = hris
            .start(bind("truto-listen", options.truto_listen).await?)
            .map_err(serving("truto-listen", options.truto_listen))?;
        let token = admin_token()?;
        let config = config_text(&options, tailscale.base_url(), truto.base_url(), &token);
        let env = env_text(&options, &token, webhook.secret.expose());
        write_private(&options.dir.join(ENV_FILE), &env)?;
        write_private(&options.dir.join(CONFIG_FILE), &config)?;
        Ok(Simulation {
            tailnet,
            hris,
            tailscale,
            truto,
            options,
            config,
            env,
        })
    }

    /// What to tell the user once it serves: where, what was written, and the lines to paste.
    pub fn instructions(&self) -> String {
        let dir = self.options.dir.display();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "simulated Tailscale API: {} (tailnet {})",
            self.tailscale.base_url(),
            script::TAILNET
        );
        let _ = writeln!(text, "simulated Truto HRIS:    {}", self.truto.base_url());
        let _ = writeln!(
            text,
            "wrote {dir}/{CONFIG_FILE} and {dir}/{ENV_FILE} (mode 0600); in another terminal:\n"
        );
        let _ = writeln!(text, "  set -a; . {dir}/{ENV_FILE}; set +a");
        let _ = writeln!(text, "  tailledger serve -c {dir}/{CONFIG_FILE}\n");
        let _ = writeln!(text, "The configuration, to paste elsewhere:\n");
        text.push_str(&self.config);
        let _ = writeln!(text, "\nIts environment (simulated credentials only):\n");
        text.push_str(&self.env);
        let _ = writeln!(
            text,
            "\nThe tailnet changes every {}; Ctrl-C stops the simulation.",
            humantime::format_duration(self.options.step)
        );
        text
    }

    /// Plays the script, one change every step, telling each on `told` as it is made, until
    /// the script ends; then serves until `stop` completes.
    pub async fn run(
        self,
        mut told: impl FnMut(String),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), SimulateError> {
        let play = async {
            for (number, step) in script::STEPS.iter().enumerate() {
                tokio::time::sleep(self.options.step).await;
                let at = Timestamp::now();
                step.make(&self.tailnet, &self.hris, at)?;
                told(format!(
                    "{at}  change {} of {}: {}",
                    number + 1,
                    script::STEPS.len(),
                    step.says
                ));
            }
            told("the script has ended; the tailnet stays as it is".to_owned());
            std::future::pending::<Result<(), SimulateError>>().await
        };
        let outcome = tokio::select! {
            outcome = play => outcome,
            () = stop => Ok(()),
        };
        // Both servers stop with their handles; an error on the way out changes nothing.
        let _ = self.tailscale.shutdown().await;
        let _ = self.truto.shutdown().await;
        outcome
    }
}

fn check(options: &Options) -> Result<(), SimulateError> {
    let addresses = [
        ("listen", options.tailscale_listen),
        ("truto-listen", options.truto_listen),
        ("grpc-listen", options.grpc_listen),
        ("webhook-listen", options.webhook_listen),
    ];
    for (index, (flag, addr)) in addresses.iter().enumerate() {
        if !addr.ip().is_loopback() {
            return Err(SimulateError::NotLoopback { flag, addr: *addr });
        }
        if let Some((other, _)) = addresses[..index]
            .iter()
            .find(|(_, earlier)| addr.port() != 0 && earlier == addr)
        {
            return Err(SimulateError::SamePort {
                flag,
                other,
                addr: *addr,
            });
        }
    }
    if options.step < Duration::from_secs(1) {
        return Err(SimulateError::StepTooShort(options.step));
    }
    Ok(())
}

/// Makes `dir`, or accepts it empty.
fn prepare_dir(dir: &Path) -> Result<(), SimulateError> {
    let refused = |why: String| SimulateError::Dir {
        dir: dir.to_path_buf(),
        why,
    };
    match std::fs::read_dir(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            crate::store::create_private_dir(dir).map_err(|error| refused(error.to_string()))
        }
        Err(error) => Err(refused(format!("it cannot be read: {error}"))),
        Ok(mut listing) => match listing.next() {
            Some(_) => Err(refused("it is not empty".to_owned())),
            None => Ok(()),
        },
    }
}

async fn bind(
    flag: &'static str,
    addr: SocketAddr,
) -> Result<tokio::net::TcpListener, SimulateError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SimulateError::Listen { flag, addr, source })
}

/// A random admin token for the configuration, from the system's random source.
fn admin_token() -> Result<String, SimulateError> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(SimulateError::Random)?;
    Ok(format!("simulated-admin-{}", hex::encode(bytes)))
}

fn config_text(options: &Options, tailscale: &str, truto: &str, token: &str) -> String {
    format!(
        r#"# Made by `tailledger simulate`: a ledger of a simulated tailnet, never of a real one.
data_dir = "ledger"
listen = "{grpc}"

[auth]
tokens = [
  {{ name = "simulated-admin", role = "admin", sha256 = "{hash}", employee_id = "E-1001" }},
]

[tailscale]
api_base_url = "{tailscale}"
tailnet = "{tailnet}"
oauth_client_id_env = "TAILSCALE_OAUTH_CLIENT_ID"
oauth_client_secret_env = "TAILSCALE_OAUTH_CLIENT_SECRET"
sync_interval = "1m"

[tailscale.access_policy]
allowed_org_roles = ["Engineer", "IT"]
privileged_org_roles = ["IT"]
offboarding_grace = "24h"

[roster]
source = "truto"
timezone = "UTC"

[roster.truto]
api_base_url = "{truto}"
integrated_account_id = "{account}"
token_env = "TRUTO_API_TOKEN"

[webhook]
listen = "{webhook}"
"#,
        grpc = options.grpc_listen,
        hash = Hash256::of(token.as_bytes()),
        tailnet = script::TAILNET,
        account = script::TRUTO_ACCOUNT,
        webhook = options.webhook_listen,
    )
}

fn env_text(options: &Options, token: &str, webhook_secret: &str) -> String {
    format!(
        "TAILSCALE_OAUTH_CLIENT_ID={}\nTAILSCALE_OAUTH_CLIENT_SECRET={}\nTRUTO_API_TOKEN={}\nTAILSCALE_WEBHOOK_SECRET={webhook_secret}\nTAILLEDGER_SERVER=http://{}\nTAILLEDGER_TOKEN={token}\n",
        script::CLIENT_ID,
        script::CLIENT_SECRET,
        script::TRUTO_TOKEN,
        options.grpc_listen,
    )
}

/// Writes `text` to a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), SimulateError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|source| SimulateError::Write {
            path: path.to_path_buf(),
            source,
        })
}
