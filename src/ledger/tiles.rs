//! The log as a [`TileSource`]: the tree's complete subtrees and the entries' canonical forms,
//! read from the store as it stands, for the tiles (docs/reference/tiles.md). Read-only.

use crate::entry::Entry;
use crate::hash::Hash256;
use crate::merkle::NodeId;
use crate::store::Store as _;
use crate::tiles::{SourceError, TileSource};

use super::Log;

impl TileSource for Log {
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, SourceError> {
        Ok(self.store()?.tree_node(node)?)
    }

    fn entries(&self, first: u64, count: usize) -> Result<Vec<Vec<u8>>, SourceError> {
        let entries = self.read(first + 1, count)?;
        Ok(entries.iter().map(Entry::canonical_form).collect())
    }
}
