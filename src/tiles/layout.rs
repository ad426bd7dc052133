//! Which tiles a tree of a given size has, which of them are new or changed between two sizes,
//! and their bytes, read through a [`TileSource`].
//!
//! A tree of `s` leaves has, at each level `L` while `s / 256^L > 0`, `s / 256^(L+1)` full tiles
//! and, when `(s / 256^L) mod 256` is not 0, one partial tile of that width; the entry bundles
//! are laid out as the level-0 tiles. The `i`-th hash of tile `N` of level `L` is the tree's
//! complete subtree at tree level `8·L`, index `256·N + i`: the nodes the ledger's tree already
//! has, so nothing here is stored twice.

use super::bundle;
use super::path::{TILE_WIDTH, TileKind, TilePath};
use super::{TileError, TileObject};
use crate::hash::Hash256;
use crate::merkle::{self, NodeId};

/// Why a [`TileSource`] could not answer, kept opaque so any storage can report its own error.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// What the tiles are read from: the tree's complete subtrees and the entries' canonical forms
/// (the ledger's `Log` implements it over its store).
pub trait TileSource {
    /// The hash of the complete subtree `node`, if the tree has it.
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, SourceError>;

    /// The canonical forms of the `count` entries from leaf index `first` (seq `first + 1`);
    /// fewer when the log ends sooner.
    fn entries(&self, first: u64, count: usize) -> Result<Vec<Vec<u8>>, SourceError>;
}

impl<S: TileSource + ?Sized> TileSource for &S {
    fn node(&self, node: NodeId) -> Result<Option<Hash256>, SourceError> {
        (**self).node(node)
    }

    fn entries(&self, first: u64, count: usize) -> Result<Vec<Vec<u8>>, SourceError> {
        (**self).entries(first, count)
    }
}

/// How many hashes level `level` of the tree of `size` leaves has: `size / 256^level`.
fn hashes_at(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * 8;
    if shift >= 64 { 0 } else { size >> shift }
}

/// The tiles of `kind` whose hashes at that level run to `hashes`, from tile `from_tile` on:
/// full ones, then the partial one.
fn tiles_of(kind: TileKind, from_tile: u64, hashes: u64, out: &mut Vec<TilePath>) {
    let full = hashes / TILE_WIDTH;
    for index in from_tile..full {
        out.push(TilePath {
            kind,
            index,
            width: TILE_WIDTH as u16,
        });
    }
    let partial = hashes % TILE_WIDTH;
    if partial > 0 {
        out.push(TilePath {
            kind,
            index: full,
            width: partial as u16,
        });
    }
}

/// Every entry bundle and hash tile of the tree of `size` leaves: bundles, then hash tiles level
/// by level, each in index order.
pub fn tiles_of_size(size: u64) -> Vec<TilePath> {
    changed_between(0, size)
}

/// The bundles and hash tiles the tree of `to` leaves has that the tree of `from` leaves has
/// not: the full tiles completed since, and the partial tile of each level whose width changed.
/// In the order of [`tiles_of_size`]; empty when `to <= from`.
pub fn changed_between(from: u64, to: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    if to <= from {
        return out;
    }
    tiles_of(TileKind::Entries, from / TILE_WIDTH, to, &mut out);
    let mut level = 0u8;
    while hashes_at(to, level) > 0 {
        let (old, new) = (hashes_at(from, level), hashes_at(to, level));
        if new != old {
            tiles_of(TileKind::Hashes(level), old / TILE_WIDTH, new, &mut out);
        }
        level += 1;
    }
    out
}

/// Whether the tree of `size` leaves has (or had, at a smaller size) the tile `tile`: a partial
/// tile is the one of every tree whose level ends inside it at its width.
pub fn exists_at(tile: &TilePath, size: u64) -> bool {
    tile.needs_size().is_some_and(|needed| needed <= size)
}

/// The bytes of a hash tile: its hashes, 32 bytes each.
pub fn encode_hashes(hashes: &[Hash256]) -> Vec<u8> {
    hashes.iter().flat_map(|hash| hash.0).collect()
}

