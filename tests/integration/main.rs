//! One integration test binary (one link step): every test starts the real
//! appliance on a temporary store and speaks HTTP to it.

mod common;

mod auth;
