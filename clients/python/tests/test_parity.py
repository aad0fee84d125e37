"""Every golden vector through a running crypto-core service, via ``coinjecture.client``.

Mirrors ``clients/go/client/parity_test.go``: the service's answers are compared with the vectors'
expected values (not with the Python reference; both are compared with the vectors). Inputs that
the service never sees (the public key and signature of a transaction, the PoA ``extra_data``, the
miner salt) are built by the Python reference, as a client would. Needs
``COINJECTURE_CRYPTO_CORE=host:port``; skipped without it:

    cargo run -p coinjectured -- service crypto-core --listen 127.0.0.1:50151 &
    COINJECTURE_CRYPTO_CORE=127.0.0.1:50151 python -m pytest -q tests/test_parity.py
"""

from __future__ import annotations

import hashlib
import os
import random

import grpc
import pytest

from coinjecture import reference as r
from coinjecture.client import CryptoCoreClient
from coinjecture.v1 import crypto_pb2, types_pb2
from test_golden import OUR_FILES, _header, _load, _problem, _solution, h

ENV = "COINJECTURE_CRYPTO_CORE"
ADDR = os.environ.get(ENV, "")

pytestmark = pytest.mark.skipif(
    not ADDR,
    reason=f"{ENV} is not set: start `coinjectured service crypto-core --listen 127.0.0.1:50151` "
    f"and set {ENV}=127.0.0.1:50151 to run the parity tests against it",
)


@pytest.fixture(scope="module")
def cc():
    c = CryptoCoreClient(ADDR, timeout=120)
    c.wait_ready(10)
    yield c
    c.close()


def _all_cases() -> list[dict]:
    return [case for name in OUR_FILES for case in _load(name)["cases"]] if ADDR else []


def _answered() -> list[dict]:
    """The cases with an answer (refusals are tested by ``test_refusal``)."""
    return [c for c in _all_cases() if "refused" not in c["expected"]]


def _params(kind: str):
    return [pytest.param(c, id=c["name"]) for c in _answered() if c["kind"] == kind]


def _cases(kind: str) -> list[dict]:
    out = [c for c in _answered() if c["kind"] == kind]
    assert out, f"no {kind} cases"
    return out


def expect(case: dict, from_service: dict) -> None:
    """Every field the service computed equals the case's expected field of the same name."""
    want = case["expected"]
    for k, v in from_service.items():
        assert k in want, f"{k}: the service gave {v!r} but the vector has no such field"
        assert v == want[k], f"{k}: service {v!r}, expected {want[k]!r}"


@pytest.mark.parametrize("case", _params("sha256"))
def test_sha256(cc, case):
    data = h(case["input_hex"]) * case.get("repeat", 1)
    expect(case, {"hash": cc.sha256(data).hex()})


def test_sha256_batch(cc):
    cases = _cases("sha256")
    digests = cc.sha256_batch([h(c["input_hex"]) * c.get("repeat", 1) for c in cases])
    assert len(digests) == len(cases)
    for c, d in zip(cases, digests):
        expect(c, {"hash": d.hex()})


def _leaves(case: dict) -> list[bytes]:
    g = case.get("generated_leaves")
    if g is not None:
        return [r.sha256(f"{g['prefix']}{i}".encode("ascii")) for i in range(g["count"])]
    return [h(x) for x in case.get("leaves", [])]


@pytest.mark.parametrize("case", _params("merkle"))
def test_merkle(cc, case):
    leaves = _leaves(case)
    root = cc.merkle_root(leaves)
    got: dict = {"root": root.hex()}
    proofs = []
    for i in case["proof_indices"]:
        steps, proof_root = cc.merkle_proof(leaves, i)
        assert proof_root == root, f"proof {i}: root differs from MerkleRoot"
        proofs.append({"index": i, "steps": [{"sibling": s.hex(), "current_is_right": b} for s, b in steps]})
        assert cc.verify_merkle_proof(leaves[i], steps, root), f"VerifyMerkleProof of leaf {i}"
        assert not cc.verify_merkle_proof(r.sha256(leaves[i]), steps, root), "a wrong leaf verified"
    if proofs:
        got["proofs"] = proofs
    expect(case, got)


