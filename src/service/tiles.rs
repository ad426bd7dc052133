//! The service's part of the tiles (docs/reference/tiles.md): a tile or bundle of the tree at the
//! head, built from the ledger on the blocking pool, or `None` when the tree does not have it.

use super::{Service, ServiceError};
use crate::tiles::{self, TileObject, TilePath};

impl Service {
    /// The object at `tile` if the tree at the head has it: a full tile completed, or a partial
    /// one of a width some size up to the head has.
    pub async fn tile(&self, tile: TilePath) -> Result<Option<TileObject>, ServiceError> {
        self.blocking(move |service| {
            let log = service.ledger.log();
            let size = log.head().map_or(0, |head| head.seq);
            if !tiles::exists_at(&tile, size) {
                return Ok(None);
            }
            Ok(Some(tiles::build(log, &tile)?))
        })
        .await
    }
}
