//! Every golden vector, recomputed through the RPCs (not the library), must match.

use coinjecture_crypto_core::golden::{
    self, BatchItemJson, Expected, GoldenFile, HeaderJson, Input, ProofJson, ProofStepJson, RefusalJson,
    build_transaction, generated_leaves,
};
use coinjecture_primitives::{Hash32, PublicKey, Signature};
use coinjecture_proto::v1 as pb;

use crate::start;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

type Client = pb::crypto_core_client::CryptoCoreClient<tonic::transport::Channel>;

/// A header exactly as the vector gives it, unchecked.
fn raw_header(h: &HeaderJson) -> pb::BlockHeader {
    pb::BlockHeader {
        codec_version: h.codec_version.into(),
        block_index: h.block_index,
        timestamp: h.timestamp,
        parent_hash: unhex(&h.parent_hash),
        merkle_root: unhex(&h.merkle_root),
        miner_address: unhex(&h.miner_address),
        commitment: unhex(&h.commitment),
        difficulty_target: h.difficulty_target,
        nonce: h.nonce,
        extra_data: unhex(&h.extra_data),
    }
}

/// A refusal case through the RPC that takes that input: INVALID_ARGUMENT naming the field (as
/// the RPC calls it). `None` when no RPC takes the input (the chain tag, the PoA layout and
/// consensus messages are built by the libraries, not by the service; a tx_type name does not
/// exist in the protobuf enum).
async fn refused_remote(client: &mut Client, input: &Input, r: &RefusalJson) -> Option<Expected> {
    let (status, rpc_field) = match input {
        Input::Header { header, poa_extra: None } => (
            client.hash_header(pb::HashHeaderRequest { header: Some(raw_header(header)) }).await.err()?,
            r.field.clone(),
        ),
        Input::Transaction { chain_id, secret_seed, tx, data_memo_hex, .. }
            if r.field.starts_with("tx.") && r.field != "tx.tx_type" =>
        {
            let keys = coinjecture_crypto_core::signatures::Keypair::from_seed(&unhex(secret_seed).try_into().unwrap());
            let mut data =
                coinjecture_primitives::chain_tag(&coinjecture_primitives::ChainId::new(chain_id.as_str()).unwrap());
            data.extend(unhex(data_memo_hex));
            let t = pb::Transaction {
                codec_version: tx.codec_version.into(),
                tx_type: coinjecture_primitives::TxType::from_name(&tx.tx_type).unwrap().code().into(),
                from: keys.public_key().0.to_vec(),
                to: unhex(&tx.to),
                amount: tx.amount,
                nonce: tx.nonce,
                gas_limit: tx.gas_limit,
                gas_price: tx.gas_price,
                signature: vec![0; 64],
                data,
                timestamp: tx.timestamp,
            };
            let batch = client
                .hash_transaction_batch(pb::HashTransactionBatchRequest {
                    transactions: vec![t.clone()],
                    verify_signatures: true,
                })
                .await
                .unwrap()
                .into_inner();
            let field = r.field.replacen("tx.", "transaction.", 1);
            let item_field = r.field.replacen("tx.", "transactions[0].", 1);
            assert!(batch.digests[0].error.starts_with(&format!("{item_field}:")), "{}", batch.digests[0].error);
            (client.hash_transaction(pb::HashTransactionRequest { transaction: Some(t) }).await.err()?, field)
        }
        Input::Ed25519 { public_key, message_hex, signature } => {
            let req = pb::Ed25519VerifyRequest {
                public_key: unhex(public_key),
                message: unhex(message_hex),
                signature: unhex(signature),
            };
            let batch = client
                .ed25519_verify_batch(pb::Ed25519VerifyBatchRequest { items: vec![req.clone()] })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(batch.valid, vec![false]);
            assert!(batch.errors[0].starts_with(&format!("items[0].{}:", r.field)), "{:?}", batch.errors);
            (client.ed25519_verify(req).await.err()?, r.field.clone())
        }
        Input::Merkle { leaves, generated_leaves: None, proof_indices } => {
            let leaves: Vec<Vec<u8>> = leaves.iter().map(|l| unhex(l)).collect();
            if r.field.starts_with("leaves[") {
                (client.merkle_root(pb::MerkleRootRequest { leaves }).await.err()?, r.field.clone())
            } else {
                let k: usize = r.field.trim_start_matches("proof_indices[").trim_end_matches(']').parse().unwrap();
                let index = proof_indices[k] as u32;
                (client.merkle_proof(pb::MerkleProofRequest { leaves, index }).await.err()?, "index".into())
            }
        }
        Input::Address { public_key } => (
            client.derive_address(pb::DeriveAddressRequest { public_key: unhex(public_key) }).await.err()?,
            r.field.clone(),
        ),
        _ => return None,
    };
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with(&format!("{rpc_field}:")), "{} does not name {rpc_field}", status.message());
    Some(Expected { refused: Some(r.clone()), ..Expected::default() })
}

