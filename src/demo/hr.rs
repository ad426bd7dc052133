//! `demo --hr truto`: the story's HR changes are written into a simulated Truto HRIS on a
//! loopback port, and the ledger reads its roster from there through the real Truto client,
//! recorded as `roster:truto`, instead of being handed CSV text.

use std::sync::Arc;
use std::time::Duration;

use crate::roster::{Departure, RosterErrors, parse_roster};
use crate::simulator::{SimEmployee, SimulatedHris, SimulatorHandle};
use crate::tailscale::{ClientConfigError, RetryPolicy, Secret};
use crate::time::ManualClock;
use crate::truto::{TrutoConfig, TrutoSource};

/// Where the demo's roster comes from (`demo --hr`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, clap::ValueEnum)]
pub enum HrSource {
    /// CSV text imported as a file would be (the default).
    #[default]
    Csv,
    /// The simulated Truto unified HRIS API.
    Truto,
}

/// The integrated account and token of the simulated HR system; they open nothing real.
const ACCOUNT: &str = "demo-integrated-account";
const TOKEN: &str = "truto-demo-token";

/// The simulated HR system of the story, served on loopback.
pub(super) struct DemoHris {
    hris: SimulatedHris,
    pub(super) handle: SimulatorHandle,
}

impl DemoHris {
    /// HR's system, dating its answers by the story's `clock`.
    pub(super) async fn start(clock: Arc<ManualClock>) -> std::io::Result<Self> {
        let hris = SimulatedHris::new(ACCOUNT, TOKEN);
        hris.use_clock(clock);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let handle = hris.start(listener)?;
        Ok(DemoHris { hris, handle })
    }

    /// The Truto client the service reads the roster with, on the story's `clock`.
    pub(super) fn source(&self, clock: Arc<ManualClock>) -> Result<TrutoSource, ClientConfigError> {
        let mut config = TrutoConfig::new(ACCOUNT.to_owned(), Secret::new(TOKEN));
        config.api_base_url = self.handle.base_url().to_owned();
        config.retry = RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            budget: Duration::from_millis(300),
        };
        let mut source = TrutoSource::new(config)?;
        source.use_clock(clock);
        Ok(source)
    }

    /// Makes HR's records say what the roster rows of `csv` say: the story tells each HR change
    /// once, and here HR types it into its own system. End dates are last working days, which
    /// Truto writes at midnight UTC (the demo's timezone).
    pub(super) fn record(&self, csv: &str) -> Result<(), RosterErrors> {
        for row in parse_roster(csv.as_bytes(), chrono_tz::UTC)?.rows {
            let end_date = match row.offboarding {
                Some(Departure::At(end)) => {
                    let last_day = end.saturating_add_micros(-super::DAY_MICROS);
                    Some(format!(
                        "{}T00:00:00.000Z",
                        last_day.to_datetime().date_naive()
                    ))
                }
                Some(Departure::WhenRecorded) | None => None,
            };
            self.hris.upsert_employee(SimEmployee {
                id: format!("hris-{}", row.employee_id),
                employee_number: Some(row.employee_id),
                name: row.name.unwrap_or_default(),
                work_email: row.email,
                job_title: row.org_role.clone(),
                department: row.org_role,
                end_date,
            });
        }
        Ok(())
    }
}
