//! The demo's audit-window chapters (docs/reference/time-and-durability.md#settings-as-of,
//! docs/reference/checks.md#exceptions): a setting changed midway, with the past still answered
//! under the old one, and an exception granted with an expiry that lapses.

use std::io::Write;
use std::time::Duration;

use super::{DemoError, Story, print_entries};
use crate::as_of::AsOf;
use crate::commands::ExceptionRequest;
use crate::event::{Actor, EmailAlias, SettingsRecord, SystemId};
use crate::render::check_table;
use crate::simulator::SimUser;
use crate::time::{Clock, Timestamp};

/// The settings the demo runs with; `aliases` are its `identity.email_aliases`.
fn settings(aliases: Vec<EmailAlias>) -> SettingsRecord {
    SettingsRecord {
        email_aliases: aliases,
        include_shared_users: true,
        max_removal_fraction_millionths: 500_000,
        removal_guard_hold_seconds: 86_400,
        suspended_is_removed: true,
        sync_interval_seconds: 15 * 60,
        timezone: "UTC".to_owned(),
    }
}

impl<W: Write> Story<'_, W> {
    /// Records `settings` as the configuration would at start, and prints the entry.
    fn record_settings(&mut self, settings: &SettingsRecord) -> Result<(), DemoError> {
        let entries = self
            .service
            .record_configured_settings(&SystemId::tailscale(), settings)?;
        print_entries(self.out, &self.ledger, &entries)
    }

    /// Prints the check table as of a past instant.
    async fn checks_as_of(&mut self, at: Timestamp) -> Result<(), DemoError> {
        let status = self
            .service
            .status(SystemId::tailscale(), Some(AsOf::Instant(at)))
            .await?;
        writeln!(
            self.out,
            "checks as of {at}:\n{}",
            check_table(&status.checks)
        )?;
        Ok(())
    }
}

/// The chapters: Lena's login domain is not her HR domain, an exception covers her account for
/// an hour and lapses, then an alias in the settings links her; asked about the past, the
/// ledger still answers with the settings and the exception in force then.
pub(super) async fn tell<W: Write>(story: &mut Story<'_, W>) -> Result<(), DemoError> {
    let tailscale = SystemId::tailscale();
    story.chapter("The service records the settings it runs with (SettingsChanged)")?;
    story.record_settings(&settings(Vec::new()))?;

    story.chapter(
        "Lena joins: HR lists lena.vogt@acme-corp.example, her Tailscale login is lena.vogt@acme-corp.dev",
    )?;
    story
        .import_roster("email,name,org_role\nlena.vogt@acme-corp.example,Lena Vogt,Engineer\n")
        .await?;
    story.tailnet.upsert_user(SimUser::member(
        "uL4eN9aVg511CNTRL",
        "lena.vogt@acme-corp.dev",
        "Lena Vogt",
    ));
    story.advance(Duration::from_secs(15 * 60)).await?;
    story.sync().await?;
    story.checks().await?;

    let granted_at = story.clock.now();
    let expires_at = granted_at.saturating_add_seconds(3600);
    story.chapter(&format!(
        "An admin accepts the finding until {expires_at} while the alias is set up (an exception)"
    ))?;
    let entries = story
        .service
        .grant_exception(
            Actor::Api("security-oncall".to_owned()),
            ExceptionRequest {
                system: tailscale.clone(),
                check_id: "user-identified".to_owned(),
                account_id: "uL4eN9aVg511CNTRL".to_owned(),
                employee_id: String::new(),
                reason: "Lena's login domain is being aliased".to_owned(),
                evidence_ref: "SEC-2041".to_owned(),
                expires_at: Some(expires_at),
            },
        )
        .await?;
    print_entries(story.out, &story.ledger, &entries)?;
    story.checks().await?;

    story.chapter("An hour passes: the exception lapses at its expiry and the finding returns")?;
    story.advance(Duration::from_secs(3600)).await?;
    story.sync().await?;
    story.checks().await?;

    story.chapter(
        "The configuration gains the alias acme-corp.dev -> acme-corp.example (SettingsChanged); Lena is linked",
    )?;
    story.advance(Duration::from_secs(15 * 60)).await?;
    story.record_settings(&settings(vec![EmailAlias {
        from: "acme-corp.dev".to_owned(),
        to: "acme-corp.example".to_owned(),
    }]))?;
    story.sync().await?;
    story.checks().await?;

    story.chapter(
        "Asked about the past, the ledger answers with what held then: the exception, then the old setting",
    )?;
    story
        .checks_as_of(granted_at.saturating_add_seconds(30 * 60))
        .await?;
    story.checks_as_of(expires_at).await
}
