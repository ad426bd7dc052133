//! What the witness client knows now, shared with the service: the published checkpoint (the
//! newest the quorum cosigned), and each witness's last answer, from which reads made now find
//! `witness-refused` and `witness-behind`. Never recorded: the refusals themselves are events.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::SignedCheckpoint;
use crate::time::Timestamp;

/// One witness as the client last found it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerStatus {
    /// The configured name.
    pub name: String,
    /// The largest size it cosigned for this ledger, as far as the client knows.
    pub cosigned: u64,
    /// Since when every try has failed (unreachable, an error, a bad cosignature).
    pub failing_since: Option<Timestamp>,
    /// The last failure, for the finding's message.
    pub last_error: Option<String>,
    /// The witness refuses the ledger's checkpoints (422, or it holds a larger tree): what it said.
    pub refused: Option<String>,
}

/// The live state of the witness client.
pub struct WitnessStatus {
    /// How many cosignatures publish a checkpoint.
    pub quorum: usize,
    /// Past this, a failing witness behind the head is `witness-behind`.
    pub max_lag: Duration,
    peers: Mutex<Vec<PeerStatus>>,
    published: watch::Sender<Option<SignedCheckpoint>>,
}

impl WitnessStatus {
    /// The status of `names` before any try, with what was published before, if anything.
    pub fn new(
        names: impl IntoIterator<Item = String>,
        quorum: usize,
        max_lag: Duration,
        published: Option<SignedCheckpoint>,
    ) -> WitnessStatus {
        WitnessStatus {
            quorum,
            max_lag,
            peers: Mutex::new(
                names
                    .into_iter()
                    .map(|name| PeerStatus {
                        name,
                        ..PeerStatus::default()
                    })
                    .collect(),
            ),
            published: watch::channel(published).0,
        }
    }

    /// Each witness as last found.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the status of the witness at `index`.
    pub fn update(&self, index: usize, change: impl FnOnce(&mut PeerStatus)) {
        if let Some(peer) = self
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(index)
        {
            change(peer);
        }
    }

    /// The newest checkpoint the quorum cosigned, with the cosignatures.
    pub fn published(&self) -> Option<SignedCheckpoint> {
        self.published.borrow().clone()
    }

    /// Publishes `signed` (the note carrying the quorum's cosignatures).
    pub fn publish(&self, signed: SignedCheckpoint) {
        self.published.send_replace(Some(signed));
    }

    /// Woken at each publication (the archiver waits on it).
    pub fn subscribe(&self) -> watch::Receiver<Option<SignedCheckpoint>> {
        self.published.subscribe()
    }
}
