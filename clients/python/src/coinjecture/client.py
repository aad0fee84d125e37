"""Typed gRPC clients for crypto-core and the public API, and conversions to and from protobuf.

``CryptoCoreClient`` and ``PublicApiClient`` are thin wrappers over the generated stubs of
:mod:`coinjecture.v1`: each method takes and returns reference types (:mod:`coinjecture.reference`)
or plain ``bytes``/``int``/``bool``, so code written against the pure-Python reference can switch to
the service (or compare with it) line for line. The raw stubs stay available as ``.stub``.

Addresses are ``host:port`` (plaintext gRPC); an ``http://`` prefix is accepted and dropped.

>>> with CryptoCoreClient("127.0.0.1:50151") as cc:          # doctest: +SKIP
...     cc.hash_header(reference.BlockHeader(timestamp=1609459200, difficulty_target=1000)).hex()
'd1d959b0b7ec30e7613e650973fe34fc55c40bd97c476135e8163ee28068f66c'
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Self, cast

import grpc

from . import reference as ref
from .v1 import api_pb2, api_pb2_grpc, crypto_pb2, crypto_pb2_grpc, types_pb2

# The services' message limit (types.proto conventions).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

TIER_NUMBERS = {"Mobile": 1, "Desktop": 2, "Workstation": 3, "Server": 4, "Cluster": 5}
TIER_NAMES = {v: k for k, v in TIER_NUMBERS.items()}
TX_TYPE_NAMES = {v: k for k, v in ref.TX_TYPE_CODES.items()}
_REASON_PREFIX = "SUBSET_SUM_REJECT_REASON_"


def target(address: str) -> str:
    """``host:port`` from ``host:port`` or ``http(s)://host:port[/]``."""
    for scheme in ("http://", "https://", "grpc://"):
        if address.startswith(scheme):
            address = address[len(scheme) :]
    return address.rstrip("/")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for mutual TLS with a node's internal gRPC services (``api.grpc_port`` or a
    split service off loopback), as ``coinjectured tls gen`` writes them: the validator's CA
    (``ca.pem``) and a certificate and key that CA signed (``node.pem``, ``node-key.pem``). The
    server admits no client without one. ``server_name`` overrides the name checked against the
    server's certificate (default: the host dialed)."""

    ca: str
    cert: str
    key: str
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(field: str, path: str) -> bytes:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise ValueError(f"tls.{field}: cannot read {path}: {e}") from e
            if b"-----BEGIN " not in data:
                raise ValueError(f"tls.{field}: {path} is not PEM")
            return data

        return grpc.ssl_channel_credentials(
            root_certificates=read("ca", self.ca),
            private_key=read("key", self.key),
            certificate_chain=read("cert", self.cert),
        )


