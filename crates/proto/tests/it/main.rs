//! Integration tests of the generated contract: the descriptor set is complete and messages
//! round-trip through the protobuf encoding.

mod descriptor;
mod roundtrip;
