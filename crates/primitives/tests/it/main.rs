//! The primitives' integration tests, one binary (`cargo test -p coinjecture-primitives --test it`):
//! the encodings' properties against an independent MessagePack implementation, and the shared
//! table of duration cases (`tests/data/durations.json`).

mod durations;
mod properties;
