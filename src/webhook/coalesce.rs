//! Turning a burst of webhook triggers into a bounded number of syncs
//! (docs/reference/sync.md#webhooks: deliveries arriving in a burst start one sync, not one each).
//!
//! The first trigger starts a sync at once (the 5-second goal leaves no room for waiting to
//! see whether more come). Triggers that arrive while a sync runs are folded into one pending
//! sync, started when the running one ends: that sync is needed, because the running one may
//! have read the tailnet before the change its trigger announced. Two sync starts are at least
//! `min_gap` apart, so a flood of deliveries spread over `D` seconds starts at most
//! `1 + D / min_gap` syncs, plus the one pending at the end, however many deliveries there
//! were.
//!
//! [`Coalescer`] is the pure decision, with instants passed in; [`run_coalesced`] drives it
//! with a [`SyncTrigger`] and a sync function.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The default least time between two sync starts: short enough that a removal following a
/// sync still lands well within the 5-second goal, long enough that a flood of a thousand
/// deliveries a second costs a handful of syncs.
pub const DEFAULT_MIN_GAP: Duration = Duration::from_millis(250);

/// What the driver should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing is pending, or a sync is running: wait for a trigger or the sync's end.
    Wait,
    /// Start a sync now.
    StartNow,
    /// A sync is pending; start it at this instant (or on a trigger, to re-decide).
    StartAt(Instant),
}

/// The state of the coalescing: is a sync pending, is one running, when did the last start.
#[derive(Clone, Debug)]
pub struct Coalescer {
    min_gap: Duration,
    pending: bool,
    running: bool,
    last_start: Option<Instant>,
}

impl Coalescer {
    pub fn new(min_gap: Duration) -> Self {
        Coalescer {
            min_gap,
            pending: false,
            running: false,
            last_start: None,
        }
    }

    /// A delivery asked for a sync.
    pub fn trigger(&mut self) {
        self.pending = true;
    }

    /// What to do at `now`.
    pub fn next(&self, now: Instant) -> Next {
        if !self.pending || self.running {
            return Next::Wait;
        }
        match self.last_start.map(|last| last + self.min_gap) {
            Some(earliest) if earliest > now => Next::StartAt(earliest),
            _ => Next::StartNow,
        }
    }

    /// A sync started at `now`; it covers every trigger so far.
    pub fn started(&mut self, now: Instant) {
        self.pending = false;
        self.running = true;
        self.last_start = Some(now);
    }

    /// The running sync ended (whatever its outcome).
    pub fn finished(&mut self) {
        self.running = false;
    }
}

/// The cheap, cloneable handle a receiver fires to ask for a sync. Firing never blocks and
/// never fails; any number of fires before the driver looks are one request.
#[derive(Clone, Debug, Default)]
pub struct SyncTrigger {
    notify: Arc<Notify>,
    fired: Arc<AtomicU64>,
}

impl SyncTrigger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for a sync.
    pub fn fire(&self) {
        self.fired.fetch_add(1, Ordering::Relaxed);
        // `notify_one` with no task waiting stores one permit, so a fire is never lost however
        // it races with the driver, and repeated fires collapse into that permit.
        self.notify.notify_one();
    }

    /// How many times the trigger was fired, by every clone (for metrics and tests).
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }
}

/// Runs `sync` whenever `trigger` is fired, coalesced as described above, until `shutdown`
/// completes. A sync still running at shutdown is dropped, as the scheduler drops one: a sync
/// appends nothing until its fetch is complete.
pub async fn run_coalesced<F, Fut>(
    trigger: SyncTrigger,
    min_gap: Duration,
    mut sync: F,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut coalescer = Coalescer::new(min_gap);
    tokio::pin!(shutdown);
    loop {
        match coalescer.next(Instant::now()) {
            Next::Wait => tokio::select! {
                () = trigger.notify.notified() => coalescer.trigger(),
                () = &mut shutdown => return,
            },
            Next::StartAt(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = trigger.notify.notified() => coalescer.trigger(),
                () = &mut shutdown => return,
            },
            Next::StartNow => {
                coalescer.started(Instant::now());
                let running = sync();
                tokio::pin!(running);
                loop {
                    tokio::select! {
                        () = &mut running => break,
                        () = trigger.notify.notified() => coalescer.trigger(),
                        () = &mut shutdown => return,
                    }
                }
                coalescer.finished();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: Duration = Duration::from_millis(250);

    #[test]
    fn the_first_trigger_starts_at_once() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(GAP);
        assert_eq!(coalescer.next(t0), Next::Wait);
        coalescer.trigger();
        assert_eq!(coalescer.next(t0), Next::StartNow);
    }

    #[test]
    fn triggers_during_a_sync_become_one_sync_after_it() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(GAP);
        coalescer.trigger();
        coalescer.started(t0);
        for _ in 0..1000 {
            coalescer.trigger();
            assert_eq!(coalescer.next(t0 + Duration::from_millis(1)), Next::Wait);
        }
        coalescer.finished();
        // The sync took 1 s, longer than the gap: the pending one starts at once, and only one.
        let end = t0 + Duration::from_secs(1);
        assert_eq!(coalescer.next(end), Next::StartNow);
        coalescer.started(end);
        coalescer.finished();
        assert_eq!(coalescer.next(end), Next::Wait);
    }

    #[test]
    fn starts_are_at_least_the_gap_apart() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(GAP);
        coalescer.trigger();
        coalescer.started(t0);
        coalescer.finished();
        let soon = t0 + Duration::from_millis(10);
        coalescer.trigger();
        assert_eq!(coalescer.next(soon), Next::StartAt(t0 + GAP));
        assert_eq!(coalescer.next(t0 + GAP), Next::StartNow);
    }

    #[test]
    fn a_flood_over_one_second_starts_a_bounded_number_of_syncs() {
        // A trigger every millisecond for a second, each sync taking 20 ms: the gap, not the
        // sync time, bounds the starts.
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(GAP);
        let mut starts = Vec::new();
        let mut running_until = None;
        for ms in 0..=1500u64 {
            let now = t0 + Duration::from_millis(ms);
            if running_until == Some(now) {
                coalescer.finished();
                running_until = None;
            }
            if ms < 1000 {
                coalescer.trigger();
            }
            if coalescer.next(now) == Next::StartNow {
                coalescer.started(now);
                starts.push(ms);
                running_until = Some(now + Duration::from_millis(20));
            }
        }
        assert_eq!(starts, [0, 250, 500, 750, 1000]);
    }

    #[tokio::test]
    async fn the_driver_folds_fires_during_a_sync_into_one_more() {
        let trigger = SyncTrigger::new();
        let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (release_tx, release) = tokio::sync::mpsc::unbounded_channel::<()>();
        let release = Arc::new(tokio::sync::Mutex::new(release));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let driver = tokio::spawn(run_coalesced(
            trigger.clone(),
            Duration::ZERO,
            move || {
                let started_tx = started_tx.clone();
                let release = release.clone();
                async move {
                    started_tx.send(()).unwrap();
                    // Each sync runs until the test lets it end.
                    release.lock().await.recv().await;
                }
            },
            async {
                let _ = stopped.await;
            },
        ));
        trigger.fire();
        started.recv().await.unwrap();
        for _ in 0..100 {
            trigger.fire();
        }
        release_tx.send(()).unwrap();
        started.recv().await.unwrap();
        release_tx.send(()).unwrap();
        // The driver is waiting again: a later fire starts a third sync.
        trigger.fire();
        started.recv().await.unwrap();
        stop.send(()).unwrap();
        driver.await.unwrap();
    }
}
