//! The one integration test binary of tailledger; each module is one area, sharing `helpers`.

mod crash;
mod golden;
mod helpers;
mod readme;
mod roster_parse;
mod store_model;
mod sync_live;
mod sync_scenarios;
mod tailscale_client;
mod tamper;
