//! The offboarding report (docs/reference/checks.md#offboarding-report): the auditor's termination
//! evidence.
//!
//! One row per (offboarded employee, linked account), with the link as it stood
//! (docs/reference/time-and-durability.md#settings-as-of): the link as the ledger knew it when it
//! recorded the offboarding, or when the person left if that is later (HR usually records a
//! departure after it took effect, and the ledger may have learned the link in between); a link
//! that held when the person left keeps its row too. A link removed or changed after that never
//! removes or alters the row; a link made only afterwards (an account attributed to the person
//! later) adds one, as first made, which no later change of that link removes or alters either.
//! The row names the link and since when it held. Then: when the person left
//! (`effective_at`), when HR told the ledger, the last observation at which the account still
//! held access, the first at which it did not, the time from leaving to losing access, and
//! whether that was within the grace period. Removals that happened before HR recorded the
//! departure (or even before the person left) are reported as they are, with a negative elapsed
//! time when access went first. When the system's audit log reported the removal, the row says
//! who made it and when the system says it happened, beside the sync that observed it.

use serde::Serialize;

use std::collections::BTreeMap;
use std::ops::Deref;

use crate::checks::{CheckSettings, holds_access};
use crate::entry::Entry;
use crate::event::{ChangeActor, Event, SystemId};
use crate::identity::{LinkKind, resolve};
use crate::projection::{AccountState, Mark, Projections, SystemState};
use crate::time::Timestamp;

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OffboardingRow {
    pub employee_id: String,
    pub email: String,
    pub effective_at: Timestamp,
    /// When the ledger learned of the offboarding, and the entry.
    pub hr_recorded: Mark,
    pub system: SystemId,
    pub account_id: String,
    /// The account's login name as it stood with the link the row used.
    pub login_name: String,
    /// `auto` or `manual`: the link the row used.
    pub link: &'static str,
    /// The entry since which that link held (see [`StoodLink::since`]).
    pub link_since: Mark,
    /// The last sync at which the account still held access.
    pub last_with_access: Option<Mark>,
    /// The first sync at which it no longer did; `None` while it still holds access.
    pub first_without_access: Option<Mark>,
    /// Seconds from `effective_at` to `first_without_access` (negative if access went first).
    pub elapsed_seconds: Option<i64>,
    pub grace_seconds: u64,
    /// Whether access went within the grace period; `None` while it holds access and the grace
    /// period has not ended yet.
    pub within_grace: Option<bool>,
    /// Who removed the account, by the system's audit log, when it reported the removal.
    pub removed_by: Option<Removal>,
}

/// A removal as the system's audit log reported it (docs/reference/checks.md#offboarding-report):
/// beside the sync that observed it, who made it and the system's own time of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// Who made it; `None` when the entry named no actor.
    pub actor: Option<ChangeActor>,
    /// The raw action, e.g. `DELETE` or `SUSPEND`.
    pub action: String,
    /// The system's time of the change.
    pub at: Timestamp,
    /// The `ChangeAttributed` entry.
    pub seq: u64,
}

/// The audit log's actions that take an account's access away.
const REMOVING_ACTIONS: [&str; 2] = ["DELETE", "SUSPEND"];

/// The latest change the audit log attributed that removed `account` by the time its loss of
/// access was observed. A failed change (one with an `error`) removed nothing. The audit log's
/// target id is matched against the account id and its name against the login name, since
/// which of them Tailscale puts there is not confirmed.
fn removal(state: &SystemState, account: &AccountState, observed: Mark) -> Option<Removal> {
    let login = &account.snapshot.login_name;
    state
        .leftovers
        .attributions
        .get(&account.snapshot.id)
        .into_iter()
        .flatten()
        .chain(
            state
                .leftovers
                .attributions
                .values()
                .flatten()
                .filter(|attribution| attribution.target.name.eq_ignore_ascii_case(login)),
        )
        .filter(|attribution| {
            attribution.target.target_type == "USER"
                && !attribution.failed
                && REMOVING_ACTIONS.contains(&attribution.action.as_str())
                && attribution.event_time <= observed.at
        })
        .max_by_key(|attribution| (attribution.event_time, attribution.mark.seq))
        .map(|attribution| Removal {
            actor: attribution.actor.clone(),
            action: attribution.action.clone(),
            at: attribution.event_time,
            seq: attribution.mark.seq,
        })
}