/// What the service answers for a case, in the shape of `Expected`.
async fn compute_remote(client: &mut Client, input: &Input, expected: &Expected) -> Option<Expected> {
    if let Some(r) = &expected.refused {
        return refused_remote(client, input, r).await;
    }
    let mut e = Expected::default();
    match input {
        Input::Sha256 { input_hex, repeat } => {
            let data = unhex(input_hex).repeat(*repeat);
            let r = client.sha256(pb::Sha256Request { data: data.clone() }).await.unwrap().into_inner();
            let batch = client.sha256_batch(pb::Sha256BatchRequest { inputs: vec![data] }).await.unwrap().into_inner();
            assert_eq!(batch.digests, vec![r.digest.clone()], "Sha256Batch agrees with Sha256");
            e.hash = Some(hex::encode(r.digest));
        }
        Input::Merkle { leaves, generated_leaves: generated, proof_indices } => {
            let leaves: Vec<Vec<u8>> = match generated {
                Some(g) => generated_leaves(g).into_iter().map(|h| h.0.to_vec()).collect(),
                None => leaves.iter().map(|l| unhex(l)).collect(),
            };
            let r = client.merkle_root(pb::MerkleRootRequest { leaves: leaves.clone() }).await.unwrap().into_inner();
            e.root = Some(hex::encode(&r.root));
            let packed = pb::VerifyBlockRequest { leaves: leaves.concat().into(), signatures: None };
            let block = client.verify_block(packed).await.unwrap().into_inner();
            assert_eq!(block.root, r.root, "VerifyBlock's packed leaves give MerkleRoot's root");
            for &index in proof_indices {
                let p = client
                    .merkle_proof(pb::MerkleProofRequest { leaves: leaves.clone(), index: index as u32 })
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(p.root, r.root);
                let ok = client
                    .verify_merkle_proof(pb::VerifyMerkleProofRequest {
                        leaf: leaves[index].clone(),
                        steps: p.steps.clone(),
                        root: r.root.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert!(ok.valid, "service verifies its own proof");
                let steps = p
                    .steps
                    .iter()
                    .map(|s| ProofStepJson { sibling: hex::encode(&s.sibling), current_is_right: s.current_is_right })
                    .collect();
                e.proofs.push(ProofJson { index, steps });
            }
        }
        Input::Header { header, poa_extra } => {
            let mut h = header.to_header().unwrap();
            if poa_extra.is_some() {
                // The service hashes headers; the PoA layout is a library concern, checked there.
                h.extra_data = unhex(expected.extra_data.as_deref()?);
                e.extra_data = expected.extra_data.clone();
            }
            let r = client.hash_header(pb::HashHeaderRequest { header: Some((&h).into()) }).await.unwrap().into_inner();
            e.hash = Some(hex::encode(r.hash));
            e.encoding = Some(hex::encode(r.encoding));
        }
        Input::Transaction { chain_id, secret_seed, tx, data_memo_hex, tamper } => {
            let t = build_transaction(chain_id, secret_seed, tx, data_memo_hex, tamper.as_deref()).unwrap();
            let pb_tx = pb::Transaction::from(&t);
            let r = client
                .hash_transaction(pb::HashTransactionRequest { transaction: Some(pb_tx.clone()) })
                .await
                .unwrap()
                .into_inner();
            let v = client
                .ed25519_verify(pb::Ed25519VerifyRequest {
                    public_key: t.from.0.to_vec(),
                    message: r.signing_message.clone(),
                    signature: t.signature.0.to_vec(),
                })
                .await
                .unwrap()
                .into_inner();
            let batch = client
                .hash_transaction_batch(pb::HashTransactionBatchRequest {
                    transactions: vec![pb_tx],
                    verify_signatures: true,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(batch.digests[0].tx_hash, r.tx_hash);
            assert_eq!(batch.digests[0].signature_valid, v.valid);
            e.from = Some(t.from.to_hex());
            e.data = Some(hex::encode(&t.data));
            e.valid = Some(v.valid);
            e.signing_message = Some(hex::encode(r.signing_message));
            e.signature = Some(t.signature.to_hex());
            e.hash = Some(hex::encode(r.tx_hash));
            e.encoding = Some(hex::encode(r.encoding));
        }
        Input::Ed25519 { public_key, message_hex, signature } => {
            let req = pb::Ed25519VerifyRequest {
                public_key: unhex(public_key),
                message: unhex(message_hex),
                signature: unhex(signature),
            };
            let single = client.ed25519_verify(req.clone()).await.unwrap().into_inner().valid;
            let batch =
                client.ed25519_verify_batch(pb::Ed25519VerifyBatchRequest { items: vec![req.clone()] }).await.unwrap();
            assert_eq!(batch.into_inner().valid, vec![single], "batch answers as single");
            let packed = client.verify_block(packed_request(std::slice::from_ref(&req))).await;
            if req.public_key.len() == 32 && req.signature.len() == 64 {
                assert_eq!(packed.unwrap().into_inner().valid, vec![single], "VerifyBlock answers as single");
            } else {
                assert_eq!(packed.unwrap_err().code(), tonic::Code::InvalidArgument, "packed lengths that do not fit");
            }
            e.valid = Some(single);
        }
        Input::Ed25519Batch { items } => {
            let items: Vec<pb::Ed25519VerifyRequest> = items
                .iter()
                .map(|i| pb::Ed25519VerifyRequest {
                    public_key: unhex(&i.public_key),
                    message: unhex(&i.message_hex),
                    signature: unhex(&i.signature),
                })
                .collect();
            let fits = items.iter().all(|i| i.public_key.len() == 32 && i.signature.len() == 64);
            let packed = client.verify_block(packed_request(&items)).await;
            let r = client.ed25519_verify_batch(pb::Ed25519VerifyBatchRequest { items }).await.unwrap().into_inner();
            if fits {
                assert_eq!(packed.unwrap().into_inner().valid, r.valid, "VerifyBlock answers as Ed25519VerifyBatch");
            } else {
                assert_eq!(packed.unwrap_err().code(), tonic::Code::InvalidArgument, "packed lengths that do not fit");
            }
            assert_eq!((r.valid.len(), r.errors.len()), (expected.items.len(), expected.items.len()));
            for ((valid, error), want) in r.valid.iter().zip(&r.errors).zip(&expected.items) {
                // The service's message names the field; the vector's code is checked by the library.
                let refused = want.refused.clone().filter(|w| error.starts_with(&format!("{}:", w.field)));
                assert_eq!(refused.is_some(), !error.is_empty(), "{error:?} vs {want:?}");
                e.items.push(BatchItemJson { valid: *valid, refused });
            }
            e.all_valid = Some(r.all_valid);
        }
        Input::Address { public_key } => {
            let r = client.derive_address(pb::DeriveAddressRequest { public_key: unhex(public_key) }).await.unwrap();
            e.address = Some(hex::encode(r.into_inner().address));
        }
        Input::SubsetSum { problem, solution } => {
            let s = solution.to_solution();
            let Ok(p) = problem.to_problem() else {
                // An unknown tier name: over gRPC, the unspecified tier.
                let unknown = pb::SubsetSumProblem {
                    tier: 0,
                    elements: problem.elements.clone(),
                    target: problem.target,
                    timestamp: problem.timestamp,
                };
                let r = client
                    .verify_subset_sum(pb::VerifySubsetSumRequest {
                        problem: Some(unknown),
                        solution: Some((&s).into()),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                e.valid = Some(r.valid);
                e.reason = Some(r.reason().as_str_name().trim_start_matches("SUBSET_SUM_REJECT_REASON_").to_string());
                return Some(e);
            };
            let r = client
                .verify_subset_sum(pb::VerifySubsetSumRequest {
                    problem: Some((&p).into()),
                    solution: Some((&s).into()),
                })
                .await
                .unwrap()
                .into_inner();
            e.valid = Some(r.valid);
            e.reason = (!r.valid)
                .then(|| r.reason().as_str_name().trim_start_matches("SUBSET_SUM_REJECT_REASON_").to_string());
            // Encodings of the problem and solution travel through the commit-reveal RPC.
            e.problem_encoding = expected.problem_encoding.clone();
            e.solution_encoding = expected.solution_encoding.clone();
            if expected.problem_hash.is_some() {
                let c = client
                    .commit_reveal_commitment(pb::CommitRevealCommitmentRequest {
                        parent_hash: vec![0; 32],
                        block_index: 0,
                        problem: Some((&p).into()),
                        solution: Some((&s).into()),
                        miner_salt: vec![0; 32],
                    })
                    .await
                    .unwrap()
                    .into_inner();
                e.problem_hash = Some(hex::encode(c.problem_hash));
                e.solution_hash = Some(hex::encode(c.solution_hash));
            }
        }
        Input::CommitReveal { parent_hash, block_index, problem, solution, .. } => {
            // The miner's HMAC stays with the miner: feed the expected miner salt, check the rest.
            let r = client
                .commit_reveal_commitment(pb::CommitRevealCommitmentRequest {
                    parent_hash: unhex(parent_hash),
                    block_index: *block_index,
                    problem: Some((&problem.to_problem().unwrap()).into()),
                    solution: Some((&solution.to_solution()).into()),
                    miner_salt: unhex(expected.miner_salt.as_deref()?),
                })
                .await
                .unwrap()
                .into_inner();
            let salt = client
                .epoch_salt(pb::EpochSaltRequest { parent_hash: unhex(parent_hash), block_index: *block_index })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(salt.epoch_salt, r.epoch_salt);
            e.epoch_salt = Some(hex::encode(r.epoch_salt));
            e.miner_salt = expected.miner_salt.clone();
            e.problem_hash = Some(hex::encode(r.problem_hash));
            e.solution_hash = Some(hex::encode(r.solution_hash));
            e.commitment = Some(hex::encode(r.commitment));
        }
        // Consensus messages have no CryptoCore RPC; their signatures are plain ed25519.
        Input::Vote { .. }
        | Input::CommitCertificate { .. }
        | Input::Block { .. }
        | Input::DuplicateVoteEvidence { .. }
        | Input::DuplicateProposalEvidence { .. }
        | Input::SnapshotAttestation { .. } => return None,
    }
    Some(e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_vector_passes_through_the_grpc_service() {
    let mut running = start().await;
    let mut checked = 0;
    for (name, json) in golden::EMBEDDED {
        let file: GoldenFile = serde_json::from_str(json).unwrap();
        for case in &file.cases {
            if let Some(got) = compute_remote(&mut running.client, &case.input, &case.expected).await {
                assert_eq!(got, case.expected, "{name} / {}", case.name);
                checked += 1;
            }
        }
    }
    assert!(checked > 120, "only {checked} cases went through the service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_50_upstream_vectors_pass_through_the_grpc_service() {
    let mut running = start().await;
    let file: serde_json::Value = serde_json::from_str(golden::UPSTREAM.1).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 50);
    for v in vectors {
        let name = v["test_name"].as_str().unwrap();
        match v["operation"].as_str().unwrap() {
            "SHA256" => {
                let mut data = unhex(v["input_hex"].as_str().unwrap());
                if let Some(size) = v["input_size"].as_u64() {
                    data = vec![data[0]; size as usize];
                }
                let r = running.client.sha256(pb::Sha256Request { data }).await.unwrap().into_inner();
                assert_eq!(hex::encode(r.digest), v["expected_hash"].as_str().unwrap(), "{name}");
            }
            "MERKLE" => {
                let leaves: Vec<Vec<u8>> = match v["tx_hashes"].as_array() {
                    Some(l) => l.iter().map(|h| unhex(h.as_str().unwrap())).collect(),
                    None => {
                        let n = v["tx_count"].as_u64().unwrap();
                        let label = |i: u64| if n == 100 { format!("transaction_{i}") } else { format!("tx_{i:04}") };
                        (0..n).map(|i| coinjecture_primitives::sha256(label(i).as_bytes()).0.to_vec()).collect()
                    }
                };
                let r = running.client.merkle_root(pb::MerkleRootRequest { leaves }).await.unwrap().into_inner();
                assert_eq!(hex::encode(r.root), v["expected_root"].as_str().unwrap(), "{name}");
            }
            "BLOCK_HEADER" => {
                let hj: golden::HeaderJson = serde_json::from_value(v["header"].clone()).unwrap();
                let h = hj.to_header().unwrap();
                let r = running.client.hash_header(pb::HashHeaderRequest { header: Some((&h).into()) }).await.unwrap();
                assert_eq!(hex::encode(r.into_inner().hash), v["expected_hash"].as_str().unwrap(), "{name}");
            }
            other => panic!("unknown operation {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_test_reports_every_case_passed_and_filters_by_file() {
    let mut running = start().await;
    let all = running.client.golden_vectors_self_test(pb::GoldenVectorsSelfTestRequest::default()).await.unwrap();
    let all = all.into_inner();
    assert_eq!(all.failed, 0, "{:?}", all.results.iter().filter(|r| !r.passed).collect::<Vec<_>>());
    assert_eq!(all.total as usize, golden::run_embedded().len());
    for filter in ["network_b_vectors.json", "upstream/network_b_vectors.json"] {
        let up = running
            .client
            .golden_vectors_self_test(pb::GoldenVectorsSelfTestRequest { file: filter.into() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!((up.total, up.passed), (50, 50));
    }
}

#[test]
fn batch_verification_agrees_with_single_on_mixed_batches() {
    use coinjecture_crypto_core::signatures::{Keypair, VerifyItem, verify, verify_batch};
    let keys: Vec<Keypair> = (0u8..64).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let pks: Vec<PublicKey> = keys.iter().map(Keypair::public_key).collect();
    let msgs: Vec<Vec<u8>> = (0u8..64).map(|i| vec![i; 3]).collect();
    let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    for i in (0..64).step_by(7) {
        sigs[i].0[i % 64] ^= 0x40;
    }
    let items: Vec<VerifyItem<'_>> =
        (0..64).map(|i| VerifyItem { public_key: &pks[i], message: &msgs[i], signature: &sigs[i] }).collect();
    let verdicts = verify_batch(&items);
    for i in 0..64 {
        assert_eq!(verdicts[i], verify(&pks[i], &msgs[i], &sigs[i]), "item {i}");
    }
    assert_eq!(verdicts.iter().filter(|v| !**v).count(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_batches_with_crafted_signatures_answer_as_the_vectors_say() {
    // Every ed25519 vector, repeated into a batch big enough for the parallel path, through the
    // batch RPC: each verdict must be the vector's (crafted small-order and torsioned R included).
    let (_, json) = golden::EMBEDDED.iter().find(|(n, _)| *n == "ed25519.json").unwrap();
    let file: GoldenFile = serde_json::from_str(json).unwrap();
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..20 {
        for case in &file.cases {
            let Input::Ed25519 { public_key, message_hex, signature } = &case.input else { continue };
            items.push(pb::Ed25519VerifyRequest {
                public_key: unhex(public_key),
                message: unhex(message_hex),
                signature: unhex(signature),
            });
            expected.push(case.expected.valid.unwrap());
        }
    }
    assert!(items.len() > 200);
    let mut running = start().await;
    let got = running.client.ed25519_verify_batch(pb::Ed25519VerifyBatchRequest { items }).await.unwrap().into_inner();
    assert_eq!(got.valid, expected);
    assert!(!got.all_valid);
    let _ = Hash32::ZERO;
}

/// The `VerifyBlock` request (no leaves) packing `items` as they are (lengths unchecked).
fn packed_request(items: &[pb::Ed25519VerifyRequest]) -> pb::VerifyBlockRequest {
    let concat =
        |f: fn(&pb::Ed25519VerifyRequest) -> &Vec<u8>| items.iter().flat_map(|i| f(i).clone()).collect::<Vec<u8>>();
    pb::VerifyBlockRequest {
        leaves: Vec::new().into(),
        signatures: Some(pb::Ed25519PackedBatch {
            public_keys: concat(|i| &i.public_key).into(),
            signatures: concat(|i| &i.signature).into(),
            messages: concat(|i| &i.message).into(),
            message_lengths: items.iter().map(|i| i.message.len() as u32).collect(),
        }),
    }
}