def channel(address: str, tls: TlsFiles | None = None) -> grpc.Channel:
    """A channel with the services' 16 MiB message limits: plaintext, or mutual TLS with
    ``tls``."""
    options: list[tuple[str, int | str]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if tls is None:
        return grpc.insecure_channel(target(address), options=options)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.secure_channel(target(address), tls.credentials(), options=options)


# ----------------------------------------------------------------------------------------------
# Conversions: reference <-> protobuf
# ----------------------------------------------------------------------------------------------


def header_to_proto(h: ref.BlockHeader) -> types_pb2.BlockHeader:
    return types_pb2.BlockHeader(
        codec_version=h.codec_version,
        block_index=h.block_index,
        timestamp=h.timestamp,
        parent_hash=h.parent_hash,
        merkle_root=h.merkle_root,
        miner_address=h.miner_address,
        commitment=h.commitment,
        difficulty_target=h.difficulty_target,
        nonce=h.nonce,
        extra_data=h.extra_data,
    )


def header_from_proto(p: types_pb2.BlockHeader) -> ref.BlockHeader:
    return ref.BlockHeader(
        codec_version=p.codec_version,
        block_index=p.block_index,
        timestamp=p.timestamp,
        parent_hash=bytes(p.parent_hash),
        merkle_root=bytes(p.merkle_root),
        miner_address=bytes(p.miner_address),
        commitment=bytes(p.commitment),
        difficulty_target=p.difficulty_target,
        nonce=p.nonce,
        extra_data=bytes(p.extra_data),
    )


def transaction_to_proto(t: ref.Transaction) -> types_pb2.Transaction:
    """The TxType numbers are the signing-message codes (1 Transfer, 2 ProblemSubmission, 3 BountyPayment)."""
    return types_pb2.Transaction(
        codec_version=t.codec_version,
        tx_type=cast(types_pb2.TxType, ref.TX_TYPE_CODES[t.tx_type]),
        to=t.to,
        amount=t.amount,
        nonce=t.nonce,
        gas_limit=t.gas_limit,
        gas_price=t.gas_price,
        signature=t.signature,
        data=t.data,
        timestamp=t.timestamp,
        **{"from": t.from_},
    )


def transaction_from_proto(p: types_pb2.Transaction) -> ref.Transaction:
    if p.tx_type not in TX_TYPE_NAMES:
        raise ValueError(f"tx_type: unknown value {p.tx_type}")
    return ref.Transaction(
        tx_type=TX_TYPE_NAMES[p.tx_type],
        from_=bytes(getattr(p, "from")),
        to=bytes(p.to),
        amount=p.amount,
        nonce=p.nonce,
        gas_limit=p.gas_limit,
        gas_price=p.gas_price,
        signature=bytes(p.signature),
        data=bytes(p.data),
        timestamp=p.timestamp,
        codec_version=p.codec_version,
    )


def block_from_proto(p: types_pb2.Block) -> ref.Block:
    return ref.Block(header_from_proto(p.header), [transaction_from_proto(t) for t in p.transactions])


def block_to_proto(b: ref.Block) -> types_pb2.Block:
    return types_pb2.Block(header=header_to_proto(b.header), transactions=[transaction_to_proto(t) for t in b.transactions])


def checked_block_from_proto(p: types_pb2.Block) -> ref.Block:
    """Like :func:`block_from_proto`, but refuses (``ValueError`` naming the field) what the
    canonical encoding cannot carry: wrong-length hashes and keys, out-of-range numbers. For
    blocks received from the network."""
    block = block_from_proto(p)
    h = block.header
    for name in ("parent_hash", "merkle_root", "miner_address", "commitment"):
        if len(getattr(h, name)) != 32:
            raise ValueError(f"block.header.{name}: expected 32 bytes, found {len(getattr(h, name))}")
    try:
        h.encode()
    except ValueError as e:
        raise ValueError(f"block.header: {e}") from None
    for i, t in enumerate(block.transactions):
        if len(t.from_) != 32 or len(t.to) != 32 or len(t.signature) != 64:
            raise ValueError(f"block.transactions[{i}]: from/to must be 32 bytes and signature 64")
        try:
            t.encode()
        except ValueError as e:
            raise ValueError(f"block.transactions[{i}]: {e}") from None
    return block


_VOTE_TYPES = {types_pb2.VOTE_TYPE_PREVOTE: "prevote", types_pb2.VOTE_TYPE_PRECOMMIT: "precommit"}
_VOTE_TYPE_NUMBERS = {v: k for k, v in _VOTE_TYPES.items()}


def _exact(b: bytes, n: int, name: str) -> bytes:
    if len(b) != n:
        raise ValueError(f"{name}: expected {n} bytes, found {len(b)}")
    return bytes(b)


def vote_to_proto(v: ref.Vote) -> types_pb2.Vote:
    return types_pb2.Vote(
        chain_id=v.chain_id,
        height=v.height,
        round=v.round,
        vote_type=_VOTE_TYPE_NUMBERS[v.vote_type],
        block_hash=v.block_hash or b"",
        validator=v.validator,
        signature=v.signature,
    )


def vote_from_proto(p: types_pb2.Vote) -> ref.Vote:
    """``ValueError`` naming the field for anything the Rust conversion refuses too."""
    if p.vote_type not in _VOTE_TYPES:
        raise ValueError(f"vote_type: must be PREVOTE or PRECOMMIT, found {p.vote_type}")
    return ref.Vote(
        chain_id=ref.validate_chain_id(p.chain_id),
        height=p.height,
        round=p.round,
        vote_type=_VOTE_TYPES[p.vote_type],
        block_hash=_exact(p.block_hash, 32, "block_hash") if p.block_hash else None,
        validator=_exact(p.validator, 32, "validator"),
        signature=_exact(p.signature, 64, "signature"),
    )


def proposal_to_proto(p: ref.Proposal) -> types_pb2.Proposal:
    return types_pb2.Proposal(
        chain_id=p.chain_id,
        height=p.height,
        round=p.round,
        pol_round=-1 if p.pol_round is None else p.pol_round,
        block=block_to_proto(p.block),
        proposer=p.proposer,
        timestamp_ms=p.timestamp_ms,
        signature=p.signature,
    )


def proposal_from_proto(p: types_pb2.Proposal) -> ref.Proposal:
    if p.pol_round < -1:
        raise ValueError(f"pol_round: must be -1 or a round, found {p.pol_round}")
    if not p.HasField("block"):
        raise ValueError("block: required")
    return ref.Proposal(
        chain_id=ref.validate_chain_id(p.chain_id),
        height=p.height,
        round=p.round,
        pol_round=None if p.pol_round == -1 else p.pol_round,
        timestamp_ms=p.timestamp_ms,
        block=checked_block_from_proto(p.block),
        proposer=_exact(p.proposer, 32, "proposer"),
        signature=_exact(p.signature, 64, "signature"),
    )


def certificate_to_proto(c: ref.CommitCertificate) -> types_pb2.CommitCertificate:
    return types_pb2.CommitCertificate(
        height=c.height,
        round=c.round,
        block_hash=c.block_hash,
        signatures=[types_pb2.CommitSignature(validator=v, signature=s) for v, s in c.signatures],
    )


def certificate_from_proto(p: types_pb2.CommitCertificate) -> ref.CommitCertificate:
    if len(p.signatures) > ref.MAX_VALIDATORS:
        raise ValueError(f"commit_certificate.signatures: more than {ref.MAX_VALIDATORS}")
    return ref.CommitCertificate(
        height=p.height,
        round=p.round,
        block_hash=_exact(p.block_hash, 32, "commit_certificate.block_hash"),
        signatures=[
            (_exact(s.validator, 32, f"signatures[{i}].validator"), _exact(s.signature, 64, f"signatures[{i}].signature"))
            for i, s in enumerate(p.signatures)
        ],
    )


def finalized_block_to_proto(block: ref.Block, certificate: ref.CommitCertificate) -> types_pb2.Block:
    p = block_to_proto(block)
    p.commit_certificate.CopyFrom(certificate_to_proto(certificate))
    return p


def finalized_block_from_proto(p: types_pb2.Block) -> tuple[ref.Block, ref.CommitCertificate]:
    if not p.HasField("commit_certificate"):
        raise ValueError("commit_certificate: required")
    return checked_block_from_proto(p), certificate_from_proto(p.commit_certificate)


def problem_to_proto(p: ref.SubsetSumProblem) -> types_pb2.SubsetSumProblem:
    return types_pb2.SubsetSumProblem(
        tier=cast(types_pb2.SubsetSumTier, TIER_NUMBERS[p.tier]), elements=list(p.elements), target=p.target, timestamp=p.timestamp
    )


def problem_from_proto(p: types_pb2.SubsetSumProblem) -> ref.SubsetSumProblem:
    if p.tier not in TIER_NAMES:
        raise ValueError(f"tier: unknown value {p.tier}")
    return ref.SubsetSumProblem(TIER_NAMES[p.tier], list(p.elements), p.target, p.timestamp)


def solution_to_proto(s: ref.SubsetSumSolution) -> types_pb2.SubsetSumSolution:
    return types_pb2.SubsetSumSolution(indices=list(s.indices), timestamp=s.timestamp)


def solution_from_proto(p: types_pb2.SubsetSumSolution) -> ref.SubsetSumSolution:
    return ref.SubsetSumSolution(list(p.indices), p.timestamp)


def reason_name(reason: int) -> str | None:
    """The reference reason code (``"SUM_MISMATCH"``) of a SubsetSumRejectReason; None when valid."""
    if reason == crypto_pb2.SUBSET_SUM_REJECT_REASON_UNSPECIFIED:
        return None
    return crypto_pb2.SubsetSumRejectReason.Name(reason).removeprefix(_REASON_PREFIX)


# ----------------------------------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------------------------------


class _Client:
    def __init__(self, address: str | grpc.Channel, timeout: float | None = 30.0, tls: TlsFiles | None = None):
        self._own = not isinstance(address, grpc.Channel)
        self.channel = channel(address, tls) if isinstance(address, str) else address
        self.timeout = timeout

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Blocks until the channel is connected; ``grpc.FutureTimeoutError`` otherwise."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def close(self) -> None:
        if self._own:
            self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class TransactionHash:
    """What HashTransaction answers."""

    tx_hash: bytes
    signing_message: bytes
    encoding: bytes


@dataclass
class SubmitResult:
    """What SubmitTransaction answers for one transaction: ``tx_hash`` as 64 hex digits (what the
    REST API, the explorer and ``coinjectured wallet`` show), ``reason`` the refusal's name
    (``TX_REJECT_REASON_…``; None when accepted) and ``message`` its detail."""

    tx_hash: str
    accepted: bool
    reason: str | None
    message: str

    @classmethod
    def from_proto(cls, p: types_pb2.TransactionResult) -> SubmitResult:
        reason = None if p.accepted else types_pb2.TxRejectReason.Name(p.reason)
        return cls(bytes(p.tx_hash).hex(), p.accepted, reason, p.message)


@dataclass
class SubsetSumVerdict:
    """What VerifySubsetSum answers; ``reason`` is the reference code (None when valid)."""

    valid: bool
    reason: str | None
    detail: str


@dataclass
class Commitment:
    """What CommitRevealCommitment answers."""

    commitment: bytes
    epoch_salt: bytes
    problem_hash: bytes
    solution_hash: bytes


class CryptoCoreClient(_Client):
    """The ``coinjecture.v1.CryptoCore`` service (``coinjectured service crypto-core``)."""

    def __init__(self, address: str | grpc.Channel, timeout: float | None = 30.0, tls: TlsFiles | None = None):
        super().__init__(address, timeout, tls)
        self.stub = crypto_pb2_grpc.CryptoCoreStub(self.channel)

    def sha256(self, data: bytes) -> bytes:
        return self.stub.Sha256(crypto_pb2.Sha256Request(data=data), timeout=self.timeout).digest

    def sha256_batch(self, inputs: list[bytes]) -> list[bytes]:
        r = self.stub.Sha256Batch(crypto_pb2.Sha256BatchRequest(inputs=inputs), timeout=self.timeout)
        return [bytes(d) for d in r.digests]

    def merkle_root(self, leaves: list[bytes]) -> bytes:
        return self.stub.MerkleRoot(crypto_pb2.MerkleRootRequest(leaves=leaves), timeout=self.timeout).root

    def merkle_proof(self, leaves: list[bytes], index: int) -> tuple[list[tuple[bytes, bool]], bytes]:
        """(steps as in ``reference.merkle_proof``, root)."""
        r = self.stub.MerkleProof(crypto_pb2.MerkleProofRequest(leaves=leaves, index=index), timeout=self.timeout)
        return [(bytes(s.sibling), s.current_is_right) for s in r.steps], bytes(r.root)

    def verify_merkle_proof(self, leaf: bytes, steps: list[tuple[bytes, bool]], root: bytes) -> bool:
        req = crypto_pb2.VerifyMerkleProofRequest(
            leaf=leaf,
            steps=[crypto_pb2.MerkleProofStep(sibling=s, current_is_right=right) for s, right in steps],
            root=root,
        )
        return self.stub.VerifyMerkleProof(req, timeout=self.timeout).valid

    def hash_header_full(self, header: ref.BlockHeader | types_pb2.BlockHeader) -> tuple[bytes, bytes]:
        """(block hash, canonical encoding)."""
        p = header_to_proto(header) if isinstance(header, ref.BlockHeader) else header
        r = self.stub.HashHeader(crypto_pb2.HashHeaderRequest(header=p), timeout=self.timeout)
        return bytes(r.hash), bytes(r.encoding)

    def hash_header(self, header: ref.BlockHeader | types_pb2.BlockHeader) -> bytes:
        return self.hash_header_full(header)[0]

    def hash_transaction(self, tx: ref.Transaction | types_pb2.Transaction) -> TransactionHash:
        p = transaction_to_proto(tx) if isinstance(tx, ref.Transaction) else tx
        r = self.stub.HashTransaction(crypto_pb2.HashTransactionRequest(transaction=p), timeout=self.timeout)
        return TransactionHash(bytes(r.tx_hash), bytes(r.signing_message), bytes(r.encoding))

    def hash_transaction_batch(
        self, txs: list[ref.Transaction | types_pb2.Transaction], verify_signatures: bool = False
    ) -> crypto_pb2.HashTransactionBatchResponse:
        ps = [transaction_to_proto(t) if isinstance(t, ref.Transaction) else t for t in txs]
        req = crypto_pb2.HashTransactionBatchRequest(transactions=ps, verify_signatures=verify_signatures)
        return self.stub.HashTransactionBatch(req, timeout=self.timeout)

    def verify_subset_sum(self, problem: ref.SubsetSumProblem, solution: ref.SubsetSumSolution) -> SubsetSumVerdict:
        req = crypto_pb2.VerifySubsetSumRequest(problem=problem_to_proto(problem), solution=solution_to_proto(solution))
        r = self.stub.VerifySubsetSum(req, timeout=self.timeout)
        return SubsetSumVerdict(r.valid, reason_name(r.reason), r.detail)

    def ed25519_verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        req = crypto_pb2.Ed25519VerifyRequest(public_key=public_key, message=message, signature=signature)
        return self.stub.Ed25519Verify(req, timeout=self.timeout).valid

    def ed25519_verify_batch(self, items: list[tuple[bytes, bytes, bytes]]) -> tuple[bool, list[bool]]:
        """(all_valid, per-item verdicts) for (public key, message, signature) items."""
        req = crypto_pb2.Ed25519VerifyBatchRequest(
            items=[crypto_pb2.Ed25519VerifyRequest(public_key=k, message=m, signature=s) for k, m, s in items]
        )
        r = self.stub.Ed25519VerifyBatch(req, timeout=self.timeout)
        return r.all_valid, list(r.valid)

    def ed25519_verify_batch_detailed(
        self, items: list[tuple[bytes, bytes, bytes]]
    ) -> tuple[bool, list[bool], list[str]]:
        """(all_valid, per-item verdicts, per-item errors): an item the single check refuses (a key
        not 32 bytes, a signature not 64) is ``False`` with an error naming its field
        (``items[3].public_key: …``); the others have ``""`` (golden/README.md §1.4)."""
        req = crypto_pb2.Ed25519VerifyBatchRequest(
            items=[crypto_pb2.Ed25519VerifyRequest(public_key=k, message=m, signature=s) for k, m, s in items]
        )
        r = self.stub.Ed25519VerifyBatch(req, timeout=self.timeout)
        errors = list(r.errors) or [""] * len(r.valid)  # a server before stop 26 sends none
        return r.all_valid, list(r.valid), errors

    def derive_address(self, public_key: bytes) -> bytes:
        req = crypto_pb2.DeriveAddressRequest(public_key=public_key)
        return self.stub.DeriveAddress(req, timeout=self.timeout).address

    def epoch_salt(self, parent_hash: bytes, block_index: int) -> bytes:
        req = crypto_pb2.EpochSaltRequest(parent_hash=parent_hash, block_index=block_index)
        return self.stub.EpochSalt(req, timeout=self.timeout).epoch_salt

    def commit_reveal_commitment(
        self,
        parent_hash: bytes,
        block_index: int,
        problem: ref.SubsetSumProblem,
        solution: ref.SubsetSumSolution,
        miner_salt: bytes,
    ) -> Commitment:
        req = crypto_pb2.CommitRevealCommitmentRequest(
            parent_hash=parent_hash,
            block_index=block_index,
            problem=problem_to_proto(problem),
            solution=solution_to_proto(solution),
            miner_salt=miner_salt,
        )
        r = self.stub.CommitRevealCommitment(req, timeout=self.timeout)
        return Commitment(bytes(r.commitment), bytes(r.epoch_salt), bytes(r.problem_hash), bytes(r.solution_hash))

    def golden_vectors_self_test(self, file: str = "") -> crypto_pb2.GoldenVectorsSelfTestResponse:
        return self.stub.GoldenVectorsSelfTest(crypto_pb2.GoldenVectorsSelfTestRequest(file=file), timeout=self.timeout)


class PublicApiClient(_Client):
    """The node's ``coinjecture.v1.PublicApi`` (served on the node's ``api.port``)."""

    def __init__(self, address: str | grpc.Channel, timeout: float | None = 30.0):
        super().__init__(address, timeout)
        self.stub = api_pb2_grpc.PublicApiStub(self.channel)

    def status(self) -> api_pb2.GetStatusResponse:
        return self.stub.GetStatus(api_pb2.GetStatusRequest(), timeout=self.timeout)

    def block(self, height_or_hash: int | bytes) -> api_pb2.BlockView:
        if isinstance(height_or_hash, bytes):
            req = api_pb2.GetBlockRequest(hash=height_or_hash)
        else:
            req = api_pb2.GetBlockRequest(height=height_or_hash)
        return self.stub.GetBlock(req, timeout=self.timeout).block

    def list_blocks(self, from_height: int | None = None, limit: int = 0, descending: bool = False) -> api_pb2.ListBlocksResponse:
        req = api_pb2.ListBlocksRequest(limit=limit, descending=descending)
        if from_height is not None:
            req.from_height = from_height
        return self.stub.ListBlocks(req, timeout=self.timeout)

    def transaction(self, tx_hash: bytes) -> types_pb2.IndexedTransaction:
        req = api_pb2.GetTransactionRequest(tx_hash=tx_hash)
        return self.stub.GetTransaction(req, timeout=self.timeout).transaction

    def submit_transaction(self, tx: ref.Transaction | types_pb2.Transaction) -> SubmitResult:
        """Submits one transaction; its hash (hex) and whether the mempool took it."""
        p = transaction_to_proto(tx) if isinstance(tx, ref.Transaction) else tx
        req = api_pb2.SubmitTransactionRequest(transaction=p)
        return SubmitResult.from_proto(self.stub.SubmitTransaction(req, timeout=self.timeout).result)

    def submit_transactions(self, txs: list[ref.Transaction | types_pb2.Transaction]) -> list[SubmitResult]:
        """Submits a batch; one result per transaction, in order."""
        ps = [transaction_to_proto(t) if isinstance(t, ref.Transaction) else t for t in txs]
        resp = self.stub.SubmitTransactions(api_pb2.SubmitTransactionsRequest(transactions=ps), timeout=self.timeout)
        return [SubmitResult.from_proto(r) for r in resp.results]

    def account(self, address: bytes) -> types_pb2.Account:
        return self.stub.GetAccount(api_pb2.GetAccountRequest(address=address), timeout=self.timeout).account

    def validators(self, height: int | None = None) -> types_pb2.ValidatorSet:
        req = api_pb2.GetValidatorsRequest()
        if height is not None:
            req.height = height
        return self.stub.GetValidators(req, timeout=self.timeout).validator_set

    def stream_blocks(self, from_height: int = 0) -> Generator[api_pb2.BlockView, None, None]:
        """Finalized blocks from ``from_height`` on, then each new one; cancel by closing the iterator
        (or the client). No timeout applies."""
        call = self.stub.StreamBlocks(api_pb2.StreamBlocksRequest(from_height=from_height))
        try:
            for msg in call:
                yield msg.block
        finally:
            call.cancel()
