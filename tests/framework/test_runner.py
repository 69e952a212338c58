"""The subprocess runner, against real programs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, NotInstalledError
from hakit.os.runner import CommandFailed, Runner


def _runner(secrets: list[str] | None = None) -> tuple[Runner, list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.Logger("t", logging.DEBUG)
    log.addHandler(Keep())
    return Runner(log, secrets=secrets), lines


def test_echo_and_resolution() -> None:
    runner, _ = _runner()
    result = runner.run(["echo", "hi"], Deadline(5))
    assert result.stdout == "hi\n"
    assert result.argv[0].startswith("/")


def test_stdin_carries_input() -> None:
    runner, _ = _runner()
    assert runner.run(["cat"], Deadline(5), stdin="secret\n").stdout == "secret\n"


def test_failure_raises_with_stderr() -> None:
    runner, _ = _runner()
    with pytest.raises(CommandFailed, match="exited 3: oops"):
        runner.run(["sh", "-c", "echo oops >&2; exit 3"], Deadline(5))
    assert runner.run(["false"], Deadline(5), check=False).returncode == 1


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    runner, _ = _runner()
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(ActionTimeout):
        runner.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], Deadline(1))
    assert time.monotonic() - started < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the grandchild survived the timeout")


def test_expired_deadline_runs_nothing() -> None:
    runner, _ = _runner()
    with pytest.raises(ActionTimeout):
        runner.run(["true"], Deadline(0))


def test_missing_binary_is_not_installed() -> None:
    runner, _ = _runner()
    with pytest.raises(NotInstalledError):
        runner.run(["no-such-binary-hakit"], Deadline(5))


def test_secrets_are_masked_in_logs_and_errors() -> None:
    secrets = ["topsecret"]
    runner, lines = _runner(secrets)
    with pytest.raises(CommandFailed) as info:
        runner.run(["sh", "-c", "echo topsecret >&2; exit 1"], Deadline(5))
    assert "topsecret" not in info.value.reason
    runner.add_secret("other")
    runner.run(["echo", "x"], Deadline(5))
    assert all("topsecret" not in line for line in lines)


def test_environment_is_minimal() -> None:
    os.environ["HAKIT_LEAK"] = "1"
    try:
        runner, _ = _runner()
        assert "HAKIT_LEAK" not in runner.run(["env"], Deadline(5)).stdout
    finally:
        del os.environ["HAKIT_LEAK"]


def test_deadline_poll() -> None:
    calls = []

    def probe() -> int | None:
        calls.append(1)
        return 7 if len(calls) >= 3 else None

    assert Deadline(5).poll(probe, "waiting") == 7
    with pytest.raises(ActionTimeout, match="waiting for nothing"):
        Deadline(0.3).poll(lambda: None, "waiting for nothing")
