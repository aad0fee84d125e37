//! #18 item 2 with real processes: a caller of a validator's internal gRPC port builds a block
//! of its choosing (ExecuteBlock draft for its Merkle root and state commitment) and offers it
//! to ApplyBlock with an empty, unsigned commit certificate. Before, it was applied (the
//! attacker credited, that validator's consensus stopped, and it refused to restart). Now the
//! ledger refuses it naming the certificate, writes nothing, and the node keeps finalizing.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a panic is the failure report")]

use std::time::Duration;

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_e2e::{Network, transfer};
use coinjecture_primitives::{Block, BlockHeader, CODEC_VERSION, CommitCertificate, Hash32, Height, PoaExtra, Round};
use coinjecture_proto::v1 as pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_block_on_the_internal_port_is_refused_and_the_node_keeps_finalizing() {
    let net = Network::start(3, "500ms");
    net.wait_for_height(&[0, 1, 2], 2, Duration::from_secs(90)).await;
    let attacker = Keypair::from_seed(&[0x66; 32]).public_key();
    let faucet = net.faucet();
    let mut ledger = pb::ledger_client::LedgerClient::new(net.channel(0).await);

    // The attacker's block: a real faucet transfer to itself, the attacker as proposer (fees).
    let mut forged = None;
    for _ in 0..20 {
        let info = ledger.get_chain_info(pb::GetChainInfoRequest {}).await.unwrap().into_inner();
        let nonce = net.nonce(0, &faucet.public_key()).await;
        let tx = transfer(&faucet, attacker, 123_477_789, nonce);
        let now_ms =
            i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis())
                .unwrap();
        let mut header = BlockHeader {
            codec_version: CODEC_VERSION,
            block_index: Height(info.tip_height + 1),
            timestamp: now_ms / 1000 + 1,
            parent_hash: Hash32::from_slice(&info.tip_hash).unwrap(),
            merkle_root: Hash32::ZERO,
            miner_address: attacker,
            commitment: Hash32::ZERO,
            difficulty_target: 0,
            nonce: 0,
            extra_data: PoaExtra {
                round: Round(0),
                timestamp_millis: 0,
                state_commitment: Hash32::ZERO,
                chain_id: None,
            }
            .encode(),
        };
        let mut block = Block { header: header.clone(), transactions: vec![tx] };
        let Ok(draft) =
            ledger.execute_block(pb::ExecuteBlockRequest { block: Some((&block).into()), draft: true }).await
        else {
            continue; // the tip moved meanwhile
        };
        let draft = draft.into_inner();
        if !draft.valid {
            continue;
        }
        header.merkle_root = Hash32::from_slice(&draft.merkle_root).unwrap();
        header.extra_data = PoaExtra {
            round: Round(0),
            timestamp_millis: 0,
            state_commitment: Hash32::from_slice(&draft.state_commitment).unwrap(),
            chain_id: None,
        }
        .encode();
        block.header = header;
        forged = Some(block);
        break;
    }
    let forged = forged.expect("ExecuteBlock (draft) found the attacker's block valid");
    let height = forged.header.block_index;

    let empty = CommitCertificate { height, round: Round(0), block_hash: forged.hash(), signatures: vec![] };
    let mut request = pb::Block::from(&forged);
    request.commit_certificate = Some((&empty).into());
    let err = ledger.apply_block(pb::ApplyBlockRequest { block: Some(request) }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("block.commit_certificate does not verify"), "{err:?}");
    assert!(err.message().contains("distinct signers, quorum is 2"), "{err:?}");

    // Nothing written, and the validator keeps finalizing with the others.
    net.wait_for_height(&[0, 1, 2], height.get() + 3, Duration::from_secs(90)).await;
    assert_eq!(net.balance(0, &attacker).await, 0);
    net.assert_agree(&[0, 1, 2], height.get() + 3).await;
    assert_ne!(net.block_hash(0, height.get()).await, forged.hash().0.to_vec());
}
