"""ocf:hakit:lxc on real busybox containers: stop, crash detection, health, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.harness.ocf import agent_env, run_agent
from tests.lxc.conftest import AGENT, STUBBORN_INIT, BusyboxContainer, ContainerPool

from hakit.steps.lxc.marker import StartMarker

NOT_RUNNING = 7


def _wait_stopped(ct: BusyboxContainer, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while ct.state() != "STOPPED":
        assert time.monotonic() < end, f"{ct.name} still {ct.state()}"
        time.sleep(0.05)


def test_stop_kills_a_container_whose_init_ignores_shutdown(container: BusyboxContainer) -> None:
    container.write_rootfs_file("sbin/stubborn-init", STUBBORN_INIT, 0o755)
    container.set_config("lxc.init.cmd", "/sbin/stubborn-init")
    assert container.agent("start").rc == 0
    assert container.state() == "RUNNING"
    started = time.monotonic()
    stop = container.agent("stop", timeout_ms=8000)
    elapsed = time.monotonic() - started
    assert stop.rc == 0, stop.stderr
    assert elapsed < 8.0
    assert "did not shut down cleanly" in stop.stderr
    assert container.state() == "STOPPED"
    assert container.agent("monitor", interval_ms=10000).rc == NOT_RUNNING


def test_stop_timeout_zero_kills_at_once(container: BusyboxContainer) -> None:
    container.write_rootfs_file("sbin/stubborn-init", STUBBORN_INIT, 0o755)
    container.set_config("lxc.init.cmd", "/sbin/stubborn-init")
    params = container.params(stop_timeout="0")
    assert container.agent("start", params).rc == 0
    started = time.monotonic()
    assert container.agent("stop", params).rc == 0
    assert time.monotonic() - started < 3.0
    assert container.state() == "STOPPED"


def test_clean_shutdown_with_a_chosen_signal(container: BusyboxContainer) -> None:
    # This init ignores LXC's halt signal for busybox (SIGUSR1) but exits on SIGTERM.
    container.write_rootfs_file(
        "sbin/term-init", "#!/bin/sh\ntrap '' USR1\ntrap 'exit 0' TERM\n"
        "while :; do sleep 0.2; done\n", 0o755)
    container.set_config("lxc.init.cmd", "/sbin/term-init")
    params = container.params(shutdown_signal="TERM")
    assert container.agent("start", params).rc == 0
    stop = container.agent("stop", params, timeout_ms=20000)
    assert stop.rc == 0, stop.stderr
    assert "did not shut down cleanly" not in stop.stderr
    assert container.state() == "STOPPED"


def test_clean_shutdown_of_busybox_init(container: BusyboxContainer) -> None:
    # Stopped right after start, before busybox init may have set up its handlers: the
    # halt signal is re-sent.  busybox's halt calls sync(), which can take long on a busy
    # host, hence the generous timeout.
    assert container.agent("start").rc == 0
    stop = container.agent("stop", timeout_ms=60000)
    assert stop.rc == 0, stop.stderr
    assert "did not shut down cleanly" not in stop.stderr
    assert container.agent("monitor", interval_ms=0).rc == NOT_RUNNING


def test_crashed_container_is_a_failure_not_a_stop(container: BusyboxContainer) -> None:
    assert container.agent("start").rc == 0
    os.kill(container.init_pid(), signal.SIGKILL)
    _wait_stopped(container)
    monitor = container.agent("monitor", interval_ms=10000)
    assert monitor.rc == 1, monitor.stderr
    assert "not by the cluster" in monitor.reason
    assert container.agent("monitor", interval_ms=0).rc == 1  # a probe too
    # Pacemaker's recovery: stop (succeeds, clears the failure), start again.
    assert container.agent("stop").rc == 0
    assert container.agent("monitor", interval_ms=10000).rc == NOT_RUNNING
    assert container.agent("start").rc == 0
    assert container.agent("monitor", interval_ms=10000).rc == 0


def _parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def test_init_orphaned_by_a_dead_lxc_monitor_is_failed_and_stopped(
        container: BusyboxContainer) -> None:
    assert container.agent("start").rc == 0
    init = container.init_pid()
    monitor = _parent_pid(init)
    assert "lxc monitor" in Path(f"/proc/{monitor}/cmdline").read_text()
    try:
        os.kill(monitor, signal.SIGKILL)
        _wait_stopped(container)  # liblxc finds no monitor: it says STOPPED...
        assert Path(f"/proc/{init}").exists()  # ...while the container's init still runs
        result = container.agent("monitor", interval_ms=10000)
        assert result.rc == 1
        assert f"init (PID {init}) still runs" in result.reason
        refused = container.agent("start")  # a second copy would share the rootfs
        assert (refused.rc, "stop it first" in refused.reason) == (1, True)
        stop = container.agent("stop")
        assert stop.rc == 0, stop.stderr
        assert not Path(f"/proc/{init}").exists()
        assert container.agent("monitor", interval_ms=10000).rc == NOT_RUNNING
    finally:
        if Path(f"/proc/{init}").exists() and _parent_pid(init) != monitor:
            os.kill(init, signal.SIGKILL)  # the test's own orphan, by PID


def test_running_container_whose_lxcpath_became_a_file_is_failed_and_stopped(
        container: BusyboxContainer) -> None:
    """liblxc cannot open a container under a regular file; the start marker still
    names its init, so monitor fails (it runs) and stop kills it rather than succeed
    blindly (bad configuration never fails a stop, but a running container must stop)."""
    assert container.agent("start").rc == 0
    init = container.init_pid()
    lxcpath = container.lxcpath
    moved = lxcpath.with_name(lxcpath.name + ".moved")
    lxcpath.rename(moved)
    try:
        lxcpath.write_text("now a regular file\n")
        result = container.agent("monitor", interval_ms=10000)
        assert result.rc == 1, result.stderr
        assert f"init PID {init}" in result.reason and "'lxcpath'" in result.reason
        stop = container.agent("stop")
        assert stop.rc == 0, stop.stderr
        assert not Path(f"/proc/{init}").exists()
        assert container.agent("monitor").rc == NOT_RUNNING  # a probe
        assert container.agent("stop").rc == 0
    finally:
        if lxcpath.is_file():
            lxcpath.unlink()
        moved.rename(lxcpath)
    _wait_stopped(container)


def test_container_started_outside_the_cluster_is_running(container: BusyboxContainer) -> None:
    assert container.agent("monitor", interval_ms=0).rc == NOT_RUNNING
    subprocess.run(["/usr/bin/lxc-start", "-P", str(container.lxcpath), "-n", container.name],
                   check=True, timeout=30)
    assert container.agent("monitor", interval_ms=0).rc == 0
    assert container.agent("stop").rc == 0
    assert container.state() == "STOPPED"


def test_failing_health_command_fails_deep_monitor_with_its_output(
        container: BusyboxContainer) -> None:
    assert container.agent("start").rc == 0
    failing = container.params(
        health_command="sh -c 'echo checking; echo database unreachable 4711 >&2; exit 3'")
    shallow = container.agent("monitor", failing, interval_ms=10000)
    assert shallow.rc == 0  # depth 0 does not run the health command
    deep = container.agent("monitor", failing, interval_ms=10000,
                           extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 1
    assert "database unreachable 4711" in deep.reason
    assert "exited 3" in deep.reason
    healthy = container.params(health_command="pidof init")
    assert container.agent("monitor", healthy, interval_ms=10000,
                           extra_env={"OCF_CHECK_LEVEL": "10"}).rc == 0


def test_start_waits_until_healthy(container: BusyboxContainer) -> None:
    container.write_rootfs_file("etc/init.d/rcS",
                                "#!/bin/sh\n(sleep 1; touch /tmp/ready) &\n", 0o755)
    params = container.params(health_command="test -e /tmp/ready")
    started = time.monotonic()
    result = container.agent("start", params)
    assert result.rc == 0, result.stderr
    assert time.monotonic() - started >= 1.0
    assert container.agent("monitor", params, interval_ms=10000,
                           extra_env={"OCF_CHECK_LEVEL": "10"}).rc == 0


def test_start_that_never_gets_healthy_fails_in_time(container: BusyboxContainer) -> None:
    params = container.params(health_command="sh -c 'echo not yet ready >&2; exit 1'",
                              start_timeout="3")
    started = time.monotonic()
    result = container.agent("start", params)
    assert result.rc == 1
    assert time.monotonic() - started < 6.0
    assert "healthy" in result.reason
    assert "not yet ready" in result.reason


def test_missing_container_is_not_installed(container_pool: ContainerPool, tmp_path: Path) -> None:
    params = {"name": "hk-absent", "lxcpath": str(container_pool.lxcpath),
              "log_file": str(tmp_path / "l.log")}
    container_pool.lxcpath.mkdir(parents=True, exist_ok=True)
    start = run_agent(AGENT, "start", params)
    assert start.rc == 5
    assert "not defined" in start.reason
    assert run_agent(AGENT, "monitor", params, interval_ms=0).rc == NOT_RUNNING
    assert run_agent(AGENT, "stop", params).rc == 0
    deep = run_agent(AGENT, "validate-all", params, extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 5
    gone = dict(params, lxcpath=str(tmp_path / "nowhere"))
    assert run_agent(AGENT, "start", gone).rc == 5
    assert "lxcpath" in run_agent(AGENT, "start", gone).reason
    explicit = dict(params, config=str(tmp_path / "missing.conf"))
    result = run_agent(AGENT, "start", explicit)
    assert (result.rc, "config" in result.reason) == (5, True)


def test_missing_rootfs_is_not_installed(container: BusyboxContainer) -> None:
    container.rootfs.rename(container.directory / "rootfs.away")
    try:
        result = container.agent("start")
        assert result.rc == 5
        assert "rootfs" in result.reason
    finally:
        (container.directory / "rootfs.away").rename(container.rootfs)


def test_config_without_rootfs_is_misconfigured(container: BusyboxContainer) -> None:
    lines = [line for line in container.config.read_text().splitlines()
             if not line.startswith("lxc.rootfs.path")]
    container.config.write_text("\n".join(lines) + "\n")
    result = container.agent("start")
    assert result.rc == 6
    assert "lxc.rootfs.path" in result.reason


def test_failed_start_quotes_lxc_log(container: BusyboxContainer) -> None:
    container.set_config("lxc.mount.entry", "/nonexistent-hakit-src mnt none bind 0 0")
    result = container.agent("start")
    assert result.rc == 1
    assert "failed to start" in result.reason
    assert "nonexistent-hakit-src" in result.reason  # the cause, from the LXC log
    assert container.agent("stop").rc == 0
    assert container.agent("monitor", interval_ms=10000).rc == NOT_RUNNING


def test_explicit_config_file(container: BusyboxContainer, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.conf"
    container.config.rename(elsewhere)
    params = container.params(config=str(elsewhere))
    assert container.agent("start").rc == 5  # no LXCPATH/NAME/config
    assert container.agent("start", params).rc == 0
    assert container.agent("monitor", params, interval_ms=10000).rc == 0
    elsewhere.rename(tmp_path / "moved.conf")  # stop never needs the configuration...
    stop = container.agent("stop", params, timeout_ms=60000)
    assert stop.rc == 0
    # ...and still sends the container's own halt signal (SIGUSR1), kept in the marker.
    assert "did not shut down cleanly" not in stop.stderr
    assert container.state() == "STOPPED"
    (tmp_path / "moved.conf").rename(container.config)


def test_frozen_container_fails_monitor_and_is_killed_by_stop(
        container: BusyboxContainer) -> None:
    assert container.agent("start").rc == 0
    subprocess.run(["/usr/bin/lxc-freeze", "-P", str(container.lxcpath), "-n", container.name],
                   check=True, timeout=30)
    monitor = container.agent("monitor", interval_ms=10000)
    assert (monitor.rc, "FROZEN" in monitor.reason) == (1, True)
    assert container.agent("stop").rc == 0
    assert container.state() == "STOPPED"


def test_depth_0_monitor_runs_no_program(container: BusyboxContainer, tmp_path: Path) -> None:
    assert container.agent("start").rc == 0
    trace = tmp_path / "process.trace"
    spawning = ("execve", "fork", "vfork", "clone", "clone3")
    env = agent_env(container.params(), interval_ms=10000)
    proc = subprocess.run(["/usr/bin/strace", "-f", "-qq", "-e", "trace=" + ",".join(spawning),
                           "-o", str(trace), str(AGENT), "monitor"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    calls = [line for line in trace.read_text().splitlines()
             if any(f"{call}(" in line for call in spawning)]
    assert len(calls) == 1, calls  # the agent's own execve: no fork, no program


def test_reload_agent_keeps_the_container_and_records_the_new_halt_signal(
        container: BusyboxContainer) -> None:
    """Timeouts, health and the shutdown signal are reloadable: init stays the same
    process, and the halt signal kept for a stop without configuration is the new one."""
    assert container.agent("start").rc == 0
    init = container.init_pid()
    marker = StartMarker(str(container.lxcpath), container.name)
    new = container.params(stop_timeout="3s", shutdown_signal="USR1",
                           health_command="/bin/true", health_timeout="5s")
    result = container.agent("reload-agent", new)
    assert result.rc == 0, result.stderr
    assert container.init_pid() == init
    record = marker.read()
    assert record is not None and record["halt_signal"] == signal.SIGUSR1
    assert record["init_pid"] == init
    deep = container.agent("monitor", new, interval_ms=10000,
                           extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 0, deep.stderr
    assert container.agent("stop", new).rc == 0
