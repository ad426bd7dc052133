//! The sled store against the in-memory model: random batches, reads, checkpoints and reopenings
//! are applied to each store through the `Store` trait, and every answer must agree, the Merkle
//! tree's nodes included. The batches are sealed, and their tree nodes made, here as the ledger
//! does it: the store is what is under test.

use proptest::prelude::*;
use tailledger::entry::Entry;
use tailledger::event::{Actor, Classification, Event, SystemId};
use tailledger::hash::Digest;
use tailledger::ledger::Log;
use tailledger::merkle::{Frontier, NodeId};
use tailledger::store::{Checkpointed, MemoryStore, SledStore, Store};
use tailledger::time::Timestamp;

use crate::helpers::snapshot;

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Event>),
    Read {
        from: u64,
        limit: usize,
    },
    Reopen,
    PutCheckpoint {
        kind: Checkpointed,
        seq: u64,
        bytes: Vec<u8>,
    },
    CheckpointAtOrBefore(Checkpointed, u64),
}

fn event() -> impl Strategy<Value = Event> {
    let account_id = "[a-z]{1,6}";
    prop_oneof![
        (
            account_id,
            "[a-z]{0,8}",
            "(active|idle|suspended|brand-new)"
        )
            .prop_map(|(id, role, status)| {
                Event::UserSeen {
                    system: SystemId::tailscale(),
                    account: snapshot(&id, &format!("{id}@example.com"), &role, &status),
                }
            }),
        (account_id, ".{0,20}").prop_map(|(account_id, reason)| Event::AccountClassified {
            system: SystemId::tailscale(),
            account_id,
            classification: Classification::Test,
            owner_employee_id: None,
            reason,
        }),
        (
            account_id,
            Timestamp::MIN.as_micros()..=Timestamp::MAX.as_micros()
        )
            .prop_map(|(employee_id, micros)| Event::EmployeeOffboarded {
                employee_id,
                effective_at: Timestamp::from_micros(micros).expect("generated within range"),
                reason: None,
            }),
    ]
}

fn kind() -> impl Strategy<Value = Checkpointed> {
    prop_oneof![
        Just(Checkpointed::Projections),
        Just(Checkpointed::Subjects)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(event(), 0..6).prop_map(Op::Append),
        3 => (0u64..40, 0usize..12).prop_map(|(from, limit)| Op::Read { from, limit }),
        1 => Just(Op::Reopen),
        1 => (kind(), 0u64..40, prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(kind, seq, bytes)| Op::PutCheckpoint { kind, seq, bytes }),
        1 => (kind(), 0u64..40).prop_map(|(kind, seq)| Op::CheckpointAtOrBefore(kind, seq)),
    ]
}

/// `events` sealed as one batch after `head`.
fn seal(head: Option<Digest>, recorded_at: Timestamp, events: Vec<Event>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
    for event in events {
        let prev = entries.last().map(Entry::digest).or(head);
        entries.push(Entry::seal(prev, recorded_at, Actor::Demo, event));
    }
    entries
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_the_memory_model(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let mut sled = SledStore::open(dir.path()).unwrap();
        let model = MemoryStore::new();
        let mut frontier = Frontier::new();
        for (step, op) in ops.into_iter().enumerate() {
            let recorded_at = Timestamp::UNIX_EPOCH.saturating_add_micros(step as i64);
            match op {
                Op::Append(events) => {
                    let batch = seal(model.head().unwrap(), recorded_at, events);
                    if !batch.is_empty() {
                        let leaves: Vec<_> = batch.iter().map(Entry::leaf_hash).collect();
                        let nodes = frontier.append(&leaves);
                        sled.append(&batch, &nodes).unwrap();
                        model.append(&batch, &nodes).unwrap();
                    }
                }
                Op::Read { from, limit } => {
                    prop_assert_eq!(
                        sled.read(from, limit).unwrap(),
                        model.read(from, limit).unwrap()
                    );
                }
                Op::Reopen => {
                    drop(sled);
                    sled = SledStore::open(dir.path()).unwrap();
                }
                Op::PutCheckpoint { kind, seq, bytes } => {
                    let mut encode = |writer: &mut dyn std::io::Write| writer.write_all(&bytes);
                    sled.put_checkpoint(kind, seq, &mut encode).unwrap();
                    model.put_checkpoint(kind, seq, &mut encode).unwrap();
                }
                Op::CheckpointAtOrBefore(kind, seq) => {
                    prop_assert_eq!(
                        sled.checkpoint_at_or_before(kind, seq).unwrap(),
                        model.checkpoint_at_or_before(kind, seq).unwrap()
                    );
                }
            }
            prop_assert_eq!(sled.head().unwrap(), model.head().unwrap());
            prop_assert_eq!(sled.tree_size().unwrap(), model.tree_size().unwrap());
        }
        // Every node of every level, one past the tree's edge included, reads the same.
        let size = model.tree_size().unwrap();
        for level in 0..7u8 {
            for index in 0..=(size >> level) {
                let node = NodeId { level, index };
                prop_assert_eq!(sled.tree_node(node).unwrap(), model.tree_node(node).unwrap());
            }
        }
        prop_assert_eq!(
            tailledger::merkle::root(&tailledger::store::TreeNodes(&sled), size).unwrap(),
            frontier.root()
        );
        let model_head = model.head().unwrap();
        drop(sled);
        let report = Log::open_existing(dir.path()).unwrap().verify().unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        prop_assert_eq!(report.last_good, model_head);
    }
}