/// An account's id and its link, as it stood at an instant.
pub type AccountLink = (String, StoodLink);

/// The link a row uses, as it stood at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoodLink {
    pub employee_id: String,
    pub kind: LinkKind,
    /// The account's login name then: what an auto link matched.
    pub login_name: String,
    /// The entry since which the facts the link rests on stood: the manual link's; for an auto
    /// link, the latest of those that set the account's login name, the employee's email and,
    /// when a domain alias made the match, the settings in force.
    pub since: Mark,
}

/// The link of account `account_id` of `system` in `projections`, with the email aliases of
/// `settings`, recorded by the entry `aliases_since`.
pub fn link_of(
    projections: &Projections,
    system: &SystemId,
    account_id: &str,
    settings: &CheckSettings,
    aliases_since: Option<Mark>,
) -> Option<StoodLink> {
    let state = projections.system(system)?;
    let account = state.accounts.get(account_id)?;
    let link = resolve(
        state,
        projections.employees(),
        account,
        &settings.email_aliases,
    )?;
    let login = account.snapshot.login_name.to_lowercase();
    let aliased = link.kind == LinkKind::Auto && settings.email_aliases.hr_email(&login) != login;
    let since = match aliases_since {
        Some(aliases) if aliased && aliases.seq > link.since.seq => aliases,
        _ => link.since,
    };
    Some(StoodLink {
        employee_id: link.employee.record.employee_id.clone(),
        kind: link.kind,
        login_name: account.snapshot.login_name.clone(),
        since,
    })
}

/// The instants whose links the report's rows use, with the employees whose rows read them, for
/// each offboarding effective within `[from, to]` by `now`: the instant it took effect, and the
/// instant the ledger recorded it when that is later (HR usually tells the ledger after the
/// person left, when the ledger may know links it did not know at the effective instant).
/// Walked in order, so an account's link at the later instant comes last and is the one its row
/// uses; a link that held only at the effective instant still keeps its row.
pub fn departures(
    projections: &Projections,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
    now: Timestamp,
) -> BTreeMap<Timestamp, Vec<String>> {
    let mut departures: BTreeMap<Timestamp, Vec<String>> = BTreeMap::new();
    for employee in projections.employees().after(None) {
        if let Some(offboarding) = &employee.offboarding
            && offboarding.effective_at <= now
            && from.is_none_or(|from| offboarding.effective_at >= from)
            && to.is_none_or(|to| offboarding.effective_at <= to)
        {
            let recorded = offboarding.recorded.at.max(offboarding.effective_at);
            for instant in [offboarding.effective_at, recorded] {
                let employees = departures.entry(instant).or_default();
                if employees.last() != Some(&employee.record.employee_id) {
                    employees.push(employee.record.employee_id.clone());
                }
            }
        }
    }
    departures
}

/// Each employee of `departures` with the latest of its instants: from then on the ledger knew
/// of the departure, and a link made later adds a row
/// ([`links_made_later`]).
pub fn known_from(departures: &BTreeMap<Timestamp, Vec<String>>) -> BTreeMap<String, Timestamp> {
    let mut known = BTreeMap::new();
    for (instant, employees) in departures {
        for employee_id in employees {
            known.insert(employee_id.clone(), *instant);
        }
    }
    known
}

