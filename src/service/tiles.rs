//! The service's part of the tiles (docs/reference/tiles.md): a tile or bundle of the tree at the
//! head, the objects a grown tree adds (what the archive copies), and the checkpoint the log
//! publishes, each read from the ledger on the blocking pool.

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

    /// Every bundle and hash tile that is new or changed when the tree grows from `from` leaves
    /// to `to` ([`tiles::objects_between`]); `to` must be at most the head's seq.
    pub async fn tiles_between(&self, from: u64, to: u64) -> Result<Vec<TileObject>, ServiceError> {
        self.blocking(move |service| {
            let log = service.ledger.log();
            Ok(tiles::objects_between(log, from, to).collect::<Result<_, _>>()?)
        })
        .await
    }
}
