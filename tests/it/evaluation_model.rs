//! The incremental evaluation against the full one: for random histories, an `Evaluation`
//! brought forward entry by entry and through every instant at which time alone changes the
//! answer answers exactly (every finding, its evidence and words) what a fresh `evaluate` of the
//! same projections at the same instant answers, and names the same next instant of change.
//! The settings in force switch now and then between two, so a change of settings is exercised
//! too.

use proptest::prelude::*;
use tailledger::checks::{CheckSettings, Evaluation, evaluate, next_time_change};
use tailledger::entry::Entry;
use tailledger::event::{Actor, SystemId};
use tailledger::identity::EmailAliases;
use tailledger::projection::Projections;
use tailledger::time::Timestamp;

use crate::common_history::history;

const MINUTE: i64 = 60_000_000;

/// The default settings, or ones where suspended accounts keep access, logins of `b.example`
/// stand for `acme.example` emails and syncs are due every minute.
fn settings(other: bool) -> CheckSettings {
    if other {
        CheckSettings {
            email_aliases: EmailAliases::new([("b.example".to_owned(), "acme.example".to_owned())]),
            suspended_is_removed: false,
            sync_interval_seconds: 60,
        }
    } else {
        CheckSettings::default()
    }
}

/// Brings `evaluation` to `now` and holds it to a fresh evaluation there.
fn advance_and_compare(
    evaluation: &mut Evaluation,
    projections: &Projections,
    now: Timestamp,
    settings: &CheckSettings,
) -> Result<(), TestCaseError> {
    let system = SystemId::tailscale();
    evaluation.advance(projections, now, settings);
    prop_assert_eq!(
        evaluation.results(projections),
        evaluate(projections, &system, now, settings),
        "at {}",
        now
    );
    prop_assert_eq!(
        evaluation.next_time_change(projections, now),
        next_time_change(projections, &system, now, settings),
        "the next change after {}",
        now
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn an_evaluation_brought_forward_answers_as_a_fresh_one(
        history in history(),
        switches in prop::collection::vec(0u8..10, 40),
    ) {
        let system = SystemId::tailscale();
        let mut projections = Projections::default();
        let mut now = Timestamp::UNIX_EPOCH;
        let mut in_force = settings(false);
        let mut evaluation = Evaluation::new(&projections, &system, now, &in_force);
        for ((minutes, events), switch) in history.into_iter().zip(switches) {
            let then = now.saturating_add_micros(minutes * MINUTE);
            // Time passes first, through each instant at which it alone changes the answer.
            while let Some(instant) = evaluation.next_time_change(&projections, now)
                && instant < then
            {
                advance_and_compare(&mut evaluation, &projections, instant, &in_force)?;
                now = instant;
            }
            now = then;
            for event in events {
                let entry = Entry::seal(projections.last_digest(), now, Actor::Demo, event);
                evaluation.note(&projections, &entry.event);
                projections.apply(&entry);
            }
            if switch == 0 {
                in_force = settings(in_force == CheckSettings::default());
            }
            advance_and_compare(&mut evaluation, &projections, now, &in_force)?;
        }
    }
}