@pytest.mark.parametrize("case", _params("header"))
def test_header(cc, case):
    hdr = _header(case["header"])
    x = case.get("poa_extra")
    if x is not None:  # no RPC builds extra_data: the Python reference's
        hdr.extra_data = r.PoaExtra(x["round"], x["timestamp_millis"], h(x["state_commitment"]), x.get("chain_id")).encode()
    block_hash, encoding = cc.hash_header_full(hdr)
    expect(case, {"hash": block_hash.hex(), "encoding": encoding.hex()})


def _transaction(case: dict) -> r.Transaction:
    """The case's transaction: from, data and the signature are the Python reference's."""
    seed, t = h(case["secret_seed"]), case["tx"]
    tx = r.Transaction(
        tx_type=t["tx_type"],
        from_=r.ed25519_public_key(seed),
        to=h(t["to"]),
        amount=t["amount"],
        nonce=t["nonce"],
        gas_limit=t["gas_limit"],
        gas_price=t["gas_price"],
        data=r.chain_tag(case["chain_id"]) + h(case["data_memo_hex"]),
        timestamp=t["timestamp"],
    ).sign(seed)
    if case.get("tamper") == "signature":
        tx.signature = tx.signature[:63] + bytes([tx.signature[63] ^ 0x01])
    elif case.get("tamper") == "amount":
        tx.amount = (tx.amount + 1) % (r.U64_MAX + 1)
    return tx


@pytest.mark.parametrize("case", _params("transaction"))
def test_transaction(cc, case):
    tx = _transaction(case)
    res = cc.hash_transaction(tx)
    valid = cc.ed25519_verify(tx.from_, res.signing_message, tx.signature)
    expect(
        case,
        {
            "hash": res.tx_hash.hex(),
            "encoding": res.encoding.hex(),
            "signing_message": res.signing_message.hex(),
            "valid": valid,
        },
    )


def test_transaction_batch(cc):
    cases = _cases("transaction")
    resp = cc.hash_transaction_batch([_transaction(c) for c in cases], verify_signatures=True)
    assert len(resp.digests) == len(cases)
    for c, d in zip(cases, resp.digests):
        assert d.error == "", f"{c['name']}: {d.error}"
        expect(c, {"hash": bytes(d.tx_hash).hex(), "valid": d.signature_valid})
    assert resp.all_valid == all(d.signature_valid for d in resp.digests)


@pytest.mark.parametrize("case", _params("ed25519"))
def test_ed25519(cc, case):
    expect(case, {"valid": cc.ed25519_verify(h(case["public_key"]), h(case["message_hex"]), h(case["signature"]))})


def test_ed25519_batch(cc):
    # The batch answers per item exactly as the single strict check (README §8), also for the
    # crafted signatures a random-linear-combination batch would accept.
    cases = _cases("ed25519")
    all_valid, verdicts = cc.ed25519_verify_batch(
        [(h(c["public_key"]), h(c["message_hex"]), h(c["signature"])) for c in cases]
    )
    assert len(verdicts) == len(cases)
    for c, v in zip(cases, verdicts):
        expect(c, {"valid": v})
    assert all_valid == all(verdicts)


@pytest.mark.parametrize("case", _params("ed25519_batch"))
def test_ed25519_batch_vectors(cc, case):
    """A malformed item is refused alone (its error names the vector's field); the rest answered."""
    items = [(h(i["public_key"]), h(i["message_hex"]), h(i["signature"])) for i in case["items"]]
    all_valid, verdicts, errors = cc.ed25519_verify_batch_detailed(items)
    assert len(verdicts) == len(errors) == len(items)
    got_items = []
    for want, v, err in zip(case["expected"].get("items", []), verdicts, errors):
        item: dict = {"valid": v}
        if "refused" in want:
            assert err.startswith(want["refused"]["field"] + ":"), err
            item["refused"] = want["refused"]
        else:
            assert err == "", err
        got_items.append(item)
    got: dict = {"all_valid": all_valid}
    if got_items:
        got["items"] = got_items
    expect(case, got)


