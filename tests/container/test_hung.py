"""ocf:hakit:container on hung storage: rbd-fuse stopped with SIGSTOP under a running
container.  Monitors and stop must answer within CRM_meta_timeout with a failure and a
reason (Pacemaker then fences), never hang; after SIGCONT the stack stops cleanly."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.container.conftest import Stack

TIMEOUT_MS = 8000
SLACK_S = 1.0  # the guard answers from the process start; this is scheduling noise


def _fuse_pid(stack: Stack) -> int:
    pidfile = next(Path("/run/hakit/rbd").glob(f"{stack.env.pool}@*@{stack.name}/rbd-fuse.pid"))
    return int(pidfile.read_text())


def test_monitor_and_stop_answer_on_a_hung_device(stack: Stack) -> None:
    params = stack.params(health_command="/bin/true")
    assert stack.agent("start", params, timeout_ms=60000).rc == 0
    pid = _fuse_pid(stack)
    (stack.directory / "rootfs" / "dirty").write_text("not yet written back\n")
    os.kill(pid, signal.SIGSTOP)
    try:
        # (depth 10 may be answered from the loop device's page cache: 0 or 1, in time)
        # (the depth-0 monitor and the probe read the device through the page cache too;
        # start of a running stack checks each layer: each is 0 or 1, in time)
        for action, depth, interval, expected in (("monitor", "0", 0, (0, 1)),
                                                  ("monitor", "0", 10000, (0, 1)),
                                                  ("start", "0", None, (0, 1)),
                                                  ("reload-agent", "0", None, (0, 1)),
                                                  ("monitor", "10", 60000, (0, 1)),
                                                  ("monitor", "20", 120000, (1,)),
                                                  ("stop", "0", None, (1,))):
            started = time.monotonic()
            result = stack.agent(action, params, timeout_ms=TIMEOUT_MS, interval_ms=interval,
                                 extra_env={"OCF_CHECK_LEVEL": depth})
            took = time.monotonic() - started
            print(f"container {action} depth {depth} interval {interval}: rc {result.rc} in "
                  f"{took:.1f} s: {result.reason}")  # for docs/agents
            assert took < TIMEOUT_MS / 1000 + SLACK_S, (action, depth, took, result.stderr)
            assert result.rc in expected, (action, depth, result.stderr)
            if result.rc != 0:
                assert result.reason, result.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    stopped = stack.agent("stop", params, timeout_ms=120000)
    assert stopped.rc == 0, stopped.stderr
    assert stack.anything_up() == []
