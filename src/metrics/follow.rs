//! Follows the ledger as it grows and counts each appended entry, in seq order, exactly once.

use std::sync::Arc;

use tokio::sync::watch;

use super::Metrics;
use crate::service::Service;

/// How many entries one read takes.
const PAGE: usize = 1_000;

/// Counts every entry appended after seq `after`, until `stopping` turns true. A read that
/// fails (the store is being reopened after a failed append) is tried again at the next append.
pub async fn follow(
    service: Arc<Service>,
    metrics: Metrics,
    mut after: u64,
    mut stopping: watch::Receiver<bool>,
) {
    let mut heads = service.follow();
    metrics.set_head_seq(after);
    loop {
        // Read until nothing is left: an append made while reading marks `heads` changed, so the
        // wait below returns at once and nothing is missed.
        loop {
            match service.events(after, PAGE).await {
                Ok(page) if !page.entries.is_empty() => {
                    page.entries.iter().for_each(|entry| metrics.observe(entry));
                    after = page.next_after_seq;
                }
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!("metrics could not read the entries after seq {after}: {error}");
                    break;
                }
            }
        }
        tokio::select! {
            changed = heads.changed() => if changed.is_err() { return },
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}
