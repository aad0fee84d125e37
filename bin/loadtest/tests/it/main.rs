//! Integration tests of the load generator against real `coinjectured` processes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

mod devnet;
