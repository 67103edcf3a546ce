//! mlstack: a self-hosted machine-learning platform for small labs.
//!
//! The crate is one library plus a thin binary. See ARCHITECTURE.md for the
//! module map and the dependency rules between modules.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod control;
pub mod domain;
pub mod i18n;
pub mod mail;
pub mod notify;
pub mod service;
pub mod store;
pub mod tls;
pub mod web;
pub mod worker;

/// The version shown in the sidebar footer and printed by `mlstack --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
