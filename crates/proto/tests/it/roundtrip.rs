use coinjecture_proto::v1::{
    Block, BlockHeader, CommitCertificate, CommitSignature, SubsetSumProblem, SubsetSumSolution, SubsetSumTier,
    SubsetSumWork, Transaction, TxType,
};
use prost::Message as _;

fn sample_block() -> Block {
    let transaction = Transaction {
        codec_version: 1,
        tx_type: TxType::Transfer.into(),
        from: vec![0x11; 32],
        to: vec![0x22; 32],
        amount: 1_000_000,
        nonce: 7,
        gas_limit: 21_000,
        gas_price: 1,
        signature: vec![0x33; 64],
        data: vec![0x80, 0xff, 0x00],
        timestamp: 1_609_459_200,
    };
    Block {
        header: Some(BlockHeader {
            codec_version: 1,
            block_index: 42,
            timestamp: 1_609_459_202,
            parent_hash: vec![0xaa; 32],
            merkle_root: vec![0xbb; 32],
            miner_address: vec![0xcc; 32],
            commitment: vec![0xdd; 32],
            difficulty_target: 0,
            nonce: u64::MAX,
            extra_data: [&[1u8][..], &3u32.to_be_bytes(), &250u16.to_be_bytes(), &[0xee; 32]].concat(),
        }),
        transactions: vec![transaction.clone(), Transaction { nonce: 8, ..transaction }],
        commit_certificate: Some(CommitCertificate {
            height: 42,
            round: 3,
            block_hash: vec![0x44; 32],
            signatures: vec![
                CommitSignature { validator: vec![0x01; 32], signature: vec![0x55; 64] },
                CommitSignature { validator: vec![0x02; 32], signature: vec![0x66; 64] },
            ],
        }),
        work: Some(SubsetSumWork {
            problem: Some(SubsetSumProblem {
                tier: SubsetSumTier::Mobile.into(),
                elements: vec![-2, 5, i64::MIN, i64::MAX, 0, 3, 9, 1],
                target: 3,
                timestamp: 1_609_459_100,
            }),
            solution: Some(SubsetSumSolution { indices: vec![0, 1], timestamp: 1_609_459_150 }),
        }),
    }
}

#[test]
fn block_round_trips_through_protobuf() {
    let block = sample_block();
    let bytes = block.encode_to_vec();
    assert_eq!(bytes.len(), block.encoded_len());
    let decoded = Block::decode(bytes.as_slice()).expect("block decodes");
    assert_eq!(decoded, block);
    assert_eq!(decoded.encode_to_vec(), bytes, "re-encoding is byte-identical");
}

#[test]
fn enums_decode_to_their_v4_numbers() {
    let block = Block::decode(sample_block().encode_to_vec().as_slice()).expect("block decodes");
    assert_eq!(block.transactions[0].tx_type(), TxType::Transfer);
    assert_eq!(TxType::BountyPayment as i32, 3);
    let work = block.work.expect("work kept");
    assert_eq!(work.problem.expect("problem kept").tier(), SubsetSumTier::Mobile);
    assert_eq!(SubsetSumTier::Cluster as i32, 5);
}
