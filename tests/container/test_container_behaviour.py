"""ocf:hakit:container with real layers: start/stop/monitor across them, failures injected in
each layer during start (nothing left behind, the step named), monitor naming a broken
layer, and taking an image over from a dead lock holder."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.container.conftest import VIP4, Stack, StackFactory
from tests.harness.ceph import CephEnv

HOLDER = Path(__file__).resolve().parents[1] / "rbd" / "holder.py"
#: Start and stop get enough time for every layer; the tests finish long before.
TIMEOUT_MS = 60000


def test_start_brings_every_layer_up_and_stop_takes_them_down(stack: Stack) -> None:
    params = stack.params(health_command="/bin/true")
    started = stack.agent("start", params, timeout_ms=TIMEOUT_MS)
    assert started.rc == 0, started.stderr
    assert stack.anything_up() == ["map", "mount", "container", "vip"]
    for depth in ("0", "10", "20"):
        mon = stack.agent("monitor", params, interval_ms=10000,
                          extra_env={"OCF_CHECK_LEVEL": depth})
        assert mon.rc == 0, (depth, mon.stderr)
    stopped = stack.agent("stop", params, timeout_ms=TIMEOUT_MS)
    assert stopped.rc == 0, stopped.stderr
    assert stack.anything_up() == []
    assert stack.agent("monitor", params, interval_ms=0).rc == 7


def _fails_at(stack: Stack, step: str, **extra: str) -> None:
    result = stack.agent("start", stack.params(**extra), timeout_ms=TIMEOUT_MS)
    assert result.rc != 0
    assert f"start failed at step {step}:" in result.reason, result.stderr
    assert "Traceback" not in result.stderr
    assert stack.anything_up() == [], result.stderr
    assert stack.agent("monitor", stack.params(**extra), interval_ms=0).rc == 7


def test_failure_to_map_names_the_step(stacks: StackFactory) -> None:
    stack = stacks.create(vip=True, filesystem=False)
    _fails_at(stack, "map", image="no-such-image")


def test_failure_to_mount_unmaps(stacks: StackFactory) -> None:
    stack = stacks.create(vip=True, filesystem=False)  # a blank image: no ext4 superblock
    _fails_at(stack, "mount")


def test_failure_to_start_the_container_unmounts_and_unmaps(stacks: StackFactory) -> None:
    stack = stacks.create(vip=True, populate=False)  # ext4, but no container on it
    _fails_at(stack, "container")


def test_failure_to_add_the_vip_stops_everything(stack: Stack) -> None:
    assert stack.netns is not None
    stack.netns.ip("link", "set", "eth0", "down")  # check_link refuses a link without carrier
    _fails_at(stack, "vip")


def test_an_address_in_use_is_refused_by_the_probe_run_during_the_lower_layers(
        stacks: StackFactory) -> None:
    stack = stacks.create(vip=True)
    assert stack.peer is not None
    stack.peer.ip("addr", "add", f"{VIP4}/24", "dev", "eth0")  # another host answers for it
    link = json.loads(stack.peer.ip("-json", "link", "show", "eth0").stdout)[0]
    result = stack.agent("start", stack.params(), timeout_ms=TIMEOUT_MS)
    assert result.rc == 1
    assert "start failed at step vip:" in result.reason, result.stderr
    assert f"already in use by {link['address']}" in result.reason
    assert stack.anything_up() == [], result.stderr


def _break(stack: Stack, layer: str) -> None:
    assert stack.netns is not None
    if layer == "map":
        stack.device.unlink()  # the /dev/hakit link the mount is made from
    elif layer == "mount":
        # Another filesystem mounted over the container's hides it.
        subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "hakit-test", str(stack.directory)],
                       check=True, timeout=30)
    elif layer == "container":
        subprocess.run(["/usr/bin/lxc-stop", "-k", "-P", str(stack.lxcpath), "-n", stack.name],
                       check=True, timeout=30)
    else:
        stack.netns.ip("addr", "del", f"{VIP4}/24", "dev", "eth0")


@pytest.mark.parametrize("layer", ["map", "mount", "container", "vip"])
def test_monitor_names_the_broken_layer(stack: Stack, layer: str) -> None:
    started = stack.agent("start", timeout_ms=TIMEOUT_MS)
    assert started.rc == 0, started.stderr
    _break(stack, layer)
    mon = stack.agent("monitor", interval_ms=10000)
    assert mon.rc == 1, mon.stderr
    assert mon.reason.startswith(f"{layer}"), mon.reason
    stopped = stack.agent("stop", timeout_ms=TIMEOUT_MS)
    assert stopped.rc == 0, stopped.stderr
    assert stack.anything_up() == []


def _lock_holder(env: CephEnv, image: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(HOLDER), str(env.cluster.conf), env.user, str(env.keyring),
         env.pool, image, "managed"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line and line[0] == "locked", line
    return proc, line[1]


def test_lock_of_a_dead_holder_is_taken_over(stack: Stack, ceph_env: CephEnv) -> None:
    # A holder whose session expired (no watch left: its node died) is dead by librbd's own
    # rule; break_lock=auto blocklists it and breaks the lock, even without fencing.
    proc, address = _lock_holder(ceph_env, stack.name)
    proc.kill()  # SIGKILL: the lock stays, the watch expires (5 s in the test cluster)
    proc.wait(timeout=10)
    end = time.monotonic() + 30
    result = stack.agent("start", timeout_ms=TIMEOUT_MS)
    while result.rc != 0 and time.monotonic() < end:
        assert "start failed at step map:" in result.reason and "still connected" in result.reason
        assert stack.anything_up() == []
        time.sleep(1)
        result = stack.agent("start", timeout_ms=TIMEOUT_MS)
    assert result.rc == 0, result.stderr
    assert address in ceph_env.cluster.run(["ceph", "osd", "blocklist", "ls"]).stdout
    assert stack.anything_up() == ["map", "mount", "container", "vip"]
    deep = stack.agent("monitor", interval_ms=60000, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 0, deep.stderr
    assert stack.agent("stop", timeout_ms=TIMEOUT_MS).rc == 0


def test_stop_that_cannot_unmount_fails_naming_the_layer(stack: Stack) -> None:
    # A file held open by the agent's own caller (this test) is never signalled: the unmount
    # cannot complete, and stop must fail loudly (Pacemaker then fences), not report success.
    assert stack.agent("start", timeout_ms=TIMEOUT_MS).rc == 0
    held = open(stack.directory / "config", encoding="utf-8")  # noqa: SIM115
    try:
        stopped = stack.agent("stop", timeout_ms=10000)
        assert stopped.rc == 1, stopped.stderr
        assert stopped.reason.startswith("stop failed at step mount:"), stopped.reason
        assert stack.mounted() and stack.mapped()  # nothing below a stuck layer is touched
    finally:
        held.close()
    again = stack.agent("stop", timeout_ms=TIMEOUT_MS)
    assert again.rc == 0, again.stderr
    assert stack.anything_up() == []


def test_reload_agent_changes_reloadable_parameters_without_a_restart(stack: Stack) -> None:
    """health_command, stop_timeout, fsck, break_lock, the keyring path: reload-agent runs
    each layer's, and the container (same init), mount and mapping stay as they were."""
    params = stack.params()
    assert stack.agent("start", params, timeout_ms=TIMEOUT_MS).rc == 0
    init = subprocess.run(["/usr/bin/lxc-info", "-P", str(stack.lxcpath), "-n", stack.name,
                           "-pH"], capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()
    up = stack.anything_up()
    wrong = stack.agent("reload-agent", {**params, "keyring": "/nonexistent/keyring"})
    assert wrong.rc == 2 and "keyring" in wrong.reason, wrong.stderr  # checked, as start would
    new = {**params, "health_command": "/bin/true", "stop_timeout": "1s", "fsck": "force",
           "break_lock": "never"}
    reloaded = stack.agent("reload-agent", new, timeout_ms=TIMEOUT_MS)
    assert reloaded.rc == 0, reloaded.stderr
    after = subprocess.run(["/usr/bin/lxc-info", "-P", str(stack.lxcpath), "-n", stack.name,
                            "-pH"], capture_output=True, text=True, check=True,
                           timeout=30).stdout.strip()
    assert after == init and stack.anything_up() == up
    deep = stack.agent("monitor", new, interval_ms=10000, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 0, deep.stderr
    assert stack.agent("stop", new, timeout_ms=TIMEOUT_MS).rc == 0
