//! Duplicate deliveries (docs/reference/sync.md#webhooks): a delivery whose body digest was
//! recorded within the last 25 hours is answered 200 and not recorded again.
//!
//! Tailscale retries a failed delivery hourly for up to 24 hours (second-hand; whether a retry
//! carries a fresh `t` is unconfirmed), so 25 h covers every retry with an hour to spare. The
//! key is the SHA-256 of the body exactly as received, as the contract says: a retry that
//! re-batched its events differently is a different delivery. The structure is pure (instants
//! are arguments) and forgets digests older than the window, so its size is bounded by the
//! deliveries of one window. The ledger is the lasting memory: at start the service seeds this
//! with the `WebhookReceived` digests of the last 25 h ([`Deduplicator::remember`]).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::hash::Hash256;
use crate::time::Timestamp;

/// How long a recorded delivery makes an identical one a duplicate: 25 hours.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(25 * 3600);

/// Whether a delivery is new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Not seen within the window; now remembered as recorded at the instant given.
    New,
    /// Identical to one recorded at `first_recorded_at`, within the window.
    Duplicate { first_recorded_at: Timestamp },
}

/// The body digests recorded within the window.
#[derive(Clone, Debug)]
pub struct Deduplicator {
    window_micros: i64,
    /// Digest to the instant it was recorded.
    recorded: HashMap<Hash256, Timestamp>,
    /// The same pairs in the order they were remembered, for forgetting the oldest first. A pair
    /// whose digest was since forgotten or remembered again is stale and skipped.
    order: VecDeque<(Timestamp, Hash256)>,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Self::new(DEDUP_WINDOW)
    }
}

impl Deduplicator {
    /// An empty memory with the given window (the contract's is [`DEDUP_WINDOW`]).
    pub fn new(window: Duration) -> Self {
        Deduplicator {
            window_micros: i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
            recorded: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Decides about a delivery at `now` and, when it is new, remembers it as recorded then.
    pub fn admit(&mut self, digest: Hash256, now: Timestamp) -> Admission {
        self.expire(now);
        match self.recorded.get(&digest) {
            Some(&first_recorded_at) if self.within(first_recorded_at, now) => {
                Admission::Duplicate { first_recorded_at }
            }
            _ => {
                self.remember(digest, now);
                Admission::New
            }
        }
    }

    /// Remembers a delivery recorded at `recorded_at` (seeding from the ledger at start).
    pub fn remember(&mut self, digest: Hash256, recorded_at: Timestamp) {
        self.recorded.insert(digest, recorded_at);
        self.order.push_back((recorded_at, digest));
    }

    /// Forgets an admitted delivery that could not be recorded after all, so that Tailscale's
    /// retry of it is recorded.
    pub fn forget(&mut self, digest: &Hash256) {
        self.recorded.remove(digest);
    }

    /// How many digests are remembered.
    pub fn len(&self) -> usize {
        self.recorded.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.recorded.is_empty()
    }

    /// A clock that went backwards keeps a delivery a duplicate rather than recording it twice.
    fn within(&self, recorded_at: Timestamp, now: Timestamp) -> bool {
        now.as_micros().saturating_sub(recorded_at.as_micros()) <= self.window_micros
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(recorded_at, digest)) = self.order.front() {
            if self.within(recorded_at, now) {
                // Seeding can remember out of order; a later-expiring pair at the front only
                // delays forgetting the ones behind it, and `admit` checks the age anyway.
                break;
            }
            self.order.pop_front();
            if self.recorded.get(&digest) == Some(&recorded_at) {
                self.recorded.remove(&digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn at(hours: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH.saturating_add_micros(1_000 * HOUR + hours * HOUR)
    }

    fn digest(n: u8) -> Hash256 {
        Hash256::of(&[n])
    }

    #[test]
    fn identical_deliveries_within_25_hours_are_duplicates() {
        let mut dedup = Deduplicator::default();
        assert_eq!(dedup.admit(digest(1), at(0)), Admission::New);
        assert_eq!(dedup.admit(digest(2), at(0)), Admission::New);
        for hours in [0, 1, 24, 25] {
            assert_eq!(
                dedup.admit(digest(1), at(hours)),
                Admission::Duplicate {
                    first_recorded_at: at(0)
                },
                "{hours} h later"
            );
        }
        let just_after = at(25).saturating_add_micros(1);
        assert_eq!(dedup.admit(digest(1), just_after), Admission::New);
        assert_eq!(
            dedup.admit(digest(1), at(30)),
            Admission::Duplicate {
                first_recorded_at: just_after
            }
        );
    }

    #[test]
    fn old_digests_are_forgotten_so_memory_is_bounded_by_the_window() {
        let mut dedup = Deduplicator::default();
        for n in 0..100 {
            dedup.admit(digest(n), at(i64::from(n)));
        }
        // At hour 100, only the digests of hours 75..=99 are within 25 h.
        dedup.admit(digest(200), at(100));
        assert_eq!(dedup.len(), 26);
        assert_eq!(dedup.order.len(), 26);
    }

    #[test]
    fn seeding_from_the_ledger_and_forgetting_a_failed_record() {
        let mut dedup = Deduplicator::default();
        dedup.remember(digest(1), at(-2));
        dedup.remember(digest(2), at(-30));
        assert_eq!(
            dedup.admit(digest(1), at(0)),
            Admission::Duplicate {
                first_recorded_at: at(-2)
            }
        );
        assert_eq!(
            dedup.admit(digest(2), at(0)),
            Admission::New,
            "30 h ago is outside"
        );
        assert_eq!(dedup.admit(digest(3), at(0)), Admission::New);
        dedup.forget(&digest(3));
        assert_eq!(dedup.admit(digest(3), at(0)), Admission::New);
    }

    #[test]
    fn a_clock_moved_backwards_still_finds_the_duplicate() {
        let mut dedup = Deduplicator::default();
        dedup.admit(digest(1), at(10));
        assert!(matches!(
            dedup.admit(digest(1), at(9)),
            Admission::Duplicate { .. }
        ));
    }
}
