//! `[tiles]` (docs/reference/config.md#tiles): where the tiled log is served, on a port of its
//! own, with the same connection bounds as the other HTTP listeners. The checkpoint it serves is
//! signed, so `[tiles]` needs `[checkpoint] signing_key_path`.

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::listener::HttpLimits;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTiles {
    listen: Spanned<String>,
    max_connections: Option<Spanned<i64>>,
    header_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
}

/// Where the tiles endpoint listens, and the bounds on its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TilesSettings {
    pub listen: SocketAddr,
    pub limits: HttpLimits,
}

impl Source<'_> {
    /// `[tiles]`: an address of its own (not another listener's port), its bounds, and a signing
    /// key for its checkpoint.
    pub(super) fn tiles(
        &self,
        raw: &RawTiles,
        taken: &[(&str, SocketAddr)],
        signs_checkpoints: bool,
    ) -> Result<TilesSettings, ConfigError> {
        if !signs_checkpoints {
            return Err(self.error(
                &raw.listen,
                "tiles.listen",
                "the tiles endpoint serves a signed checkpoint: configure `[checkpoint] signing_key_path` (made by `tailledger keygen`)",
            ));
        }
        Ok(TilesSettings {
            listen: self.own_address(&raw.listen, "tiles.listen", taken)?,
            limits: self.http_limits(
                "tiles",
                &raw.max_connections,
                &raw.header_timeout,
                &raw.body_timeout,
            )?,
        })
    }
}