def _refusal_call(cc, case: dict):
    """(call, field as the RPC names it) for a refusal vector some RPC expresses, else None."""
    kind, field = case["kind"], case["expected"]["refused"]["field"]
    s = cc.stub
    if kind == "header" and "poa_extra" not in case:
        j = case["header"]
        hdr = types_pb2.BlockHeader(
            codec_version=j["codec_version"], block_index=j["block_index"], timestamp=j["timestamp"],
            parent_hash=h(j["parent_hash"]), merkle_root=h(j["merkle_root"]), miner_address=h(j["miner_address"]),
            commitment=h(j["commitment"]), difficulty_target=j["difficulty_target"], nonce=j["nonce"],
            extra_data=h(j["extra_data"]),
        )  # fmt: skip
        return (lambda: s.HashHeader(crypto_pb2.HashHeaderRequest(header=hdr))), field
    if kind == "transaction" and field.startswith("tx.") and field != "tx.tx_type":
        t, seed = case["tx"], h(case["secret_seed"])
        tx = types_pb2.Transaction(
            codec_version=t.get("codec_version", 1), tx_type=r.TX_TYPE_CODES[t["tx_type"]], to=h(t["to"]),
            amount=t["amount"], nonce=t["nonce"], gas_limit=t["gas_limit"], gas_price=t["gas_price"],
            signature=bytes(64), data=r.chain_tag(case["chain_id"]) + h(case["data_memo_hex"]), timestamp=t["timestamp"],
            **{"from": r.ed25519_public_key(seed)},
        )  # fmt: skip
        return (lambda: s.HashTransaction(crypto_pb2.HashTransactionRequest(transaction=tx))), "transaction." + field[3:]
    if kind == "ed25519":
        req = crypto_pb2.Ed25519VerifyRequest(
            public_key=h(case["public_key"]), message=h(case["message_hex"]), signature=h(case["signature"])
        )
        return (lambda: s.Ed25519Verify(req)), field
    if kind == "merkle" and field.startswith("leaves["):
        return (lambda: s.MerkleRoot(crypto_pb2.MerkleRootRequest(leaves=[h(x) for x in case["leaves"]]))), field
    if kind == "merkle" and field.startswith("proof_indices["):
        index = case["proof_indices"][int(field[len("proof_indices[") : -1])]
        req = crypto_pb2.MerkleProofRequest(leaves=[h(x) for x in case["leaves"]], index=index)
        return (lambda: s.MerkleProof(req)), "index"
    if kind == "address":
        return (lambda: s.DeriveAddress(crypto_pb2.DeriveAddressRequest(public_key=h(case["public_key"])))), field
    return None  # the chain tag, the PoA layout, consensus messages and tx_type names have no RPC


def _refused_params():
    return [pytest.param(c, id=c["name"]) for c in _all_cases() if "refused" in c["expected"]]


@pytest.mark.parametrize("case", _refused_params())
def test_refusal(cc, case):
    """Every refusal vector an RPC can express is INVALID_ARGUMENT naming the field; the batch
    refuses the same ed25519 item alone."""
    call = _refusal_call(cc, case)
    if call is None:
        return
    f, field = call
    with pytest.raises(grpc.RpcError) as err:
        f()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert err.value.details().startswith(field + ":"), err.value.details()
    if case["kind"] == "ed25519":
        _, verdicts, errors = cc.ed25519_verify_batch_detailed(
            [(h(case["public_key"]), h(case["message_hex"]), h(case["signature"]))]
        )
        assert verdicts == [False] and errors[0].startswith(f"items[0].{field}:"), errors


