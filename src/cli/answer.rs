//! The one path of the online readers and admin commands: connect, make one call through the
//! client, then print its [`Answer`] as text or as one JSON object, and exit with the code the
//! answer says (docs/reference/cli.md#exit-codes).
//!
//! JSON members are the answer's fields in snake_case, instants in RFC 3339; appended or listed
//! entries are their canonical JSON with `hash`, as in an export line.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::online::connect;
use super::{Failure, Outcome, ServerArgs, runtime};
use crate::api::client::{
    ApiClient, GrantedException, ListedAccount, ListedEmployee, ListedReview, RosterImported,
    ServerVerification, StartedReview,
};
use crate::api::{sync_json, sync_now_response};
use crate::entry::Entry;
use crate::hash::Digest;
use crate::ledger::Appended;
use crate::render::{
    Show, entry_line, exception_table, offboarding_table, review_report, review_state, shown_lines,
    sync_summary,
};
use crate::report::OffboardingRow;
use crate::service::{ListedException, ReviewView};
use crate::sync::{SyncOutcome, SyncReport};
use crate::time::Timestamp;

/// What a server answered, as the CLI shows it.
pub trait Answer {
    /// For people: lines ending in a newline.
    fn text(&self) -> String;
    /// For programs: one JSON value.
    fn json(&self) -> Value;
    /// 0, or the exit code (docs/reference/cli.md#exit-codes) the answer calls for (1 a failed
    /// verification, 3 a failed sync).
    fn exit_code(&self) -> ExitCode {
        ExitCode::SUCCESS
    }
}

impl<A: Answer + ?Sized> Answer for Box<A> {
    fn text(&self) -> String {
        self.as_ref().text()
    }
    fn json(&self) -> Value {
        self.as_ref().json()
    }
    fn exit_code(&self) -> ExitCode {
        self.as_ref().exit_code()
    }
}

/// Connects to the server, makes `call`, prints its answer (`json` or text) and returns its exit
/// code. A server that cannot be reached or refuses the call exits 2 with its reason.
pub fn ask<A: Answer, E: std::fmt::Display>(
    server: &ServerArgs,
    json: bool,
    call: impl AsyncFnOnce(&mut ApiClient) -> Result<A, E>,
) -> Outcome {
    let answer = runtime()?.block_on(async {
        let mut client = connect(server).await?;
        call(&mut client).await.map_err(Failure::input)
    })?;
    Ok(print_answer(&answer, json))
}

/// Prints `answer` (`json` or text, outside text escaped for the terminal) and returns its exit
/// code.
pub(super) fn print_answer(answer: &impl Answer, json: bool) -> ExitCode {
    if json {
        println!("{}", answer.json());
    } else {
        print!("{}", shown_lines(&answer.text()));
    }
    answer.exit_code()
}

/// An entry as JSON: its export line's object.
fn entry_json(entry: &Entry) -> Value {
    serde_json::from_str(&entry.export_line()).expect("an export line is one JSON object")
}

fn entries_json(entries: &[Entry]) -> Value {
    Value::Array(entries.iter().map(entry_json).collect())
}

fn entry_lines(entries: &[Entry]) -> String {
    entries.iter().fold(String::new(), |mut text, entry| {
        let _ = writeln!(text, "{}", entry_line(entry));
        text
    })
}

fn serialized(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("answers serialise to JSON")
}

/// The entries an admin command appended.
impl Answer for Vec<Entry> {
    fn text(&self) -> String {
        if self.is_empty() {
            "nothing appended: the ledger already says so\n".to_owned()
        } else {
            entry_lines(self)
        }
    }
    fn json(&self) -> Value {
        json!({ "events": entries_json(self) })
    }
}

impl Answer for RosterImported {
    fn text(&self) -> String {
        let mut text = format!("roster: {}\n", self.summary);
        text.push_str(&entry_lines(&self.entries));
        if let Some((first, last)) = self.seqs {
            let shown = self.entries.len() as u64;
            if last - first + 1 > shown {
                let _ = writeln!(
                    text,
                    "… and {} more entries, up to seq {last} (`tailledger export` has them all)",
                    last - first + 1 - shown
                );
            }
        }
        text
    }
    fn json(&self) -> Value {
        let (first_seq, last_seq) = self.seqs.unwrap_or_default();
        json!({
            "summary": serialized(&self.summary),
            "first_seq": first_seq,
            "last_seq": last_seq,
            "events": entries_json(&self.entries),
        })
    }
}

/// `admin sync-now`: the same words and JSON as `tailledger sync`, with the batch it appended.
/// A sync cycle: the roster import's entries, then the sync's.
impl Answer for (Appended, SyncReport) {
    fn text(&self) -> String {
        let (roster, sync) = self;
        let mut text = String::new();
        if !roster.entries.is_empty() {
            text.push_str("roster:\n");
            text.push_str(&entry_lines(&roster.entries));
        }
        let _ = writeln!(text, "{}", sync_summary(sync));
        text.push_str(&entry_lines(&sync.appended.entries));
        text
    }
    fn json(&self) -> Value {
        let (roster, report) = self;
        let mut sync = sync_json(&sync_now_response(report));
        sync["events"] = entries_json(&report.appended.entries);
        sync["roster_events"] = entries_json(&roster.entries);
        sync
    }
    fn exit_code(&self) -> ExitCode {
        match self.1.outcome {
            SyncOutcome::Completed { .. } => ExitCode::SUCCESS,
            SyncOutcome::Failed { .. } => ExitCode::from(3),
        }
    }
}

