"""Bad input against the real cluster: each a clear exit code and reason, within the timeout."""

from __future__ import annotations

import time
from pathlib import Path

from tests.harness.ceph import CephEnv, free_port
from tests.harness.ocf import AGENTS, run_agent

AGENT = AGENTS / "rbd"


def test_missing_image_is_not_configured(rbd_env: CephEnv) -> None:
    result = run_agent(AGENT, "start", rbd_env.params("no-such-image"))
    assert result.rc == 6
    assert "no-such-image" in result.reason and "does not exist" in result.reason
    assert "Traceback" not in result.stderr


def test_wrong_pool_is_not_configured(rbd_env: CephEnv, image: str) -> None:
    result = run_agent(AGENT, "start", {**rbd_env.params(image), "pool": "no-such-pool"})
    assert result.rc == 6
    assert "pool 'no-such-pool' does not exist" in result.reason


def test_wrong_key_is_an_auth_failure(rbd_env: CephEnv, image: str, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.secret"
    # A well-formed key that is not the user's.
    wrong.write_text(rbd_env.cluster.run(["ceph-authtool", "--gen-print-key"]).stdout)
    wrong.chmod(0o600)
    params = {**rbd_env.params(image), "secret_file": str(wrong)}
    del params["keyring"]
    result = run_agent(AGENT, "start", params)
    assert result.rc == 2
    assert "authentication" in result.reason and "client.hakit" in result.reason
    assert wrong.read_text().strip() not in result.stderr


def test_unreadable_keyring_names_the_parameter(rbd_env: CephEnv, image: str,
                                                tmp_path: Path) -> None:
    params = {**rbd_env.params(image), "keyring": str(tmp_path / "missing.keyring")}
    result = run_agent(AGENT, "start", params)
    assert result.rc == 2
    assert "keyring" in result.reason


def test_unreachable_monitors_time_out_within_the_deadline(rbd_env: CephEnv,
                                                           image: str) -> None:
    dead = f"v2:127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    params = {**rbd_env.params(image), "mon_host": dead}
    started = time.monotonic()
    result = run_agent(AGENT, "start", params, timeout_ms=6000, limit=30)
    elapsed = time.monotonic() - started
    assert result.rc == 1
    assert "did not answer" in result.reason
    assert elapsed < 8  # functional bound (the action's own timeout), not a benchmark
    deep = run_agent(AGENT, "validate-all", params)
    assert deep.rc == 0  # validation does not contact Ceph
