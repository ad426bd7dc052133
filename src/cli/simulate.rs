//! `tailledger simulate`: a simulated Tailscale API and Truto HRIS on loopback, for trying
//! `serve` before a real tailnet is connected (docs/reference/cli.md#simulate).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{Failure, Outcome, runtime, shutdown_signal};
use crate::simulate::{Options, Simulation};

/// The flags of `simulate`; each may come from its environment variable instead.
#[derive(clap::Args, Debug)]
pub struct SimulateArgs {
    /// The directory to write the configuration, its environment and (once `serve` runs) the
    /// ledger into; it must not exist yet, or be empty.
    #[arg(long, value_name = "DIR", default_value = "tailledger-simulated")]
    dir: PathBuf,
    /// Where the simulated Tailscale API listens (loopback; port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAILLEDGER_SIMULATE_LISTEN",
        default_value = "127.0.0.1:0"
    )]
    listen: SocketAddr,
    /// Where the simulated Truto HRIS listens (loopback; port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAILLEDGER_SIMULATE_TRUTO_LISTEN",
        default_value = "127.0.0.1:0"
    )]
    truto_listen: SocketAddr,
    /// Where `serve` is to serve gRPC: written into the configuration and the environment's
    /// TAILLEDGER_SERVER.
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAILLEDGER_SIMULATE_GRPC_LISTEN",
        default_value = "127.0.0.1:50051"
    )]
    grpc_listen: SocketAddr,
    /// Where `serve` is to receive webhooks: written into the configuration; the simulated
    /// tailnet sends its signed deliveries there.
    #[arg(
        long,
        value_name = "ADDR",
        env = "TAILLEDGER_SIMULATE_WEBHOOK_LISTEN",
        default_value = "127.0.0.1:8443"
    )]
    webhook_listen: SocketAddr,
    /// The time between two scripted changes of the tailnet (at least 1s).
    #[arg(
        long,
        value_name = "DURATION",
        env = "TAILLEDGER_SIMULATE_STEP",
        default_value = "2m",
        value_parser = humantime::parse_duration
    )]
    step: Duration,
}

pub fn simulate(args: SimulateArgs) -> Outcome {
    let options = Options {
        tailscale_listen: args.listen,
        truto_listen: args.truto_listen,
        grpc_listen: args.grpc_listen,
        webhook_listen: args.webhook_listen,
        step: args.step,
        dir: args.dir,
    };
    runtime()?.block_on(async {
        let stop = shutdown_signal();
        let simulation = Simulation::start(options).await.map_err(Failure::input)?;
        println!("{}", simulation.instructions());
        simulation
            .run(|change| println!("{change}"), stop)
            .await
            .map_err(Failure::input)?;
        Ok(ExitCode::SUCCESS)
    })
}