@pytest.mark.parametrize("case", _params("address"))
def test_address(cc, case):
    expect(case, {"address": cc.derive_address(h(case["public_key"])).hex()})


@pytest.mark.parametrize("case", _params("subset_sum"))
def test_subset_sum(cc, case):
    p, s = _problem(case["problem"]), _solution(case["solution"])
    if p.tier not in r.TIERS:  # an unknown tier name: over gRPC, the unspecified tier
        resp = cc.stub.VerifySubsetSum(
            crypto_pb2.VerifySubsetSumRequest(
                problem=types_pb2.SubsetSumProblem(tier=0, elements=p.elements, target=p.target, timestamp=p.timestamp),
                solution=types_pb2.SubsetSumSolution(indices=s.indices, timestamp=s.timestamp),
            )
        )
        name = crypto_pb2.SubsetSumRejectReason.Name(resp.reason).removeprefix("SUBSET_SUM_REJECT_REASON_")
        expect(case, {"valid": resp.valid, "reason": name})
        return
    v = cc.verify_subset_sum(p, s)
    got: dict = {"valid": v.valid}
    if v.reason is not None:
        got["reason"] = v.reason
    assert v.valid == (v.detail == ""), f"detail {v.detail!r} with valid {v.valid}"
    if len(p.elements) <= r.MAX_SUBSET_SUM_ELEMENTS and len(s.indices) <= r.MAX_SUBSET_SUM_ELEMENTS:
        # The hashes through CommitRevealCommitment (the salts do not matter for these two).
        c = cc.commit_reveal_commitment(bytes(32), 0, p, s, bytes(32))
        got["problem_hash"], got["solution_hash"] = c.problem_hash.hex(), c.solution_hash.hex()
    expect(case, got)


@pytest.mark.parametrize("case", _params("commit_reveal"))
def test_commit_reveal(cc, case):
    secret, parent, idx = h(case["miner_secret"]), h(case["parent_hash"]), case["block_index"]
    p, s = _problem(case["problem"]), _solution(case["solution"])
    salt = r.miner_salt(secret, parent, idx)  # the secret stays with the miner: Python's HMAC
    c = cc.commit_reveal_commitment(parent, idx, p, s, salt)
    assert cc.epoch_salt(parent, idx) == c.epoch_salt
    expect(
        case,
        {
            "commitment": c.commitment.hex(),
            "epoch_salt": c.epoch_salt.hex(),
            "problem_hash": c.problem_hash.hex(),
            "solution_hash": c.solution_hash.hex(),
            "miner_salt": salt.hex(),
        },
    )


# Consensus messages have no RPC; their signatures are checked through Ed25519Verify.
@pytest.mark.parametrize("case", _params("vote"))
def test_vote_signature(cc, case):
    e = case["expected"]
    assert cc.ed25519_verify(h(e["public_key"]), h(e["signing_message"]), h(e["signature"]))


@pytest.mark.parametrize("case", _params("commit_certificate"))
def test_commit_certificate_signatures(cc, case):
    e = case["expected"]
    enc, head = h(e["encoding"]), 1 + 8 + 4 + 32 + 2
    assert len(enc) >= head and (len(enc) - head) % 96 == 0
    msg = h(e["signing_message"])
    items = [(enc[o : o + 32], msg, enc[o + 32 : o + 96]) for o in range(head, len(enc), 96)]
    all_valid, verdicts = cc.ed25519_verify_batch(items)
    assert all_valid and len(verdicts) == len(items)


def _upstream_params():
    if not ADDR:
        return []
    return [pytest.param(v, id=v["test_name"]) for v in _load("upstream/network_b_vectors.json")["vectors"]]


