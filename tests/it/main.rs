//! The one integration test binary of tailledger; each module is one area, sharing `helpers`.

mod api;
mod bad_input;
mod check_scenarios;
mod cli;
mod connections;
mod crash;
mod golden;
mod helpers;
mod ledger_v01;
mod merkle;
mod power_loss;
mod projection_model;
mod readme;
mod reliability;
mod roster_import;
mod roster_parse;
mod store_faults;
mod store_model;
mod sync_live;
mod sync_scenarios;
mod tailscale_client;
mod tamper;
mod tls;
