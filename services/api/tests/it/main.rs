//! Integration tests of the API on real 127.0.0.1 sockets: a real SQLite ledger (in process,
//! and remote over gRPC), a fake consensus behind its generated trait, and an HTTP/gRPC client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a panic is the report")]

mod grpc;
mod health;
mod listing;
mod openapi;
mod refusals;
mod rest;
mod submit;
mod support;
