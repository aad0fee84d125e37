//! The in-test message bus of the driver tests (`driver.rs`, `safety.rs`): each validator's
//! driver publishes to the others that are up, and syncs from their real ledgers.

use std::sync::{Arc, Mutex};

use coinjecture_ledger::Ledger;
use coinjecture_primitives::{Block, CommitCertificate, Height};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};
use coinjecture_proto::ports::ledger::LedgerPort;
use tokio::sync::mpsc;

/// Delivers every published message to every other node that is up.
#[derive(Clone, Default)]
pub(crate) struct Bus {
    pub(crate) inboxes: Arc<Mutex<Vec<Option<mpsc::Sender<GossipMessage>>>>>,
    pub(crate) ledgers: Arc<Mutex<Vec<Option<Arc<Ledger>>>>>,
}

pub(crate) struct Port {
    pub(crate) me: usize,
    pub(crate) bus: Bus,
}

#[tonic::async_trait]
impl GatewayPort for Port {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        let inboxes: Vec<_> = self.bus.inboxes.lock().unwrap().clone();
        for (i, inbox) in inboxes.into_iter().enumerate() {
            if let (true, Some(tx)) = (i != self.me, inbox) {
                let _ = tx.try_send(message.clone());
            }
        }
        Ok(())
    }

    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        let ledgers: Vec<_> = self.bus.ledgers.lock().unwrap().clone();
        for (i, ledger) in ledgers.into_iter().enumerate() {
            let Some(ledger) = ledger.filter(|_| i != self.me) else { continue };
            let mut out = Vec::new();
            for h in (from.get()..from.get() + u64::from(count)).map(Height) {
                let found = LedgerPort::block_by_height(&*ledger, h)
                    .await
                    .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
                match found.and_then(|b| Some((b.block, b.certificate?))) {
                    Some(b) => out.push(b),
                    None => break,
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
        Ok(Vec::new())
    }
}
