"""The key never shows in the command line of anything the agent starts, nor in its logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness.ceph import CephEnv
from tests.harness.ocf import AGENTS, run_agent

AGENT = AGENTS / "rbd"


def _all_cmdlines() -> dict[int, str]:
    lines = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                lines[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(
                    "utf-8", "replace")
            except OSError:
                continue
    return lines


@pytest.mark.parametrize("how", ["keyring", "secret_file"])
def test_secret_never_in_cmdline_or_logs(rbd_env: CephEnv, image: str, tmp_path: Path,
                                         how: str) -> None:
    params = rbd_env.params(image)
    if how == "secret_file":
        secret = tmp_path / "client.secret"
        secret.write_text(rbd_env.secret + "\n")
        secret.chmod(0o600)
        del params["keyring"]
        params["secret_file"] = str(secret)
    log = tmp_path / "ha.log"
    env = {"HA_LOGFILE": str(log), "HA_debug": "1"}
    try:
        outputs = [run_agent(AGENT, "start", params, extra_env=env)]
        assert outputs[0].rc == 0, outputs[0].stderr
        pid = int(Path(f"/run/hakit/rbd/{rbd_env.pool}@@{image}/rbd-fuse.pid").read_text())
        cmdlines = _all_cmdlines()
        assert "rbd-fuse" in cmdlines[pid]
        assert not [p for p, line in cmdlines.items() if rbd_env.secret in line]
        environ = Path(f"/proc/{pid}/environ").read_bytes().decode("utf-8", "replace")
        assert rbd_env.secret not in environ  # CEPH_ARGS holds the path, not the key
        outputs.append(run_agent(AGENT, "monitor", params, interval_ms=60000,
                                 extra_env={**env, "OCF_CHECK_LEVEL": "10"}))
        assert outputs[-1].rc == 0
    finally:
        outputs.append(run_agent(AGENT, "stop", params, extra_env=env))
    assert outputs[-1].rc == 0
    assert "rbd-fuse" in log.read_text()  # debug logging was on, and was written
    for text in [log.read_text(), *(o.stdout + o.stderr for o in outputs)]:
        assert rbd_env.secret not in text
