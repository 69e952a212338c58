"""Fail the test run when a test was skipped for anything but an accepted host property.

A skip says "this was not tested"; a run whose suites skip because root, Ceph, QEMU or a
package is missing would otherwise pass while testing little.  The guard collects every
skipped test (at collection or in setup/call, xfail included), lets through those whose
message tests/accepted_skips.py accepts, and for the rest turns a passing exit status into
a failing one (pytest's TESTS_FAILED) and lists, per reason, what is missing.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.accepted_skips import accepted


def skip_message(report: pytest.CollectReport | pytest.TestReport) -> str:
    """The text a skip was given (pytest.skip, skipif's reason, xfail's reason)."""
    wasxfail = getattr(report, "wasxfail", None)
    if wasxfail is not None:
        return f"xfail: {wasxfail}" if wasxfail else "xfail"
    longrepr = report.longrepr
    whole = isinstance(longrepr, tuple) and len(longrepr) == 3
    text = str(longrepr[2]) if whole else str(longrepr)  # type: ignore[index]
    return text.removeprefix("Skipped: ")


class SkipGuard:
    """A pytest plugin (one per session, registered in tests/conftest.py)."""

    def __init__(self) -> None:
        self.missing: Counter[str] = Counter()

    def _record(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        if report.skipped:
            message = skip_message(report)
            if not accepted(message):
                self.missing[message] += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._record(report)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._record(report)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.missing and exitstatus in (pytest.ExitCode.OK,
                                           pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.missing:
            return
        total = sum(self.missing.values())
        terminalreporter.section("skipped for a missing prerequisite", sep="=", red=True)
        for message, count in self.missing.most_common():
            terminalreporter.line(f"{count:4d} x {message}", red=True)
        terminalreporter.line(
            f"FAILED: {total} test(s) skipped for a reason that is not an accepted host "
            "property (tests/accepted_skips.py): install what is missing (make deps) and run "
            "as root", red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    """Register the guard (also usable on its own: ``-p tests.harness.skipguard``)."""
    if not config.pluginmanager.has_plugin("hakit-skipguard"):
        config.pluginmanager.register(SkipGuard(), "hakit-skipguard")
