//! The end-to-end suite, one binary (`cargo test -p coinjecture-e2e --test it`; one module:
//! `... --test it -- faults::`): real `coinjectured` processes on loopback. Modules run side by
//! side in libtest's threads; `hostile` takes the machine alone (`coinjecture_e2e::machine_alone`).

mod backpressure;
mod check_config;
mod compact_proposals;
mod devnet;
mod explorer;
mod faults;
mod followers;
mod forged_block;
mod hostile;
mod hostile_gossip;
mod internal_trust;
mod key_hygiene;
mod networks_side_by_side;
mod observability;
mod safety_files;
mod served_services;
mod seven_and_three;
mod shutdown;
mod state_sync;
mod wallet;