@pytest.mark.parametrize("vector", _upstream_params())
def test_upstream(cc, vector):
    op = vector["operation"]
    if op == "SHA256":
        data = h(vector["input_hex"])
        if "input_size" in vector:
            data = data[:1] * vector["input_size"]
        got, want = cc.sha256(data), vector["expected_hash"]
    elif op == "MERKLE":
        if "tx_hashes" in vector:
            leaves = [h(x) for x in vector["tx_hashes"]]
        elif vector["tx_count"] == 100:
            leaves = [hashlib.sha256(f"transaction_{i}".encode()).digest() for i in range(100)]
        else:
            leaves = [hashlib.sha256(f"tx_{i:04}".encode()).digest() for i in range(vector["tx_count"])]
        got, want = cc.merkle_root(leaves), vector["expected_root"]
    elif op == "BLOCK_HEADER":
        got, want = cc.hash_header(_header(vector["header"])), vector["expected_hash"]
    else:
        raise AssertionError(f"unknown operation {op}")
    assert got.hex() == want


def test_golden_vectors_self_test(cc):
    """The service's own run passes every case, and runs exactly the cases in golden/."""
    resp = cc.golden_vectors_self_test()
    failed = [f"{x.file}:{x.case_name}: {x.detail}" for x in resp.results if not x.passed]
    assert not failed
    assert resp.failed == 0 and resp.passed + resp.failed == resp.total == len(resp.results)
    want = {f"{name}:{c['name']}" for name in OUR_FILES for c in _load(name)["cases"]}
    want |= {f"upstream/network_b_vectors.json:{v['test_name']}" for v in _load("upstream/network_b_vectors.json")["vectors"]}
    got = {f"{x.file}:{x.case_name}" for x in resp.results}
    assert got == want
    one = cc.golden_vectors_self_test("merkle.json")
    assert one.total > 0 and one.failed == 0
    with pytest.raises(grpc.RpcError) as err:
        cc.golden_vectors_self_test("no-such-file.json")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _hdr(**kw) -> types_pb2.BlockHeader:
    z = bytes(32)
    return types_pb2.BlockHeader(parent_hash=z, merkle_root=z, miner_address=z, commitment=z, **kw)


SHORT = bytes(31)
BAD_INPUT = [
    ("leaf of 31 bytes", lambda s: s.MerkleRoot(crypto_pb2.MerkleRootRequest(leaves=[bytes(32), SHORT])), "leaves[1]"),
    ("proof index out of range", lambda s: s.MerkleProof(crypto_pb2.MerkleProofRequest(leaves=[bytes(32)], index=1)), "index"),
    ("missing header", lambda s: s.HashHeader(crypto_pb2.HashHeaderRequest()), "header"),
    ("header codec_version 2", lambda s: s.HashHeader(crypto_pb2.HashHeaderRequest(header=_hdr(codec_version=2))), "header.codec_version"),
    ("header parent_hash of 31 bytes",
     lambda s: s.HashHeader(crypto_pb2.HashHeaderRequest(header=types_pb2.BlockHeader(
         codec_version=1, parent_hash=SHORT, merkle_root=bytes(32), miner_address=bytes(32), commitment=bytes(32)))),
     "header.parent_hash"),
    ("extra_data of 257 bytes",
     lambda s: s.HashHeader(crypto_pb2.HashHeaderRequest(header=_hdr(codec_version=1, extra_data=bytes(257)))), "header.extra_data"),
    ("transaction tx_type unspecified",
     lambda s: s.HashTransaction(crypto_pb2.HashTransactionRequest(transaction=types_pb2.Transaction(
         codec_version=1, to=bytes(32), signature=bytes(64), **{"from": bytes(32)}))), "transaction.tx_type"),
    ("signature of 63 bytes",
     lambda s: s.HashTransaction(crypto_pb2.HashTransactionRequest(transaction=types_pb2.Transaction(
         codec_version=1, tx_type=1, to=bytes(32), signature=bytes(63), **{"from": bytes(32)}))), "transaction.signature"),
    ("public key of 31 bytes",
     lambda s: s.Ed25519Verify(crypto_pb2.Ed25519VerifyRequest(public_key=SHORT, signature=bytes(64))), "public_key"),
    ("address of a 31-byte key", lambda s: s.DeriveAddress(crypto_pb2.DeriveAddressRequest(public_key=SHORT)), "public_key"),
    ("missing subset-sum problem",
     lambda s: s.VerifySubsetSum(crypto_pb2.VerifySubsetSumRequest(solution=types_pb2.SubsetSumSolution())), "problem"),
    ("miner salt of 31 bytes",
     lambda s: s.CommitRevealCommitment(crypto_pb2.CommitRevealCommitmentRequest(
         parent_hash=bytes(32), miner_salt=SHORT, problem=types_pb2.SubsetSumProblem(tier=1),
         solution=types_pb2.SubsetSumSolution())), "miner_salt"),
]  # fmt: skip


