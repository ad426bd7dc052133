//! The sled store against the in-memory model: random batches, reads, checkpoints and reopenings
//! are applied to a ledger over each, and every answer must agree.

use proptest::prelude::*;
use tailledger::event::{Actor, Classification, Event, SystemId};
use tailledger::ledger::Ledger;
use tailledger::store::MemoryStore;
use tailledger::time::Timestamp;
use tailledger::verify::verify_store;

use crate::helpers::snapshot;

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Event>),
    Read { from: u64, limit: usize },
    Reopen,
    PutCheckpoint { seq: u64, bytes: Vec<u8> },
    CheckpointAtOrBefore(u64),
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

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(event(), 0..6).prop_map(Op::Append),
        3 => (0u64..40, 0usize..12).prop_map(|(from, limit)| Op::Read { from, limit }),
        1 => Just(Op::Reopen),
        1 => (0u64..40, prop::collection::vec(any::<u8>(), 0..16))
            .prop_map(|(seq, bytes)| Op::PutCheckpoint { seq, bytes }),
        1 => (0u64..40).prop_map(Op::CheckpointAtOrBefore),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_the_memory_model(ops in prop::collection::vec(op(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let mut sled = Ledger::open(dir.path()).unwrap();
        let model = Ledger::with_store(Box::new(MemoryStore::new())).unwrap();
        for (step, op) in ops.into_iter().enumerate() {
            let recorded_at = Timestamp::UNIX_EPOCH.saturating_add_micros(step as i64);
            match op {
                Op::Append(events) => {
                    let durable = sled.append(recorded_at, Actor::Demo, events.clone()).unwrap();
                    let modelled = model.append(recorded_at, Actor::Demo, events).unwrap();
                    prop_assert_eq!(durable, modelled);
                }
                Op::Read { from, limit } => {
                    prop_assert_eq!(
                        sled.store().read(from, limit).unwrap(),
                        model.store().read(from, limit).unwrap()
                    );
                }
                Op::Reopen => {
                    drop(sled);
                    sled = Ledger::open(dir.path()).unwrap();
                }
                Op::PutCheckpoint { seq, bytes } => {
                    sled.store().put_checkpoint(seq, bytes.clone()).unwrap();
                    model.store().put_checkpoint(seq, bytes).unwrap();
                }
                Op::CheckpointAtOrBefore(seq) => {
                    prop_assert_eq!(
                        sled.store().checkpoint_at_or_before(seq).unwrap(),
                        model.store().checkpoint_at_or_before(seq).unwrap()
                    );
                }
            }
            prop_assert_eq!(sled.head(), model.head());
            prop_assert_eq!(sled.store().head().unwrap(), model.head());
        }
        let report = verify_store(sled.store()).unwrap();
        prop_assert!(report.is_ok(), "{:?}", report);
        prop_assert_eq!(report.last_good, model.head());
    }
}
