//! A store that cannot write (docs/reference/time-and-durability.md#append-failure): a real tonic
//! server over a real sled ledger whose store fails the way sled 0.34.7 fails on a full disk, then
//! recovers without a restart.
//!
//! [`FullDiskStore`] wraps a [`SledStore`] and, while the disk is "full", behaves as sled does:
//! the failed batch stays visible in memory (sled applies a batch before writing it) and every
//! later write fails until the database is opened again. The same scenario runs on a real small
//! filesystem in `.ci/run` (`tests/media/full_disk.sh`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tailledger::api::pb;
use tailledger::entry::Entry;
use tailledger::hash::{Digest, Hash256};
use tailledger::ledger::{Ledger, Log, Reopen};
use tailledger::merkle::NodeId;
use tailledger::store::{Checkpointed, Encode, Scan, SledStore, Store, StoreError};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::api::{ApiServer, admin, assert_chain, auditor, tokens};

/// Whether the simulated disk is full; shared by every store opened over it.
#[derive(Clone, Default)]
struct Disk(Arc<AtomicBool>);

impl Disk {
    fn is_full(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set_full(&self, full: bool) {
        self.0.store(full, Ordering::SeqCst);
    }
}

/// The error sled 0.34.7 returns on a full disk, `Debug` text included.
fn storage_full(path: &Path) -> StoreError {
    let original = io::Error::from_raw_os_error(28);
    StoreError::Database {
        path: path.to_path_buf(),
        source: sled::Error::Io(io::Error::new(original.kind(), format!("{original:?}"))),
    }
}

/// A sled store on a disk that can fill up, failing as sled does.
struct FullDiskStore {
    inner: SledStore,
    disk: Disk,
    /// A write failed: sled refuses every later one until reopened.
    wedged: AtomicBool,
    /// Batches sled applied in memory but could not write.
    in_memory: Mutex<Vec<Entry>>,
}

impl Store for FullDiskStore {
    fn acknowledged(&self) -> Option<Digest> {
        self.inner.acknowledged()
    }

    fn head(&self) -> Result<Option<Digest>, StoreError> {
        match self.in_memory.lock().unwrap().last() {
            Some(entry) => Ok(Some(entry.digest())),
            None => self.inner.head(),
        }
    }

    fn stage(&self, entries: &[Entry], nodes: &[(NodeId, Hash256)]) -> Result<(), StoreError> {
        let expected = self.head()?.map_or(1, |head| head.seq + 1);
        if let Some(first) = entries.first()
            && first.seq != expected
        {
            return Err(StoreError::NotContiguous {
                expected,
                found: first.seq,
            });
        }
        if self.wedged.load(Ordering::SeqCst) {
            return Err(storage_full(self.inner.path()));
        }
        if self.disk.is_full() {
            self.in_memory.lock().unwrap().extend_from_slice(entries);
            self.wedged.store(true, Ordering::SeqCst);
            return Err(storage_full(self.inner.path()));
        }
        self.inner.stage(entries, nodes)
    }

    fn commit(&self, head: Digest) -> Result<(), StoreError> {
        if self.wedged.load(Ordering::SeqCst) {
            return Err(storage_full(self.inner.path()));
        }
        self.inner.commit(head)
    }

    fn tree_size(&self) -> Result<u64, StoreError> {
        self.inner.tree_size()
    }

    fn extend_tree(&self, nodes: &[(NodeId, Hash256)], size: u64) -> Result<(), StoreError> {
        self.inner.extend_tree(nodes, size)
    }

    fn kept_node(&self, node: NodeId) -> Result<Option<Hash256>, StoreError> {
        self.inner.kept_node(node)
    }

    fn scan(&self, from: u64) -> Scan<'static> {
        let in_memory: Vec<_> = self
            .in_memory
            .lock()
            .unwrap()
            .iter()
            .filter(|entry| entry.seq >= from)
            .map(|entry| Ok((entry.seq, Ok(entry.clone()))))
            .collect();
        Box::new(self.inner.scan(from).chain(in_memory))
    }

    fn put_checkpoint(
        &self,
        kind: Checkpointed,
        seq: u64,
        encode: &mut Encode<'_>,
    ) -> Result<(), StoreError> {
        self.inner.put_checkpoint(kind, seq, encode)
    }

    fn checkpoint_at_or_before(
        &self,
        kind: Checkpointed,
        seq: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.inner.checkpoint_at_or_before(kind, seq)
    }
}

/// Opens a [`FullDiskStore`] in `dir`; ready while the disk has room.
struct FullDiskReopen {
    dir: PathBuf,
    disk: Disk,
}

