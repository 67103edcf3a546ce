//! One integration test binary (one link step): every test starts the real
//! appliance on a temporary store and speaks HTTP to it.

// Table tests list their cases as tuples.
#![allow(clippy::type_complexity)]

mod common;

mod account;
mod admin;
mod auth;
mod authz;
mod browser;
mod browser_layout;
mod browser_projects;
mod catalog;
mod cli;
mod fake_apiserver;
mod kube_driver;
mod kubectl;
mod local_driver;
mod ops;
mod pages;
mod projects;
mod proxy;
mod store;
mod workloads;
