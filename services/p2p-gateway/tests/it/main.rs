//! Integration tests of the p2p gateway: real libp2p swarms on loopback TCP (port 0), driven
//! through `P2pHandle` and, in `grpc`, through the gRPC service on a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a panic is the failure report")]

mod grpc;
mod ledger_source;
mod mesh;
mod proxy;
mod scoring;
mod support;
mod sync;
mod validation;
