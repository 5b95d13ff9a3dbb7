"""Suite-wide checks. The fixtures themselves come from goalgraph.testing.fixtures (a pytest plugin)."""

from __future__ import annotations

import os
import sys

import pytest

_postgres_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_passed
    if report.when == "call" and report.passed and "[postgres" in report.nodeid:
        _postgres_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI the PostgreSQL half of the suite must have run, not skipped."""
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    if in_ci and session.testscollected and _postgres_passed == 0 and exitstatus == 0:
        print("\nCI: no PostgreSQL test ran; failing the run", file=sys.stderr)
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_passed}")
