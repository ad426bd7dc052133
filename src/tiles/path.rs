//! Where each object of a tiled log lives (C2SP `tlog-tiles`): `checkpoint`, hash tiles
//! `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/<N>[.p/<W>]`, the index `<N>` written
//! in 3-digit groups, all but the last prefixed `x` (1234067 → `x001/x234/067`).
//!
//! A path is parsed only if it is exactly the one spelling the format allows (no leading zeroes
//! in `<L>` or `<W>`, every group three digits, `<W>` between 1 and 255), so one object never has
//! two names.

use std::fmt;

/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;

/// Tree levels a tile spans: a tile at level `L` holds hashes of tree level `8·L`.
pub const TILE_HEIGHT: u8 = 8;

/// The highest tile level the format allows.
pub const MAX_LEVEL: u8 = 63;

/// The path of the signed checkpoint.
pub const CHECKPOINT_PATH: &str = "checkpoint";

/// Which tile: hashes of a level, or entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile of level `L` (tree level `8·L`).
    Hashes(u8),
    /// An entry bundle.
    Entries,
}

/// A hash tile or an entry bundle: its kind, its index within its level, and its width (256 for
/// a full tile, 1 to 255 for a partial one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

impl TilePath {
    /// Whether the tile is full: it never changes again.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tree level of the hashes the tile holds (0 for entries and level-0 tiles).
    pub fn tree_level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes(level) => level * TILE_HEIGHT,
            TileKind::Entries => 0,
        }
    }

    /// The first leaf (entry index, from 0) the tile covers, or `None` beyond any `u64` tree.
    pub fn first_leaf(&self) -> Option<u64> {
        let first = u128::from(self.index) * u128::from(TILE_WIDTH);
        u64::try_from(first << self.tree_level()).ok()
    }

    /// How many leaves a tree must have for this tile to exist (its last hash complete), or
    /// `None` beyond any `u64` tree.
    pub fn needs_size(&self) -> Option<u64> {
        let hashes = u128::from(self.index) * u128::from(TILE_WIDTH) + u128::from(self.width);
        u64::try_from(hashes << self.tree_level()).ok()
    }

    /// Reads a path (without a leading `/`); `None` when it is not a tile's exact spelling.
    pub fn parse(path: &str) -> Option<TilePath> {
        let rest = path.strip_prefix("tile/")?;
        let (kind, rest) = match rest.strip_prefix("entries/") {
            Some(rest) => (TileKind::Entries, rest),
            None => {
                let (level, rest) = rest.split_once('/')?;
                let level = decimal(level)?;
                if level > u64::from(MAX_LEVEL) {
                    return None;
                }
                (TileKind::Hashes(level as u8), rest)
            }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, width)) => {
                let width = decimal(width)?;
                if !(1..TILE_WIDTH).contains(&width) {
                    return None;
                }
                (index, width as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        Some(TilePath {
            kind,
            index: parse_index(index)?,
            width,
        })
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(level) => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        write_index(f, self.index)?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// `<N>` in 3-digit groups, all but the last prefixed `x`.
fn write_index(f: &mut fmt::Formatter<'_>, index: u64) -> fmt::Result {
    let mut groups = Vec::new();
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    for (i, group) in groups.iter().rev().enumerate() {
        if i == last {
            write!(f, "{group:03}")?;
        } else {
            write!(f, "x{group:03}/")?;
        }
    }
    Ok(())
}

/// Reads `<N>`: groups of exactly three digits, all but the last prefixed `x`, the first group
/// not `x000` (a number has one spelling).
fn parse_index(text: &str) -> Option<u64> {
    let groups: Vec<&str> = text.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut index: u64 = 0;
    for (i, group) in leading.iter().enumerate() {
        let digits = group.strip_prefix('x')?;
        let value = three_digits(digits)?;
        if i == 0 && value == 0 {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(value)?;
    }
    index.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A decimal number without leading zeroes.
fn decimal(text: &str) -> Option<u64> {
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    plain.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(level: u8, index: u64, width: u16) -> TilePath {
        TilePath {
            kind: TileKind::Hashes(level),
            index,
            width,
        }
    }

    #[test]
    fn paths_are_spelled_as_the_format_says() {
        // The example of tlog-tiles: index 1234067.
        assert_eq!(
            hashes(0, 1_234_067, 256).to_string(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(hashes(2, 0, 1).to_string(), "tile/2/000.p/1");
        assert_eq!(hashes(1, 999, 17).to_string(), "tile/1/999.p/17");
        assert_eq!(hashes(1, 1000, 256).to_string(), "tile/1/x001/000");
        let bundle = TilePath {
            kind: TileKind::Entries,
            index: 273,
            width: 112,
        };
        assert_eq!(bundle.to_string(), "tile/entries/273.p/112");
        for path in [hashes(0, 1_234_067, 256), hashes(63, u64::MAX, 255), bundle] {
            assert_eq!(TilePath::parse(&path.to_string()), Some(path));
        }
    }

    #[test]
    fn only_the_one_spelling_of_a_path_is_read() {
        for bad in [
            "tile/0/1",
            "tile/00/001",
            "tile/64/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x01/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/0/000.p/",
            "tile/entries/",
            "tile/entries/x1/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "checkpoint",
            "tile/-1/000",
        ] {
            assert_eq!(TilePath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_tile_knows_the_leaves_it_covers() {
        assert_eq!(hashes(0, 3, 256).first_leaf(), Some(768));
        assert_eq!(hashes(0, 3, 256).needs_size(), Some(1024));
        assert_eq!(hashes(1, 1, 17).first_leaf(), Some(65_536));
        assert_eq!(hashes(1, 0, 17).needs_size(), Some(17 * 256));
        assert_eq!(hashes(7, 1, 256).needs_size(), None);
    }
}
