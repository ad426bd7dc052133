//! `[store]` (docs/reference/config.md#store): how the ledger database is opened.
//!
//! Today that is sled's page cache, `cache_capacity`, written as bytes (`67108864`) or with a
//! binary unit (`"64 MiB"`, `"512 KiB"`, `"1 GiB"`). A cache below 1 MiB would make every read go
//! to the disk, and one above 1 TiB is surely a typo, so both are refused.

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::store::CACHE_CAPACITY;

const KEY: &str = "store.cache_capacity";
const LEAST: u64 = 1 << 20;
const MOST: u64 = 1 << 40;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    cache_capacity: Option<Spanned<Size>>,
}

/// A size as written: a count of bytes, or a number with a unit.
#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(i64),
    Written(String),
}

/// What `[store]` configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            cache_capacity: CACHE_CAPACITY,
        }
    }
}

impl Source<'_> {
    pub(super) fn store(&self, raw: &RawStore) -> Result<StoreSettings, ConfigError> {
        let Some(written) = &raw.cache_capacity else {
            return Ok(StoreSettings::default());
        };
        let (bytes, shown) = match written.get_ref() {
            Size::Bytes(bytes) => (u64::try_from(*bytes).ok(), bytes.to_string()),
            Size::Written(text) => (parse_size(text), format!("`{text}`")),
        };
        let bytes = bytes.ok_or_else(|| {
            self.error(
                written,
                KEY,
                format!("{shown} is not a size: write bytes (67108864) or a whole number with KiB, MiB or GiB (\"64 MiB\")"),
            )
        })?;
        if !(LEAST..=MOST).contains(&bytes) {
            return Err(self.error(
                written,
                KEY,
                format!("{bytes} bytes is not between 1 MiB and 1 TiB"),
            ));
        }
        Ok(StoreSettings {
            cache_capacity: bytes,
        })
    }
}

/// `"64 MiB"` → 67,108,864; `None` for anything else (a bare number in a string counts as bytes).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_read_in_binary_units() {
        assert_eq!(parse_size("64 MiB"), Some(64 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size(" 2 GiB "), Some(2 << 30));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("1048576 B"), Some(1 << 20));
    }

    #[test]
    fn anything_else_is_not_a_size() {
        for text in [
            "",
            "MiB",
            "64 MB",
            "64 mib",
            "-1 MiB",
            "1.5 GiB",
            "99999999999 GiB",
        ] {
            assert_eq!(parse_size(text), None, "{text:?}");
        }
    }
}
