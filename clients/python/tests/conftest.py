"""The skip policy of the whole project (as ``coinjecture_test_utils::skip`` in Rust): a test that
skips fails, unless ``COINJECTURE_ALLOW_SKIP`` names it (comma-separated: a test function's name,
its module's name such as ``test_parity``, or ``all``). So a missing tool or an unset variable
cannot turn the suite green unnoticed; ``scripts/test.sh`` sets what every test needs."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

ALLOW_SKIP = "COINJECTURE_ALLOW_SKIP"


def skip_allowed(item: pytest.Item) -> bool:
    allowed = {name.strip() for name in os.environ.get(ALLOW_SKIP, "").split(",") if name.strip()}
    module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
    function = getattr(item, "originalname", None) or item.name
    return bool(allowed & {"all", module, function, item.name})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and not skip_allowed(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} skipped ({reason}). A skipped test fails unless {ALLOW_SKIP} names it: "
            f"provide what it needs, or set {ALLOW_SKIP}={getattr(item, 'originalname', None) or item.name}"
        )
