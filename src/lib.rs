//! tailledger: a tamper-evident, event-sourced ledger of who has access to a company's Tailscale
//! network, checked against the HR roster and served to auditors.
//!
//! The crate is a library with a thin binary on top (`src/main.rs`). `ARCHITECTURE.md` at the
//! root of the repository is the map: which module owns what, and which invariants hold.
#![forbid(unsafe_code)]

/// The version `--version` prints and evidence packs name: the package's, and the git commit it
/// was built from (`unknown` when built outside a git checkout), from `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TAILLEDGER_GIT_COMMIT"),
    ")"
);

pub mod access;
pub mod alerts;
pub mod api;
pub mod app;
pub mod archive;
pub mod as_of;
pub mod bounded;
pub mod canonical;
pub mod checkpoint_file;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod entry;
pub mod event;
pub mod evidence;
pub mod export;
pub mod hash;
pub mod history;
pub mod identity;
pub mod ledger;
pub mod listener;
pub mod merkle;
pub mod metrics;
pub mod projection;
pub mod render;
pub mod replay;
pub mod report;
pub mod restore;
pub mod roster;
pub mod simulate;

pub mod service;
pub mod simulator;
pub mod skew;
pub mod store;
pub mod sync;
pub mod tailscale;
pub mod tiles;
pub mod time;
pub mod timeline;
pub mod truto;
pub mod verify;
pub mod web;
pub mod webhook;
pub mod witness;
