//! Witnesses (docs/reference/ledger.md#witnesses): independent parties who cosign the ledger's
//! checkpoints only once they checked each is consistent with every one they cosigned before
//! (C2SP `tlog-witness` and `tlog-cosignature`), so that not even the ledger's operator can show
//! two histories.
//!
//! - `protocol.rs`: the `add-checkpoint` request body (pure).
//! - `judge.rs`: what a witness answers a request (pure).
//! - `state.rs`, `server.rs`: `tailledger witness serve`, its durable state and endpoint.
//! - `client.rs`: the ledger's side under `serve`: each new checkpoint sent to the configured
//!   witnesses, the quorum's cosignatures kept with it (`published.rs`), refusals recorded.
//! - `status.rs`: what the client found, shared live with the service for `/checkpoint`, the
//!   archive and the `witness-refused` and `witness-behind` findings.

mod client;
mod judge;
mod protocol;
mod published;
mod server;
mod state;
mod status;

pub use client::WitnessClient;
pub use judge::{Refusal, judge};
pub use protocol::{ADD_CHECKPOINT, AddCheckpoint, MAX_PROOF_LINES, SIZE_CONTENT_TYPE, parse_size};
pub use published::{PUBLISHED_FILE, load_published};
pub use server::{Witness, serve};
pub use state::{COSIGNED_DIR, STATE_FILE, WitnessState, cosigned_name};
pub use status::{PeerStatus, WitnessStatus};

/// Runs blocking file work (the witness's state, the published checkpoint) on tokio's blocking
/// pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))?
}