/// The links of `system`'s accounts to those who left that the ledger made after it knew of the
/// departure, each as it stood before anything ended it, so that no later change of a link
/// removes or alters the row it added (docs/reference/checks.md#offboarding-report).
///
/// `projections` is the state as of the earliest instant of `known_from` (each employee who left
/// with the instant from which the ledger knew it), `entries` those recorded after it, in seq
/// order, and `settings_at` the settings in force at an instant and the entry that recorded them.
/// Before the entries of each instant are folded in, the links they could end are read, as
/// [`link_of`] resolves them: an account's when an entry lists it (a login name changes) or links
/// or unlinks it, and every account's when an employee's email may change (an employee onboarded
/// or updated) or the system's settings do (email aliases). A link is kept only to an employee
/// the ledger knew had left before that instant. The links still standing at the head are the
/// report's to read from the projections.
pub fn links_made_later<E, R: Deref<Target = Entry>>(
    mut projections: Projections,
    entries: impl IntoIterator<Item = Result<R, E>>,
    system: &SystemId,
    known_from: &BTreeMap<String, Timestamp>,
    settings_at: &dyn Fn(Timestamp) -> (CheckSettings, Option<Mark>),
) -> Result<Vec<AccountLink>, E> {
    let mut links = Vec::new();
    let mut instant: Vec<R> = Vec::new();
    let mut entries = entries.into_iter().peekable();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let at = entry.recorded_at;
        instant.push(entry);
        if let Some(Ok(next)) = entries.peek()
            && next.recorded_at == at
        {
            continue;
        }
        if let Some(touched) = touched_links(&instant, system) {
            let left: Vec<String> = known_from
                .iter()
                .filter(|(_, known)| **known < at)
                .map(|(employee_id, _)| employee_id.clone())
                .collect();
            let (settings, since) = settings_at(at.saturating_add_micros(-1));
            links.extend(match touched {
                Touched::Every => links_to(&projections, system, &left, (&settings, since)),
                Touched::Accounts(accounts) => accounts
                    .into_iter()
                    .filter_map(|account_id| {
                        let link = link_of(&projections, system, &account_id, &settings, since)?;
                        left.contains(&link.employee_id)
                            .then_some((account_id, link))
                    })
                    .collect(),
            });
        }
        for entry in instant.drain(..) {
            projections.apply(&entry);
        }
    }
    Ok(links)
}

/// Which links of `system`'s accounts the entries of one instant could end.
#[derive(Debug, PartialEq, Eq)]
enum Touched {
    /// Any account's: an employee's email may change, or the email aliases.
    Every,
    /// Those of these accounts: listed again (a login name may change), linked or unlinked.
    Accounts(Vec<String>),
}

/// The links `instant`'s entries could end, if any.
fn touched_links<R: Deref<Target = Entry>>(instant: &[R], system: &SystemId) -> Option<Touched> {
    let mut accounts = Vec::new();
    for entry in instant {
        match &entry.event {
            Event::EmployeeOnboarded { .. } | Event::EmployeeUpdated { email: Some(_), .. } => {
                return Some(Touched::Every);
            }
            Event::SettingsChanged {
                system: changed, ..
            } if changed == system => {
                return Some(Touched::Every);
            }
            Event::UserSeen {
                system: seen,
                account,
            } if seen == system => accounts.push(account.id.clone()),
            Event::AccountLinked {
                system: linked,
                account_id,
                ..
            }
            | Event::AccountUnlinked {
                system: linked,
                account_id,
                ..
            } if linked == system => accounts.push(account_id.clone()),
            _ => {}
        }
    }
    (!accounts.is_empty()).then_some(Touched::Accounts(accounts))
}

/// The links of `system`'s accounts to any of `employees` in `projections`: the links as they
/// stood when those employees left, when `projections` are the state as of that instant.
pub fn links_to(
    projections: &Projections,
    system: &SystemId,
    employees: &[String],
    (settings, aliases_since): (&CheckSettings, Option<Mark>),
) -> Vec<AccountLink> {
    let Some(state) = projections.system(system) else {
        return Vec::new();
    };
    state
        .accounts
        .keys()
        .filter_map(|account_id| {
            let link = link_of(projections, system, account_id, settings, aliases_since)?;
            employees
                .contains(&link.employee_id)
                .then(|| (account_id.clone(), link))
        })
        .collect()
}

