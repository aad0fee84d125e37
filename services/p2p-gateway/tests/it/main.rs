//! Integration tests of the p2p gateway: real libp2p swarms on loopback TCP.