impl Reopen for FullDiskReopen {
    fn ready(&self) -> Result<(), StoreError> {
        if self.disk.is_full() {
            Err(storage_full(&self.dir))
        } else {
            Ok(())
        }
    }

    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(Box::new(FullDiskStore {
            inner: SledStore::open(&self.dir)?,
            disk: self.disk.clone(),
            wedged: AtomicBool::new(false),
            in_memory: Mutex::new(Vec::new()),
        }))
    }
}

/// Waits until the health of `service` is `status`, following the health watch stream (the
/// server updates health a moment after the ledger's state changes).
async fn wait_for_health(server: &ApiServer, service: &str, status: ServingStatus) {
    let mut watch = HealthClient::new(server.channel().await)
        .watch(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let patience = std::time::Duration::from_secs(60);
    tokio::time::timeout(patience, async {
        while watch.message().await.unwrap().unwrap().status != status as i32 {}
    })
    .await
    .unwrap_or_else(|_| panic!("the health of `{service}` never turned {status:?}"));
}

async fn events_after(server: &ApiServer, after_seq: u64) -> pb::ListEventsResponse {
    server
        .ledger()
        .await
        .list_events(auditor(pb::ListEventsRequest {
            after_seq,
            limit: 1000,
        }))
        .await
        .unwrap()
        .into_inner()
}

async fn sync_now(server: &ApiServer) -> Result<pb::SyncNowResponse, tonic::Status> {
    server
        .admin()
        .await
        .sync_now(admin(pb::SyncNowRequest {
            system: "tailscale".to_owned(),
        }))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_failed_append_changes_nothing_and_the_ledger_recovers_without_a_restart() {
    let disk = Disk::default();
    let opened = disk.clone();
    let server = ApiServer::start_with(tokens(), None, Default::default(), move |dir| {
        let log = Log::reopenable(Box::new(FullDiskReopen {
            dir: dir.to_path_buf(),
            disk: opened,
        }))
        .unwrap();
        Ledger::new(log).unwrap()
    })
    .await;
    sync_now(&server).await.unwrap();
    let head = events_after(&server, 0).await.next_after_seq;
    assert!(head > 0);
    wait_for_health(&server, "", ServingStatus::Serving).await;

    disk.set_full(true);
    // A new account, so the refused sync would have appended more than `SyncCompleted`.
    server
        .fixture()
        .tailnet
        .upsert_user(tailledger::simulator::SimUser::member(
            "u9",
            "sam@acme.example",
            "Sam Okafor",
        ));
    let refused = sync_now(&server).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("no space left on the device")
            && !refused.message().contains("Os {")
            && !refused.message().contains("kind:"),
        "the cause in words: {}",
        refused.message()
    );
    for service in [
        "",
        "tailledger.v1.LedgerService",
        "tailledger.v1.AdminService",
    ] {
        wait_for_health(&server, service, ServingStatus::NotServing).await;
    }
    // Nothing moved: the page after the head is empty and its cursor stays at the head.
    let page = events_after(&server, head).await;
    assert!(page.events.is_empty());
    assert_eq!(page.next_after_seq, head);
    let status = server
        .ledger()
        .await
        .get_status(auditor(pb::GetStatusRequest {
            system: "tailscale".to_owned(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.ledger_seq, head,
        "the projections are where they were"
    );
    let digest = server
        .ledger()
        .await
        .get_digest(auditor(pb::GetDigestRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(digest.seq, head);
    // An admin write fails the same way while the disk is full.
    let policy = server
        .admin()
        .await
        .set_access_policy(admin(pb::SetAccessPolicyRequest {
            system: "tailscale".to_owned(),
            allowed_org_roles: vec!["*".to_owned()],
            reason: "full disk".to_owned(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(policy.code(), Code::Unavailable, "{policy:?}");

    disk.set_full(false);
    let synced = sync_now(&server).await.unwrap();
    assert_eq!(synced.outcome, "completed", "{synced:?}");
    wait_for_health(&server, "", ServingStatus::Serving).await;
    let after = events_after(&server, head).await;
    let types: Vec<&str> = after
        .events
        .iter()
        .map(|event| event.r#type.as_str())
        .collect();
    assert_eq!(
        types,
        ["SyncFailed", "UserSeen", "SyncCompleted"],
        "the sync that could not be stored is recorded as failed first"
    );
    let failed = &after.events[0].canonical_json;
    assert!(
        failed.contains("\"error_class\":\"unavailable\"") && failed.contains("no space left"),
        "{failed}"
    );
    let all = events_after(&server, 0).await;
    assert_chain(&all.events, (0, "0".repeat(64)));
    let verified = server
        .ledger()
        .await
        .verify_ledger(auditor(pb::VerifyLedgerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.ok, "{verified:?}");
    server.stop().await;
}