/// The report for offboardings effective within `[from, to]` (either end open), as of `now`:
/// a row for each link in `stood` (account id and link, as it stood when the employee left, the
/// later of two for one pair winning), then for each link in `later` ([`links_made_later`], the
/// first for one pair winning), then for each account's link in `projections` (now, resolved
/// with `settings` recorded by `aliases_since`), each to an employee none before links it to.
pub fn offboarding_report(
    projections: &Projections,
    system: &SystemId,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
    now: Timestamp,
    (settings, aliases_since): (&CheckSettings, Option<Mark>),
    (stood, later): (&[AccountLink], &[AccountLink]),
) -> Vec<OffboardingRow> {
    let Some(state) = projections.system(system) else {
        return Vec::new();
    };
    let grace_seconds = state.offboarding_grace_seconds();
    let in_window = |instant: Timestamp| {
        from.is_none_or(|from| instant >= from) && to.is_none_or(|to| instant <= to)
    };
    let mut links: BTreeMap<(&str, &str), &StoodLink> = stood
        .iter()
        .map(|(account_id, link)| ((account_id.as_str(), link.employee_id.as_str()), link))
        .collect();
    // A link made after the ledger knew the person left (an account attributed to them
    // afterwards) adds a row, as first made: nothing later removes or alters it.
    for (account_id, link) in later {
        links
            .entry((account_id.as_str(), link.employee_id.as_str()))
            .or_insert(link);
    }
    let now_linked: Vec<(&str, StoodLink)> = state
        .accounts
        .keys()
        .filter_map(|id| {
            let link = link_of(projections, system, id, settings, aliases_since)?;
            Some((id.as_str(), link))
        })
        .collect();
    for (account_id, link) in &now_linked {
        links
            .entry((account_id, link.employee_id.as_str()))
            .or_insert(link);
    }
    let mut rows = Vec::new();
    for ((account_id, _), link) in links {
        let Some(account) = state.accounts.get(account_id) else {
            continue;
        };
        // The person as the ledger knows them now.
        let Some(employee) = projections.employees().get(&link.employee_id) else {
            continue;
        };
        let Some(offboarding) = &employee.offboarding else {
            continue;
        };
        if offboarding.effective_at > now || !in_window(offboarding.effective_at) {
            continue;
        }
        let (last_with_access, first_without_access) =
            last_loss_of_access(state, account, settings);
        let deadline = offboarding
            .effective_at
            .saturating_add_seconds(i64::try_from(grace_seconds).unwrap_or(i64::MAX));
        let within_grace = match first_without_access {
            Some(lost) => Some(lost.at <= deadline),
            None if now > deadline => Some(false),
            None => None,
        };
        rows.push(OffboardingRow {
            employee_id: employee.record.employee_id.clone(),
            email: employee.record.email.clone(),
            effective_at: offboarding.effective_at,
            hr_recorded: offboarding.recorded,
            system: system.clone(),
            account_id: account.snapshot.id.clone(),
            login_name: link.login_name.clone(),
            link: link.kind.as_str(),
            link_since: link.since,
            last_with_access,
            first_without_access,
            elapsed_seconds: first_without_access
                .map(|lost| lost.at.seconds_since(offboarding.effective_at)),
            grace_seconds,
            within_grace,
            removed_by: first_without_access.and_then(|lost| removal(state, account, lost)),
        });
    }
    rows.sort_by(|a, b| {
        (a.effective_at, &a.employee_id, &a.account_id).cmp(&(
            b.effective_at,
            &b.employee_id,
            &b.account_id,
        ))
    });
    rows
}

