"""The project's one duration grammar: the Python copy runs the same table of cases as the Rust
parser (``crates/primitives/tests/data/durations.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coinjecture.validator import parse_duration_millis, parse_duration_ms

TABLE = Path(__file__).resolve().parents[3] / "crates" / "primitives" / "tests" / "data" / "durations.json"


def cases() -> list[tuple[str, int | None]]:
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    return [(text, ms) for text, ms in table["cases"]]


def test_the_table_is_there() -> None:
    assert len(cases()) > 30


@pytest.mark.parametrize(("text", "expected"), cases())
def test_every_case_of_the_shared_table(text: str, expected: int | None) -> None:
    if expected is None:
        with pytest.raises(ValueError) as refused:
            parse_duration_millis(text)
        assert text.strip() in str(refused.value)
    else:
        assert parse_duration_millis(text) == expected


def test_block_time_is_between_1ms_and_1h() -> None:
    assert parse_duration_ms("2s") == 2000
    for bad in ["0ms", "61m", "0.0001ms"]:
        with pytest.raises(ValueError):
            parse_duration_ms(bad)