@pytest.mark.parametrize("name,call,field", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_invalid_argument_and_service_keeps_serving(cc, name, call, field):
    with pytest.raises(grpc.RpcError) as err:
        call(cc.stub)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert field in err.value.details(), err.value.details()
    assert cc.sha256(b"abc").hex() == ABC


ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_invalid_signature_is_an_answer_and_oversize_is_refused(cc):
    assert cc.ed25519_verify(bytes(32), b"", bytes(64)) is False
    # 17 MiB: above the 16 MiB limit plus the service's framing slack. The client's own send
    # limit is raised so that the request reaches the service.
    big = grpc.insecure_channel(ADDR, options=[("grpc.max_send_message_length", 32 << 20)])
    try:
        with pytest.raises(grpc.RpcError):
            CryptoCoreClient(big).sha256(bytes(17 << 20))
    finally:
        big.close()
    assert cc.sha256(b"abc").hex() == ABC


def test_seeded_random_inputs_agree_with_the_reference(cc):
    """Cross-language: seeded random headers, transactions and Merkle trees give the same bytes
    in the Python reference and in the (Rust) service."""
    rng = random.Random(20261124)
    rb = lambda n: bytes(rng.getrandbits(8) for _ in range(n))  # noqa: E731
    for _ in range(50):
        hdr = r.BlockHeader(
            block_index=rng.getrandbits(64), timestamp=rng.randint(r.I64_MIN, r.I64_MAX), parent_hash=rb(32),
            merkle_root=rb(32), miner_address=rb(32), commitment=rb(32), difficulty_target=rng.getrandbits(rng.randint(0, 64)),
            nonce=rng.getrandbits(rng.randint(0, 64)), extra_data=rb(rng.randint(0, 256)),
        )  # fmt: skip
        assert cc.hash_header_full(hdr) == (hdr.hash(), hdr.encode())
        seed = rb(32)
        tx = r.Transaction(
            tx_type=rng.choice(list(r.TX_TYPE_CODES)), from_=r.ed25519_public_key(seed), to=rb(32),
            amount=rng.getrandbits(rng.randint(0, 64)), nonce=rng.getrandbits(rng.randint(0, 64)),
            gas_limit=rng.getrandbits(rng.randint(0, 64)), gas_price=rng.getrandbits(rng.randint(0, 64)),
            data=rb(rng.choice([0, 1, 31, 32, 255, 256, 65535, 65536, 70000])), timestamp=rng.randint(r.I64_MIN, r.I64_MAX),
        ).sign(seed)  # fmt: skip
        res = cc.hash_transaction(tx)
        assert (res.tx_hash, res.signing_message, res.encoding) == (tx.hash(), tx.signing_message(), tx.encode())
        assert cc.ed25519_verify(tx.from_, res.signing_message, tx.signature)
        leaves = [rb(32) for _ in range(rng.randint(0, 70))]
        assert cc.merkle_root(leaves) == r.merkle_root(leaves)
        if leaves:
            i = rng.randrange(len(leaves))
            assert cc.merkle_proof(leaves, i) == (r.merkle_proof(leaves, i), r.merkle_root(leaves))
