//! Bad requests get INVALID_ARGUMENT naming the field, and the service keeps serving.

use coinjecture_proto::v1 as pb;
use tonic::Code;

use crate::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_fields_are_named_and_the_service_keeps_serving() {
    let mut running = start().await;
    let c = &mut running.client;

    let err = c.merkle_root(pb::MerkleRootRequest { leaves: vec![vec![0; 32], vec![0; 31]] }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "leaves[1]: expected 32 bytes, found 31");

    let err = c.merkle_proof(pb::MerkleProofRequest { leaves: vec![vec![0; 32]], index: 1 }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "index: 1 is out of range for 1 leaves"));

    let err = c.hash_header(pb::HashHeaderRequest { header: None }).await.unwrap_err();
    assert_eq!(err.message(), "header: is required");

    let long_extra = pb::BlockHeader {
        codec_version: 1,
        parent_hash: vec![0; 32],
        merkle_root: vec![0; 32],
        miner_address: vec![0; 32],
        commitment: vec![0; 32],
        extra_data: vec![1; 257],
        ..Default::default()
    };
    let err = c.hash_header(pb::HashHeaderRequest { header: Some(long_extra.clone()) }).await.unwrap_err();
    assert_eq!(err.message(), "header.extra_data: 257 bytes exceed the maximum 256");
    let v2 = pb::BlockHeader { codec_version: 2, extra_data: vec![], ..long_extra };
    let err = c.hash_header(pb::HashHeaderRequest { header: Some(v2) }).await.unwrap_err();
    assert_eq!(err.message(), "header.codec_version: must be 1, found 2");

    let tx = pb::Transaction { codec_version: 1, tx_type: 0, ..Default::default() };
    let err = c.hash_transaction(pb::HashTransactionRequest { transaction: Some(tx.clone()) }).await.unwrap_err();
    assert_eq!(err.message(), "transaction.tx_type: is unspecified");
    let batch = c
        .hash_transaction_batch(pb::HashTransactionBatchRequest { transactions: vec![tx], verify_signatures: true })
        .await
        .unwrap()
        .into_inner();
    assert!(!batch.all_valid);
    assert_eq!(batch.digests[0].error, "transactions[0].tx_type: is unspecified");

    let err = c
        .ed25519_verify(pb::Ed25519VerifyRequest { public_key: vec![0; 32], message: vec![], signature: vec![0; 63] })
        .await
        .unwrap_err();
    assert_eq!(err.message(), "signature: expected 64 bytes, found 63");
    // A batch refuses exactly the items the single call refuses, naming them, and answers the rest.
    let seed = [5u8; 32];
    let keys = coinjecture_crypto_core::signatures::Keypair::from_seed(&seed);
    let good = pb::Ed25519VerifyRequest {
        public_key: keys.public_key().0.to_vec(),
        message: b"m".to_vec(),
        signature: keys.sign(b"m").0.to_vec(),
    };
    let batch = c
        .ed25519_verify_batch(pb::Ed25519VerifyBatchRequest {
            items: vec![
                pb::Ed25519VerifyRequest { public_key: vec![1], message: vec![], signature: vec![] },
                good.clone(),
                pb::Ed25519VerifyRequest { signature: vec![0; 63], ..good.clone() },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((batch.all_valid, batch.valid), (false, vec![false, true, false]));
    assert_eq!(
        batch.errors,
        vec![
            "items[0].public_key: expected 32 bytes, found 1".to_string(),
            String::new(),
            "items[2].signature: expected 64 bytes, found 63".to_string(),
        ]
    );

    let err = c
        .verify_subset_sum(pb::VerifySubsetSumRequest { problem: None, solution: Some(Default::default()) })
        .await
        .unwrap_err();
    assert_eq!(err.message(), "problem: is required");
    let unspecified_tier = c
        .verify_subset_sum(pb::VerifySubsetSumRequest {
            problem: Some(pb::SubsetSumProblem { tier: 0, elements: vec![1; 8], target: 1, timestamp: 0 }),
            solution: Some(pb::SubsetSumSolution { indices: vec![0], timestamp: 0 }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!unspecified_tier.valid);
    assert_eq!(unspecified_tier.reason(), pb::SubsetSumRejectReason::InvalidTier);

    let err =
        c.golden_vectors_self_test(pb::GoldenVectorsSelfTestRequest { file: "nope.json".into() }).await.unwrap_err();
    assert_eq!(err.message(), "file: no golden vector file is named \"nope.json\"");

    // Still serving after all of that.
    let ok = c.sha256(pb::Sha256Request { data: b"abc".to_vec() }).await.unwrap().into_inner();
    assert_eq!(hex::encode(ok.digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_batches_and_messages_are_refused() {
    let mut running = start().await;
    let c = &mut running.client;
    let err = c.sha256_batch(pb::Sha256BatchRequest { inputs: vec![vec![]; 100_001] }).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "inputs: 100001 items exceed the maximum 100000"));
    let at_limit = c.sha256_batch(pb::Sha256BatchRequest { inputs: vec![vec![]; 100_000] }).await.unwrap();
    assert_eq!(at_limit.into_inner().digests.len(), 100_000);

    let err = c.sha256(pb::Sha256Request { data: vec![0; 17 * 1024 * 1024] }).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    let ok = c.sha256(pb::Sha256Request { data: vec![0; 1024] }).await;
    assert!(ok.is_ok(), "the service serves the next request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    let running = start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(running.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "coinjecture.v1.CryptoCore".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), tonic_health::pb::health_check_response::ServingStatus::Serving);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(running.channel.clone());
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter(vec![request])).await.unwrap().into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"coinjecture.v1.CryptoCore".to_string()), "{names:?}");
}

/// VerifyBlock's packed fields: each misfit is INVALID_ARGUMENT naming its field, answered
/// before any work, and the service keeps serving (the same request, fixed, is answered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packed_fields_are_named_and_the_service_keeps_serving() {
    let mut running = start().await;
    let c = &mut running.client;
    let batch = |keys: usize, sigs: usize, lengths: Vec<u32>, messages: usize| pb::Ed25519PackedBatch {
        public_keys: vec![1; keys].into(),
        signatures: vec![2; sigs].into(),
        messages: vec![3; messages].into(),
        message_lengths: lengths,
    };
    let cases = [
        (vec![0; 31], None, "leaves: 31 bytes is not a whole number of 32-byte items"),
        (vec![0; 32 * 100_001], None, "leaves: 100001 items exceed the maximum 100000"),
        (
            vec![],
            Some(batch(33, 64, vec![0], 0)),
            "signatures.public_keys: 33 bytes is not a whole number of 32-byte items",
        ),
        (
            vec![],
            Some(batch(32, 63, vec![0], 0)),
            "signatures.signatures: expected 64 bytes (64 for each of 1 keys), found 63",
        ),
        (
            vec![],
            Some(batch(32, 64, vec![], 0)),
            "signatures.message_lengths: expected 1 lengths (one per key), found 0",
        ),
        (
            vec![],
            Some(batch(32, 64, vec![u32::MAX], 5)),
            "signatures.messages: expected 4294967295 bytes (the sum of message_lengths), found 5",
        ),
    ];
    for (leaves, signatures, message) in cases {
        let err = c.verify_block(pb::VerifyBlockRequest { leaves: leaves.into(), signatures }).await.unwrap_err();
        assert_eq!((err.code(), err.message()), (Code::InvalidArgument, message));
    }
    // Fitting lengths: answered (a key that is not a point, or a wrong signature, is `false`).
    let ok = c
        .verify_block(pb::VerifyBlockRequest {
            leaves: vec![7; 64].into(),
            signatures: Some(batch(64, 128, vec![2, 3], 5)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((ok.root.len(), ok.valid, ok.all_valid), (32, vec![false, false], false));
    let empty = c.verify_block(pb::VerifyBlockRequest::default()).await.unwrap().into_inner();
    assert_eq!((empty.root, empty.valid, empty.all_valid), (vec![0; 32], vec![], true));
}
