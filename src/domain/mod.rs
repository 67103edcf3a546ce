//! Pure types and rules: no actix, redb, kube or tokio. Everything here is
//! tested without I/O.

pub mod audit;
pub mod authz;
pub mod catalog;
pub mod cost;
pub mod ids;
pub mod image;
pub mod key_pair;
pub mod mail;
pub mod metrics;
pub mod project;
pub mod queue;
pub mod quota;
pub mod schedule;
pub mod session;
pub mod storage;
pub mod throttle;
pub mod user;
pub mod validation;
pub mod workload;