/// The hashes of a hash tile's bytes, which must be exactly `tile.width` hashes.
pub fn decode_hashes(tile: &TilePath, bytes: &[u8]) -> Result<Vec<Hash256>, TileError> {
    let want = usize::from(tile.width) * 32;
    if bytes.len() != want {
        return Err(TileError::Tile {
            path: tile.to_string(),
            reason: format!(
                "it is {} bytes, not the {want} of {} hashes",
                bytes.len(),
                tile.width
            ),
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|chunk| Hash256(chunk.try_into().expect("32 bytes")))
        .collect())
}

/// The Merkle Tree Hash of a full tile's 256 hashes: the hash the tile is at the level above.
pub fn full_tile_root(hashes: &[Hash256]) -> Hash256 {
    debug_assert_eq!(hashes.len() as u64, TILE_WIDTH);
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| merkle::node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// The object at `tile`, read from `source`, whose tree must have it.
pub fn build(source: &impl TileSource, tile: &TilePath) -> Result<TileObject, TileError> {
    let path = tile.to_string();
    let first_leaf = tile.first_leaf().ok_or_else(|| TileError::Tile {
        path: path.clone(),
        reason: "it lies beyond any tree".to_owned(),
    })?;
    let width = usize::from(tile.width);
    let source_error = |source| TileError::Source {
        path: path.clone(),
        source,
    };
    let bytes =
        match tile.kind {
            TileKind::Entries | TileKind::Hashes(0) => {
                let entries = source.entries(first_leaf, width).map_err(source_error)?;
                if entries.len() != width {
                    return Err(TileError::Missing {
                        path: path.clone(),
                        what: format!("entry index {}", first_leaf + entries.len() as u64),
                    });
                }
                match tile.kind {
                    TileKind::Entries => bundle::encode(first_leaf, &entries)?,
                    TileKind::Hashes(_) => entries
                        .iter()
                        .flat_map(|entry| merkle::leaf_hash(entry).0)
                        .collect(),
                }
            }
            TileKind::Hashes(_) => {
                let level = tile.tree_level();
                let first = tile.index * TILE_WIDTH;
                let mut bytes = Vec::with_capacity(width * 32);
                for index in first..first + width as u64 {
                    let node = NodeId { level, index };
                    let hash = source.node(node).map_err(source_error)?.ok_or_else(|| {
                        TileError::Missing {
                            path: path.clone(),
                            what: format!("tree node at level {level}, index {index}"),
                        }
                    })?;
                    bytes.extend_from_slice(&hash.0);
                }
                bytes
            }
        };
    Ok(TileObject {
        path,
        bytes,
        full: tile.is_full(),
    })
}

/// Every object that is new or changed when the tree grows from `from` to `to` leaves (the
/// archiver's list: bundles, then hash tiles, never the checkpoint, which is signed elsewhere),
/// each built when the iterator reaches it. `source`'s tree must have `to` leaves.
pub fn objects_between<'a, S: TileSource>(
    source: &'a S,
    from: u64,
    to: u64,
) -> impl Iterator<Item = Result<TileObject, TileError>> + 'a {
    changed_between(from, to)
        .into_iter()
        .map(move |tile| build(source, &tile))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Frontier, MemoryNodeStore, NodeStore as _};

    /// A log of `n` entries `entry <i>` with its whole tree in memory.
    struct Fake {
        entries: Vec<Vec<u8>>,
        nodes: MemoryNodeStore,
    }

    impl Fake {
        fn new(n: u64) -> Fake {
            let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
            let leaves: Vec<_> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
            let mut nodes = MemoryNodeStore::default();
            nodes.extend(Frontier::new().append(&leaves));
            Fake { entries, nodes }
        }
    }

    impl TileSource for Fake {
        fn node(&self, node: NodeId) -> Result<Option<Hash256>, SourceError> {
            self.nodes.node(node)
        }
        fn entries(&self, first: u64, count: usize) -> Result<Vec<Vec<u8>>, SourceError> {
            Ok(self
                .entries
                .iter()
                .skip(first as usize)
                .take(count)
                .cloned()
                .collect())
        }
    }

    fn names(tiles: &[TilePath]) -> Vec<String> {
        tiles.iter().map(TilePath::to_string).collect()
    }

    #[test]
    fn a_tree_of_70000_has_the_tiles_the_format_lists() {
        // tlog-tiles: 273 full level-0 tiles, a partial one of width 112, one full level-1 tile,
        // a partial level-1 tile of width 17 and a partial level-2 tile of width 1.
        let tiles = tiles_of_size(70_000);
        let level = |l| {
            tiles
                .iter()
                .filter(|t| t.kind == TileKind::Hashes(l))
                .count()
        };
        assert_eq!((level(0), level(1), level(2), level(3)), (274, 2, 1, 0));
        let partials: Vec<_> = tiles
            .iter()
            .filter(|t| !t.is_full())
            .map(|t| t.to_string())
            .collect();
        assert_eq!(
            partials,
            [
                "tile/entries/273.p/112",
                "tile/0/273.p/112",
                "tile/1/001.p/17",
                "tile/2/000.p/1"
            ]
        );
        // A tree of 256: one full level-0 tile and a level-1 tile of width 1.
        assert_eq!(
            names(&tiles_of_size(256)),
            ["tile/entries/000", "tile/0/000", "tile/1/000.p/1"]
        );
        assert!(tiles_of_size(0).is_empty());
    }

    #[test]
    fn growing_lists_only_what_changed() {
        assert_eq!(
            names(&changed_between(300, 520)),
            [
                "tile/entries/001",
                "tile/entries/002.p/8",
                "tile/0/001",
                "tile/0/002.p/8",
                "tile/1/000.p/2"
            ]
        );
        // Within one partial tile of level 0, level 1 does not change.
        assert_eq!(
            names(&changed_between(257, 258)),
            ["tile/entries/001.p/2", "tile/0/001.p/2"]
        );
        assert!(changed_between(258, 258).is_empty());
        // Every tile of the larger tree is in the first tree, or in what changed.
        let (from, to) = (70_000, 140_123);
        let mut union = tiles_of_size(from);
        union.extend(changed_between(from, to));
        for tile in tiles_of_size(to) {
            assert!(union.contains(&tile), "{tile}");
        }
    }

    #[test]
    fn tiles_hold_the_trees_nodes_and_bundles_the_entries() {
        let fake = Fake::new(70_000);
        let objects: Vec<_> = objects_between(&fake, 0, 70_000)
            .collect::<Result<_, _>>()
            .unwrap();
        let get = |path: &str| objects.iter().find(|o| o.path == path).unwrap();
        let tile0 = get("tile/0/000");
        assert!(tile0.full);
        assert_eq!(&tile0.bytes[..32], &merkle::leaf_hash(b"entry 0").0);
        // Each level-1 hash is the root of the full level-0 tile under it.
        let level1 = decode_hashes(
            &TilePath::parse("tile/1/000").unwrap(),
            &get("tile/1/000").bytes,
        )
        .unwrap();
        let hashes0 = decode_hashes(
            &TilePath::parse("tile/0/005").unwrap(),
            &get("tile/0/005").bytes,
        )
        .unwrap();
        assert_eq!(level1[5], full_tile_root(&hashes0));
        let partial = get("tile/2/000.p/1");
        assert!(!partial.full);
        assert_eq!(partial.bytes, merkle::root(&fake.nodes, 65_536).unwrap().0);
        let entries = bundle::decode(69_888, 112, &get("tile/entries/273.p/112").bytes).unwrap();
        assert_eq!(entries[111], b"entry 69999");
        assert!(exists_at(
            &TilePath::parse("tile/0/273.p/100").unwrap(),
            70_000
        ));
        assert!(!exists_at(
            &TilePath::parse("tile/0/273.p/113").unwrap(),
            70_000
        ));
        assert!(!exists_at(&TilePath::parse("tile/0/273").unwrap(), 70_000));
    }
}
