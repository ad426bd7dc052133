//! `StreamEvents`: replay from a position, then follow live appends.
//!
//! Each follower is a task of its own that reads pages through the service and waits on the
//! ledger's head channel for more. It sends into a small bounded buffer, so a slow client only slows its
//! own task: the writer never waits for anyone (the head channel keeps only the latest value),
//! and a follower that falls behind simply reads the store from where it is. Because the
//! follower tracks the next seq it owes and reads it from the store, it sends every event
//! exactly once, in order, whatever happens to the head in between.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::convert;
use super::pb;
use crate::service::Service;

/// Entries read from the store at a time.
const PAGE: usize = 256;
/// Responses buffered per follower before its task waits for the client.
const BUFFER: usize = 64;

pub type EventStream = ReceiverStream<Result<pb::StreamEventsResponse, Status>>;

/// Starts a follower that sends every event after `after_seq`, and then, with `follow`, every
/// new one until the client goes away or the server stops.
pub fn start(
    service: Arc<Service>,
    after_seq: u64,
    follow: bool,
    mut stopping: watch::Receiver<bool>,
) -> EventStream {
    let (sender, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let mut heads = service.follow();
        let mut next = after_seq.saturating_add(1);
        loop {
            let page = match service.events(next - 1, PAGE).await {
                Ok(page) => page.entries,
                Err(error) => {
                    // The client may be gone already; there is nobody else to tell.
                    let _ = sender.send(Err(error.into())).await;
                    return;
                }
            };
            let full = page.len() == PAGE;
            for entry in page {
                next = entry.seq + 1;
                let response = pb::StreamEventsResponse {
                    event: Some(convert::event(&entry)),
                };
                if sender.send(Ok(response)).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            if !follow {
                return;
            }
            // Wait until the head has passed the last event sent, the client leaves, or the
            // server stops.
            loop {
                if *stopping.borrow() {
                    return;
                }
                if heads.borrow_and_update().map_or(0, |head| head.seq) >= next {
                    break;
                }
                tokio::select! {
                    changed = heads.changed() => if changed.is_err() { return },
                    _ = stopping.changed() => return,
                    () = sender.closed() => return,
                }
            }
        }
    });
    ReceiverStream::new(receiver)
}
