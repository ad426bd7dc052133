//! The ledger's Merkle tree laid out as a C2SP `tlog-tiles` log (docs/reference/tiles.md): hash
//! tiles `tile/<L>/<N>[.p/<W>]`, entry bundles `tile/entries/<N>[.p/<W>]` and the signed
//! `checkpoint`, so that anyone can mirror the history as files and check it with nothing but the
//! C2SP texts.
//!
//! - `path.rs`: the paths, spelled and read exactly as the format says.
//! - `bundle.rs`: entry bundles, uint16-length-prefixed canonical forms.
//! - `layout.rs`: which tiles a tree of a size has, which changed between two sizes
//!   ([`objects_between`], what an archiver copies), and their bytes from a [`TileSource`].
//!
//! These three are pure: they read through the [`TileSource`] they are handed and do no I/O.
//! At the edge, `server.rs` serves them over HTTP (`[tiles] listen`). The archive
//! (`crate::archive`) writes them to a directory or an S3 bucket, and `crate::restore` reads them
//! back from either.

pub mod bundle;
mod layout;
mod path;
mod server;

pub use layout::{
    SourceError, TileSource, build, changed_between, decode_hashes, encode_hashes, exists_at,
    full_tile_root, objects_between, tiles_of_size,
};
pub use path::{CHECKPOINT_PATH, MAX_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileKind, TilePath};
pub use server::{EntriesAccess, EntriesDenied, TilesEndpoint, serve};

/// The largest object a tiled log has: a full bundle of the longest entries. Readers of an
/// archive refuse anything larger before reading it whole.
pub const MAX_OBJECT_BYTES: usize = TILE_WIDTH as usize * (2 + bundle::MAX_ENTRY_BYTES);

/// How many hex digits of entry 1's hash name the ledger in a checkpoint's origin.
const LEDGER_ID_DIGITS: usize = 16;

/// The origin of a ledger's checkpoints, `tailledger/<ledger id>`: the first 16 hex digits of
/// the hash of its entry 1, fixed for the ledger's life and different for every ledger.
pub fn log_origin(first_entry_hash: &crate::hash::Hash256) -> String {
    let hex = first_entry_hash.to_string();
    format!("tailledger/{}", &hex[..LEDGER_ID_DIGITS])
}

/// One object of the tiled log, as an archiver writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileObject {
    /// Its path under the log's prefix, e.g. `tile/0/x001/234` (no leading `/`).
    pub path: String,
    pub bytes: Vec<u8>,
    /// Whether it never changes again (a full tile or bundle): written once, never overwritten.
    pub full: bool,
}

/// Why a tile could not be built or read. Messages name the tile or the entry (index from 0 and
/// seq from 1).
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// An entry's canonical form is longer than a bundle's uint16 length can say.
    #[error(
        "entry index {index} (seq {seq}) is {bytes} bytes: an entry bundle holds entries of at most 65,535 bytes, so its bundle cannot be written (restore such a ledger from an export)",
        seq = index + 1
    )]
    EntryTooLarge { index: u64, bytes: usize },
    /// A bundle is not a sequence of length-prefixed entries of the width it should have.
    #[error("entry index {index} (seq {seq}): {reason}", seq = index + 1)]
    Bundle { index: u64, reason: String },
    /// A hash tile's bytes are of the wrong length.
    #[error("{path}: {reason}")]
    Tile { path: String, reason: String },
    /// The source lacks what the tile needs: its tree is smaller than asked, or damaged.
    #[error("{path}: the ledger has no {what}")]
    Missing { path: String, what: String },
    /// The source failed to read.
    #[error("{path}: reading the ledger failed: {source}")]
    Source {
        path: String,
        #[source]
        source: SourceError,
    },
}