/// The last observation with access and the first without it, around the account's latest loss
/// of access. While the account holds access, the first is the latest sync and the second none.
fn last_loss_of_access(
    state: &SystemState,
    account: &AccountState,
    settings: &CheckSettings,
) -> (Option<Mark>, Option<Mark>) {
    let holds = |present: bool, status: &str| holds_access(present, status, settings);
    if holds(account.present, &account.snapshot.status) {
        return (state.last_completed_sync, None);
    }
    let changes = &account.access_changes;
    let loss = changes.iter().enumerate().rev().find(|(index, change)| {
        !holds(change.present, &change.status)
            && (*index == 0 || holds(changes[index - 1].present, &changes[index - 1].status))
    });
    match loss {
        // The account never held access: there is no observation with it.
        Some((0, change)) => (None, Some(change.mark)),
        Some((_, change)) => (change.previous_sync, Some(change.mark)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AccountSnapshot, Actor, EmployeeRecord, FieldChange};
    use crate::identity::EmailAliases;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH.saturating_add_seconds(1_800_000_000 + minutes * 60)
    }

    fn system() -> SystemId {
        SystemId::tailscale()
    }

    /// The entries of these batches, each recorded at its instant, in one chain.
    fn ledger(batches: Vec<(Timestamp, Vec<Event>)>) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for (recorded_at, events) in batches {
            for event in events {
                let prev = entries.last().map(Entry::digest);
                entries.push(Entry::seal(prev, recorded_at, Actor::Demo, event));
            }
        }
        entries
    }

    fn projections(entries: &[Entry]) -> Projections {
        let mut projections = Projections::default();
        for entry in entries {
            projections.apply(entry);
        }
        projections
    }

    fn onboarded(employee_id: &str, email: &str) -> Event {
        Event::EmployeeOnboarded {
            employee: EmployeeRecord {
                employee_id: employee_id.to_owned(),
                email: email.to_owned(),
                name: None,
                org_role: "IT".to_owned(),
                start_date: None,
            },
        }
    }

    fn seen(account_id: &str, login_name: &str) -> Event {
        Event::UserSeen {
            system: system(),
            account: AccountSnapshot {
                id: account_id.to_owned(),
                login_name: login_name.to_owned(),
                display_name: String::new(),
                role: "member".to_owned(),
                status: "active".to_owned(),
                account_type: "member".to_owned(),
                created: None,
            },
        }
    }

    fn linked(account_id: &str, employee_id: &str) -> Event {
        Event::AccountLinked {
            system: system(),
            account_id: account_id.to_owned(),
            employee_id: employee_id.to_owned(),
            reason: "by hand".to_owned(),
        }
    }

    fn offboarded(employee_id: &str, effective_at: Timestamp) -> Event {
        Event::EmployeeOffboarded {
            employee_id: employee_id.to_owned(),
            effective_at,
            reason: None,
        }
    }

    fn email_changed(employee_id: &str, from: &str, to: &str) -> Event {
        Event::EmployeeUpdated {
            employee_id: employee_id.to_owned(),
            name: None,
            email: Some(FieldChange {
                from: from.to_owned(),
                to: to.to_owned(),
            }),
            org_role: None,
        }
    }

    fn no_settings(_: Timestamp) -> (CheckSettings, Option<Mark>) {
        (CheckSettings::default(), None)
    }

    /// (account, employee, kind, login name, since seq) of each link.
    fn shown(links: &[AccountLink]) -> Vec<(&str, &str, LinkKind, &str, u64)> {
        links
            .iter()
            .map(|(account_id, link)| {
                (
                    account_id.as_str(),
                    link.employee_id.as_str(),
                    link.kind,
                    link.login_name.as_str(),
                    link.since.seq,
                )
            })
            .collect()
    }

    /// Marco (E-2) left at minute 5; the ledger knew it from minute 10 and Ana's (E-4) departure
    /// only from minute 35. `u7` is linked to Marco by hand at 20 and `u8` appears with his
    /// email then; at 30 `u7` is relinked to Ana and `u8` renamed; at 40 `u7` is linked to Marco
    /// again.
    fn marco_and_ana() -> Vec<Entry> {
        ledger(vec![
            (
                at(0),
                vec![
                    onboarded("E-2", "marco@acme.example"),
                    onboarded("E-4", "ana@acme.example"),
                    seen("u7", "ops@acme.example"),
                ],
            ),
            (at(10), vec![offboarded("E-2", at(5))]),
            (
                at(20),
                vec![linked("u7", "E-2"), seen("u8", "marco@acme.example")],
            ),
            (
                at(30),
                vec![linked("u7", "E-4"), seen("u8", "m.old@acme.example")],
            ),
            (at(35), vec![offboarded("E-4", at(35))]),
            (at(40), vec![linked("u7", "E-2")]),
        ])
    }

    #[test]
    fn links_made_after_the_ledger_knew_of_a_departure_are_read_before_what_ended_them() {
        let entries = marco_and_ana();
        let known = BTreeMap::from([("E-2".to_owned(), at(10)), ("E-4".to_owned(), at(35))]);
        let later = links_made_later(
            projections(&entries[..4]),
            entries[4..].iter().map(Ok::<_, ()>),
            &system(),
            &known,
            &no_settings,
        )
        .unwrap();
        // Before minute 30: u7 manual since its link (seq 5), u8 auto since it was seen (seq 6).
        // Before minute 40: u7 linked to Ana, whose departure the ledger knew from 35.
        assert_eq!(
            shown(&later),
            vec![
                ("u7", "E-2", LinkKind::Manual, "ops@acme.example", 5),
                ("u8", "E-2", LinkKind::Auto, "marco@acme.example", 6),
                ("u7", "E-4", LinkKind::Manual, "ops@acme.example", 7),
            ]
        );
        // Known only from minute 40, Ana's departure is not yet known at the relink then.
        let before_ana = BTreeMap::from([("E-2".to_owned(), at(10)), ("E-4".to_owned(), at(40))]);
        let later = links_made_later(
            projections(&entries[..4]),
            entries[4..].iter().map(Ok::<_, ()>),
            &system(),
            &before_ana,
            &no_settings,
        )
        .unwrap();
        assert_eq!(later.len(), 2, "{:?}", shown(&later));
    }

    #[test]
    fn the_report_keeps_a_later_link_as_first_made() {
        let entries = marco_and_ana();
        let all = projections(&entries);
        let departures = departures(&all, (None, None), at(50));
        assert_eq!(
            departures,
            BTreeMap::from([
                (at(5), vec!["E-2".to_owned()]),
                (at(10), vec!["E-2".to_owned()]),
                (at(35), vec!["E-4".to_owned()]),
            ])
        );
        let known = known_from(&departures);
        assert_eq!(
            known,
            BTreeMap::from([("E-2".to_owned(), at(10)), ("E-4".to_owned(), at(35))])
        );
        let later = links_made_later(
            projections(&entries[..4]),
            entries[4..].iter().map(Ok::<_, ()>),
            &system(),
            &known,
            &no_settings,
        )
        .unwrap();
        let settings = CheckSettings::default();
        let rows = offboarding_report(
            &all,
            &system(),
            (None, None),
            at(50),
            (&settings, None),
            (&[], &later),
        );
        let rows: Vec<(&str, &str, &str, &str, u64)> = rows
            .iter()
            .map(|row| {
                (
                    row.employee_id.as_str(),
                    row.account_id.as_str(),
                    row.link,
                    row.login_name.as_str(),
                    row.link_since.seq,
                )
            })
            .collect();
        // u7's link to Marco made again at 40 (seq 10) does not alter the row of the first (seq 5).
        assert_eq!(
            rows,
            vec![
                ("E-2", "u7", "manual", "ops@acme.example", 5),
                ("E-2", "u8", "auto", "marco@acme.example", 6),
                ("E-4", "u7", "manual", "ops@acme.example", 7),
            ]
        );
        // Without the later links, only u7's link of now stands.
        let rows = offboarding_report(
            &all,
            &system(),
            (None, None),
            at(50),
            (&settings, None),
            (&[], &[]),
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].account_id.as_str(), rows[0].link_since.seq),
            ("u7", 10)
        );
    }

    #[test]
    fn an_email_or_alias_change_reads_every_link_before_it() {
        // The alias in force from minute 20; then from minute 30, the instant of the email change,
        // when the link it makes never stood before anything ended it.
        let (first, second) = (email_or_alias_change(at(20)), email_or_alias_change(at(30)));
        // Before the email change at 30, with the alias in force since 20: u9 is Marco's, since
        // the alias; nothing links to him before E-5 is onboarded.
        assert_eq!(
            shown(&first),
            vec![("u9", "E-2", LinkKind::Auto, "marco@acme.io", 99)]
        );
        assert_eq!(shown(&second), vec![]);
    }

    /// The later links of Marco, who left at 5 (known from 10), whose account u9 is
    /// `marco@acme.io`, with the alias acme.io → acme.example in force from `aliases_from`,
    /// Marco's email changed at 30, and someone else onboarded with his old one at 40.
    fn email_or_alias_change(aliases_from: Timestamp) -> Vec<AccountLink> {
        let entries = ledger(vec![
            (
                at(0),
                vec![
                    onboarded("E-2", "marco@acme.example"),
                    seen("u9", "marco@acme.io"),
                ],
            ),
            (at(10), vec![offboarded("E-2", at(5))]),
            (
                at(30),
                vec![email_changed(
                    "E-2",
                    "marco@acme.example",
                    "marco.rossi@acme.example",
                )],
            ),
            (at(40), vec![onboarded("E-5", "marco@acme.example")]),
        ]);
        let known = BTreeMap::from([("E-2".to_owned(), at(10))]);
        let aliased = |instant: Timestamp| {
            let mut settings = CheckSettings::default();
            let mut since = None;
            if instant >= aliases_from {
                settings.email_aliases =
                    EmailAliases::new([("acme.io".to_owned(), "acme.example".to_owned())]);
                since = Some(Mark {
                    seq: 99,
                    at: aliases_from,
                });
            }
            (settings, since)
        };
        links_made_later(
            projections(&entries[..3]),
            entries[3..].iter().map(Ok::<_, ()>),
            &system(),
            &known,
            &aliased,
        )
        .unwrap()
    }

    #[test]
    fn only_link_changes_of_the_system_are_touched() {
        let other = SystemId("other".to_owned());
        let entry = |event: Event| Entry::seal(None, at(0), Actor::Demo, event);
        let touched = |events: Vec<Event>| {
            let entries: Vec<Entry> = events.into_iter().map(entry).collect();
            touched_links(&entries.iter().collect::<Vec<_>>(), &system())
        };
        assert_eq!(touched(vec![offboarded("E-2", at(0))]), None);
        assert_eq!(
            touched(vec![
                Event::UserSeen {
                    system: other.clone(),
                    account: match seen("u1", "a@b") {
                        Event::UserSeen { account, .. } => account,
                        _ => unreachable!(),
                    },
                },
                Event::AccountLinked {
                    system: other,
                    account_id: "u2".to_owned(),
                    employee_id: "E-1".to_owned(),
                    reason: String::new(),
                },
            ]),
            None
        );
        assert_eq!(
            touched(vec![
                seen("u1", "a@b"),
                Event::AccountUnlinked {
                    system: system(),
                    account_id: "u2".to_owned(),
                    employee_id: "E-1".to_owned(),
                    reason: String::new(),
                },
                linked("u3", "E-1"),
            ]),
            Some(Touched::Accounts(vec![
                "u1".to_owned(),
                "u2".to_owned(),
                "u3".to_owned()
            ]))
        );
        let renamed = Event::EmployeeUpdated {
            employee_id: "E-1".to_owned(),
            name: Some(FieldChange {
                from: None,
                to: Some("Dana".to_owned()),
            }),
            email: None,
            org_role: None,
        };
        assert_eq!(touched(vec![renamed]), None);
        assert_eq!(
            touched(vec![seen("u1", "a@b"), email_changed("E-1", "a", "b")]),
            Some(Touched::Every)
        );
        assert_eq!(touched(vec![onboarded("E-9", "x@y")]), Some(Touched::Every));
    }
}
