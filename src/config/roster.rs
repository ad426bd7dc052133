//! `[roster]` (docs/reference/config.md#roster): where the roster comes from (a CSV file or
//! Truto), how an export names its columns, status words and dates, and the timezone of its dates.
//! Every setting is checked here, at start, and a refusal names the file, the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::roster::{OrgRoleFrom, RosterFormat, parse_timezone};
use crate::tailscale::Secret;
use crate::truto::{DEFAULT_API_BASE_URL, TrutoConfig};

/// Where the roster is read from before every sync.
#[derive(Clone, Debug)]
pub enum RosterInput {
    /// A CSV file, re-read before every sync.
    Csv(PathBuf),
    /// Truto's unified HRIS API.
    Truto(TrutoConfig),
}

/// Where the roster is, how it is written, and how to read its dates.
#[derive(Clone, Debug)]
pub struct RosterSettings {
    pub input: RosterInput,
    /// How a CSV roster names its columns, status words and dates (also for `ImportRoster`).
    pub format: RosterFormat,
    pub timezone: chrono_tz::Tz,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoster {
    source: Option<Spanned<String>>,
    csv_path: Option<Spanned<PathBuf>>,
    #[serde(default = "utc")]
    timezone: Spanned<String>,
    date_format: Option<Spanned<String>>,
    columns: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    status_values: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    truto: Option<Spanned<RawTruto>>,
}

fn utc() -> Spanned<String> {
    Spanned::new(0..0, "UTC".to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTruto {
    #[serde(default = "default_truto_url")]
    api_base_url: Spanned<String>,
    integrated_account_id: Spanned<String>,
    token_env: Spanned<String>,
    #[serde(default = "job_title")]
    org_role_from: Spanned<String>,
    /// How long one read of the roster may take, every page and retry included.
    budget: Option<Spanned<String>>,
}

fn default_truto_url() -> Spanned<String> {
    Spanned::new(0..0, DEFAULT_API_BASE_URL.to_owned())
}

fn job_title() -> Spanned<String> {
    Spanned::new(0..0, "job_title".to_owned())
}

impl Source<'_> {
    /// The `[roster]` table, checked; `table` is its place in the file.
    pub(super) fn roster(
        &self,
        raw: &Spanned<RawRoster>,
        base: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<RosterSettings, ConfigError> {
        let roster = raw.get_ref();
        let timezone = parse_timezone(roster.timezone.get_ref())
            .map_err(|message| self.error(&roster.timezone, "roster.timezone", message))?;
        let source = roster
            .source
            .as_ref()
            .map_or("csv", |source| source.get_ref());
        let input = match (source, &roster.csv_path, &roster.truto) {
            ("csv", Some(path), None) => RosterInput::Csv(base.join(path.get_ref())),
            ("csv", None, _) => {
                return Err(self.error(
                    raw,
                    "roster.csv_path",
                    "is missing: name the CSV file the roster is read from, or set `source = \"truto\"` with a [roster.truto] table",
                ));
            }
            ("csv", Some(_), Some(truto)) => {
                return Err(self.error(
                    truto,
                    "roster.truto",
                    "is set but `source` is not \"truto\": set `source = \"truto\"` to read the roster from Truto, or remove the table",
                ));
            }
            ("truto", None, Some(truto)) => RosterInput::Truto(self.truto(truto, env)?),
            ("truto", Some(path), _) => {
                return Err(self.error(
                    path,
                    "roster.csv_path",
                    "is set, but the roster is read from Truto (`source = \"truto\"`): remove one of them",
                ));
            }
            ("truto", None, None) => {
                return Err(self.error(
                    raw,
                    "roster.truto",
                    "is missing: `source = \"truto\"` needs a [roster.truto] table with `integrated_account_id` and `token_env`",
                ));
            }
            (other, _, _) => {
                let at = roster
                    .source
                    .as_ref()
                    .expect("a source other than the default was written");
                return Err(self.error(
                    at,
                    "roster.source",
                    format!("`{other}` is not a roster source: expected \"csv\" or \"truto\""),
                ));
            }
        };
        let format = self.roster_format(roster)?;
        if matches!(input, RosterInput::Truto(_)) && format != RosterFormat::default() {
            let at = [&roster.columns, &roster.status_values]
                .into_iter()
                .flatten()
                .map(Spanned::span)
                .chain(roster.date_format.iter().map(Spanned::span))
                .next()
                .unwrap_or(0..0);
            return Err(self.error(
                &Spanned::new(at, ()),
                "roster",
                "`columns`, `status_values` and `date_format` describe a CSV export; Truto's records have a fixed mapping (docs/reference/sync.md#truto), so remove them",
            ));
        }
        Ok(RosterSettings {
            input,
            format,
            timezone,
        })
    }

    /// `[roster.columns]`, `[roster.status_values]` and `date_format`, each entry checked.
    fn roster_format(&self, roster: &RawRoster) -> Result<RosterFormat, ConfigError> {
        let mut format = RosterFormat::default();
        for (column, header) in roster.columns.iter().flat_map(|columns| columns.get_ref()) {
            format
                .map_column(column, header.get_ref())
                .map_err(|message| {
                    self.error(header, &format!("roster.columns.{column}"), message)
                })?;
        }
        for (word, meaning) in roster
            .status_values
            .iter()
            .flat_map(|values| values.get_ref())
        {
            format
                .map_status(word, meaning.get_ref())
                .map_err(|message| self.error(meaning, "roster.status_values", message))?;
        }
        if let Some(date_format) = &roster.date_format {
            format
                .set_date_format(date_format.get_ref())
                .map_err(|message| self.error(date_format, "roster.date_format", message))?;
        }
        Ok(format)
    }

    /// `[roster.truto]`, with the token read from the environment variable it names.
    fn truto(
        &self,
        raw: &Spanned<RawTruto>,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<TrutoConfig, ConfigError> {
        let truto = raw.get_ref();
        let account = truto.integrated_account_id.get_ref().trim();
        if account.is_empty() {
            return Err(self.error(
                &truto.integrated_account_id,
                "roster.truto.integrated_account_id",
                "must not be empty: Truto needs the id of the integrated account of your HR system",
            ));
        }
        let org_role_from =
            OrgRoleFrom::parse(truto.org_role_from.get_ref()).map_err(|message| {
                self.error(&truto.org_role_from, "roster.truto.org_role_from", message)
            })?;
        let url = truto.api_base_url.get_ref();
        crate::tailscale::parse_base_url(url).map_err(|error| {
            self.error(
                &truto.api_base_url,
                "roster.truto.api_base_url",
                error.to_string(),
            )
        })?;
        let token = self.secret(&truto.token_env, "roster.truto.token_env", env)?;
        let mut config = TrutoConfig::new(account.to_owned(), Secret::new(token));
        config.api_base_url = url.clone();
        config.org_role_from = org_role_from;
        if let Some(budget) = &truto.budget {
            config.budget = self.duration(budget, "roster.truto.budget")?;
        }
        Ok(config)
    }
}