/// Columns padded to their widest cell, the header first.
fn table<const N: usize>(header: [&str; N], rows: impl IntoIterator<Item = [String; N]>) -> String {
    // Cells are upstream text: each shown on its one line, and measured as shown.
    let rows: Vec<[String; N]> = std::iter::once(header.map(str::to_owned))
        .chain(
            rows.into_iter()
                .map(|row| row.map(|cell| cell.shown().to_string())),
        )
        .collect();
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(text, "{}", line.join("  ").trim_end());
    }
    text
}

fn or_dash(text: Option<String>) -> String {
    text.unwrap_or_else(|| "-".to_owned())
}

impl Answer for Vec<ListedAccount> {
    fn text(&self) -> String {
        table(
            [
                "ACCOUNT", "LOGIN", "ROLE", "STATUS", "ACCESS", "LINK", "CLASS", "FINDINGS",
            ],
            self.iter().map(|account| {
                [
                    account.account.id.clone(),
                    account.account.login_name.clone(),
                    account.account.role.clone(),
                    account.account.status.clone(),
                    if account.holds_access { "yes" } else { "no" }.to_owned(),
                    or_dash(
                        account
                            .link
                            .as_ref()
                            .map(|link| format!("{} ({})", link.employee_id, link.kind.as_str())),
                    ),
                    or_dash(account.classification.as_ref().map(|state| {
                        serialized(&state.classification)
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })),
                    if account.findings.is_empty() {
                        "-".to_owned()
                    } else {
                        account
                            .findings
                            .iter()
                            .map(|reason| reason.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                ]
            }),
        )
    }
    fn json(&self) -> Value {
        json!({ "accounts": serialized(self) })
    }
}

impl Answer for Vec<ListedEmployee> {
    fn text(&self) -> String {
        table(
            ["EMPLOYEE", "EMAIL", "NAME", "ORG ROLE", "STATUS", "LEAVES"],
            self.iter().map(|employee| {
                [
                    employee.record.employee_id.clone(),
                    employee.record.email.clone(),
                    or_dash(employee.record.name.clone()),
                    employee.record.org_role.clone(),
                    employee.status.as_str().to_owned(),
                    or_dash(employee.offboarding_effective_at.map(|at| at.to_string())),
                ]
            }),
        )
    }
    fn json(&self) -> Value {
        json!({ "employees": serialized(self) })
    }
}

impl Answer for GrantedException {
    fn text(&self) -> String {
        format!(
            "exception {} granted\n{}",
            self.exception_id,
            entry_lines(&self.entries)
        )
    }
    fn json(&self) -> Value {
        json!({ "exception_id": self.exception_id, "events": entries_json(&self.entries) })
    }
}

impl Answer for StartedReview {
    fn text(&self) -> String {
        format!(
            "review {} started\n{}",
            self.review_id,
            entry_lines(&self.entries)
        )
    }
    fn json(&self) -> Value {
        json!({ "review_id": self.review_id, "events": entries_json(&self.entries) })
    }
}

impl Answer for ReviewView {
    fn text(&self) -> String {
        review_report(self)
    }
    fn json(&self) -> Value {
        serialized(self)
    }
}

impl Answer for Vec<ListedReview> {
    fn text(&self) -> String {
        if self.is_empty() {
            return "no access reviews\n".to_owned();
        }
        table(
            ["REVIEW", "SCOPE", "STATE", "REVIEWERS", "DECIDED"],
            self.iter().map(|listed| {
                let review = &listed.review;
                [
                    review.review_id.clone(),
                    review.scope.to_string(),
                    review_state(review),
                    review.reviewers.join(", "),
                    format!("{} of {}", listed.decided_count, listed.population_count),
                ]
            }),
        )
    }
    fn json(&self) -> Value {
        json!({ "reviews": serialized(self) })
    }
}

impl Answer for Vec<ListedException> {
    fn text(&self) -> String {
        format!("exceptions:\n{}", exception_table(self))
    }
    fn json(&self) -> Value {
        json!({ "exceptions": serialized(self) })
    }
}

impl Answer for Vec<OffboardingRow> {
    fn text(&self) -> String {
        format!("offboarding report:\n{}", offboarding_table(self))
    }
    fn json(&self) -> Value {
        json!({ "rows": serialized(self) })
    }
}

/// The head digest and when it was recorded.
impl Answer for Option<(Digest, Timestamp)> {
    fn text(&self) -> String {
        match self {
            Some((digest, recorded_at)) => format!("{digest} (recorded at {recorded_at})\n"),
            None => "the ledger is empty\n".to_owned(),
        }
    }
    fn json(&self) -> Value {
        match self {
            Some((digest, recorded_at)) => json!({
                "seq": digest.seq,
                "hash": digest.hash.to_string(),
                "recorded_at": recorded_at.to_string(),
                "digest": digest.to_string(),
            }),
            None => json!({ "seq": 0 }),
        }
    }
}

impl Answer for ServerVerification {
    fn text(&self) -> String {
        match &self.broken {
            None => format!(
                "ok: the server's ledger verifies: {} events\n",
                self.events_checked
            ),
            Some((seq, detail)) => format!(
                "FAILED: the server's ledger breaks at seq {seq}: {detail} ({} events before it verified)\n",
                self.events_checked
            ),
        }
    }
    fn json(&self) -> Value {
        json!({
            "ok": self.broken.is_none(),
            "events_checked": self.events_checked,
            "first_bad_seq": self.broken.as_ref().map_or(0, |(seq, _)| *seq),
            "detail": self.broken.as_ref().map(|(_, detail)| detail.clone()).unwrap_or_default(),
        })
    }
    fn exit_code(&self) -> ExitCode {
        if self.broken.is_none() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}
