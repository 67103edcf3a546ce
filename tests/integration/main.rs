//! One integration test binary (one link step): every test starts the real
//! appliance on a temporary store and speaks HTTP to it.

// Table tests list their cases as tuples.
#![allow(clippy::type_complexity)]

mod common;

mod account;
mod admin;
mod audit;
mod auth;
mod authz;
mod backup;
mod browser;
mod browser_done_containers;
mod browser_done_metrics;
mod browser_done_storage;
mod browser_key_pairs;
mod browser_layout;
mod browser_projects;
mod browser_storage;
mod browser_wizard;
mod browser_xss;
mod catalog;
mod catalog_seed;
mod cli;
mod container_quota;
mod container_wizard;
mod containers;
mod custom_images;
mod emails;
mod fake_apiserver;
mod fuzz;
mod key_pairs;
mod kube_driver;
mod kubectl;
mod local_driver;
mod local_ssh;
mod mail;
mod metrics;
mod nvidia_smi;
mod ops;
mod pages;
mod projects;
mod proxy;
mod serving;
mod store;
mod terminal;
mod workloads;
