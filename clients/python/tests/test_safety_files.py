"""The safety files in format 2 (``services/consensus/src/safety_file.rs``): the Python validator
writes the bytes the Rust node writes, reads format 1 once (and rewrites it), refuses damaged,
swapped and unknown files, and checks them against the chain at start as the Rust driver does
(damaged, far ahead, missing on a database with this validator's certificates; the dangerous
reset; stale temp files).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coinjecture import consensus as c
from coinjecture import reference as r
from coinjecture import validator as v

DATA = Path(__file__).resolve().parent / "data"

# services/consensus/src/sign_state.rs, the_file_format_is_pinned_for_the_python_validator.
RUST_SIGN_STATE_V2 = (
    "434a5353020000006d0000000000000029000000020262c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"
    "09090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909090909"
    "090909090909090909de02e4da0a789bb60be55bf52d50967189b38df77e634906a1f6e4a52bb7c4c3"
)


def _state(height: int = 41) -> c.SignState:
    return c.SignState.after(height, 2, c.SignStep.PREVOTE, b"m", b"\x09" * 64)


def test_python_writes_the_rust_bytes_and_reads_both_formats():
    s = _state()
    assert s.to_file_bytes().hex() == RUST_SIGN_STATE_V2
    assert c.SignState.from_file_bytes(bytes.fromhex(RUST_SIGN_STATE_V2)) == (s, False)
    assert c.SignState.from_file_bytes(s.encode()) == (s, True)  # format 1: read, flagged for rewrite
    # The lock: the Rust format-1 bytes in the same envelope.
    rust_v1 = bytes.fromhex((DATA / "lock_state_rust.hex").read_text().strip())
    lock, legacy = c.LockState.from_file_bytes(rust_v1)
    assert legacy
    sealed = lock.to_file_bytes()
    body = b"CJLK\x02" + (len(rust_v1) - 1).to_bytes(4, "big") + rust_v1[1:]
    assert sealed == body + r.sha256(body)
    assert c.LockState.from_file_bytes(sealed) == (lock, False)


def test_every_flipped_bit_truncation_and_swap_is_refused_with_the_reason():
    sealed = _state().to_file_bytes()
    for i in range(len(sealed)):
        for bit in range(8):
            damaged = bytearray(sealed)
            damaged[i] ^= 1 << bit
            with pytest.raises(c.SafetyFileError):
                c.SignState.from_file_bytes(bytes(damaged))
    with pytest.raises(c.SafetyFileError, match="checksum mismatch"):
        c.SignState.from_file_bytes(sealed[:12] + bytes([sealed[12] ^ 0x10]) + sealed[13:])
    with pytest.raises(c.SafetyFileError, match="truncated"):
        c.SignState.from_file_bytes(sealed[:60])
    with pytest.raises(c.SafetyFileError, match="not a lock file: it is a signing state file"):
        c.LockState.from_file_bytes(sealed)
    with pytest.raises(c.SafetyFileError, match="version 3 is not supported"):
        c.SignState.from_file_bytes(sealed[:4] + b"\x03" + sealed[5:])
    with pytest.raises(c.SafetyFileError, match="empty file"):
        c.SignState.from_file_bytes(b"")


def test_start_up_checks_refuse_damaged_far_ahead_and_missing_states_naming_the_file(tmp_path: Path):
    path = tmp_path / "validator-1.sign_state"
    # Nothing on a fresh database: start signing.
    assert v.check_safety_files(path, 10, None, False) == (None, None, None)
    # Missing, while a recent certificate carries this validator's signature.
    with pytest.raises(v.ServiceFailed) as e:
        v.check_safety_files(path, 10, 9, False)
    assert str(e.value).startswith(f"the signing state {path} is missing, but the commit certificate at height 9")
    assert v.RESET_FLAG in str(e.value) and "\n" not in str(e.value)
    # ... with the reset: start, signing held until the tip + 1 is final.
    assert v.check_safety_files(path, 10, 9, True) == (None, None, 11)

    # Damaged.
    damaged = bytearray(_state(11).to_file_bytes())
    damaged[12] ^= 0x10
    path.write_bytes(bytes(damaged))
    with pytest.raises(v.ServiceFailed, match=r"is damaged \(checksum mismatch\)"):
        v.check_safety_files(path, 10, None, False)
    assert v.check_safety_files(path, 10, None, True) == (None, None, 11)
    assert not path.exists() and len(list(tmp_path.glob("validator-1.sign_state.damaged-*"))) == 1

    # Far ahead of the ledger.
    path.write_bytes(_state(5_000).to_file_bytes())
    with pytest.raises(v.ServiceFailed, match="more than 1000 heights ahead"):
        v.check_safety_files(path, 10, None, False)
    assert v.check_safety_files(path, 10, None, True) == (_state(5_000), None, 4_999)
    # A little ahead (a recent backup of the database): start, held until its height.
    path.write_bytes(_state(15).to_file_bytes())
    assert v.check_safety_files(path, 10, None, False) == (_state(15), None, 14)

    # Format 1: read once, rewritten in format 2.
    path.write_bytes(_state(11).encode())
    assert v.check_safety_files(path, 10, None, False) == (_state(11), None, None)
    assert path.read_bytes() == _state(11).to_file_bytes()

    # A stale temp file left by a write cut short is removed.
    tmp = tmp_path / "validator-1.sign_state.tmp"
    tmp.write_bytes(b"half")
    v.remove_stale_temp_files([path])
    assert not tmp.exists()
