"""The demo path end to end: the hakit stack serves through its VIP; a crash of its node is
fenced through the node's BMC with fence_hakit and the page comes back from another node;
down leaves nothing behind (namespaces, processes, loop devices, cgroups, directories)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

from lab import bmc, image, leftovers, node
from lab.cluster import Lab
from lab.demo import Demo, parse_fence_history, summary
from lab.layout import make_layout
from lab.progress import Progress
from lab.services import LabServices
from lab.stack import stack_names, stack_snippet_argv
from tests.lab.conftest import lab_processes, need_root

pytestmark = pytest.mark.slow


def _loops_of(pool: str) -> list[str]:
    found = []
    for entry in Path("/sys/block").glob("loop*"):
        try:
            back = (entry / "loop" / "backing_file").read_text()
        except OSError:
            continue
        if f"/{pool}@" in back:
            found.append(entry.name)
    return found


def test_demo_failover_through_fence_hakit(tmp_path: Path) -> None:
    need_root()
    name = f"d{secrets.token_hex(3)}"
    layout = make_layout(name, tmp_path / name)
    lab = Lab(layout, Progress(sys.stdout), LabServices())
    names = stack_names(layout)
    try:
        result = Demo(lab).run(move=True)
        assert "hakit lab" in result.page
        assert result.first_answering == result.first_node
        # The planned move: the page came back from the target (downtime is a benchmark).
        assert result.move is not None
        src, dst, _ = result.move
        assert dst not in (src, "?") and result.failover.victim == dst
        f = result.failover
        assert f.served is not None and f.new_node not in (None, f.victim)
        assert f.answering == f.new_node
        # Fenced through its BMC: the power log shows off, then on; the fencer agrees.
        log = [e.what for e in bmc.read_bmcs(layout.state_dir)[f.victim].history()]
        assert log[:4] == ["off requested", "off", "on requested", "on"]
        assert any(e.get("target") == f.victim and e.get("status") == "success"
                   for e in f.fencer_history)
        assert f.detected is not None and f.fenced is not None and f.started is not None
        # served comes from the hub's watcher, started from crm_mon polls: either may
        # be seen first, but both come after the loss was detected.
        assert f.detected <= f.started and f.detected <= f.served
        assert f.rejoined is not None
        print("\n".join(summary(result)))
    finally:
        lab.down()
    assert lab_processes(layout) == set()
    assert not layout.state_dir.exists()
    assert _loops_of(names.pool) == []
    assert leftovers.remove_container_cgroups(names.container) == []


def test_the_lab_stack_maps_through_fuse() -> None:
    # This kernel has neither the rbd nor the nbd module: the generator is asked for fuse.
    layout = make_layout("t0", Path("/x"))
    argv = stack_snippet_argv("python3", stack_names(layout), layout, "n1")
    assert argv[argv.index("--device-type") + 1] == "fuse"


def test_fence_history_parse() -> None:
    xml = ('<pacemaker-result><fence_history><fence_event action="reboot" target="n1" '
           'delegate="n2" status="success"/></fence_history></pacemaker-result>')
    assert parse_fence_history(xml) == [{"action": "reboot", "target": "n1",
                                         "delegate": "n2", "status": "success"}]
    assert parse_fence_history("not xml") == []


def test_fuse_mounts_and_image_mounts(tmp_path: Path) -> None:
    info = ("36 35 98:0 / /mnt rw - ext4 /dev/x rw\n"
            "40 35 0:52 / /run/hakit/rbd/p@@i/mnt rw,nosuid - fuse.rbd-fuse rbd-fuse rw\n"
            "41 35 0:53 / /srv/a\\040b rw - fuse sshfs rw\n")
    assert node.fuse_mounts(info) == [(52, "/run/hakit/rbd/p@@i/mnt"), (53, "/srv/a b")]
    assert image.node_mounts(tmp_path) == []  # a lab without an image mounts nothing
    (image.stage_dir(tmp_path) / "usr/sbin").mkdir(parents=True)
    (image.stage_dir(tmp_path) / "usr/sbin/fence_hakit").touch()
    image.etc_dir(tmp_path).mkdir()
    cmds = image.node_mounts(tmp_path)
    targets = [c[-1] for c in cmds]
    assert targets[:2] == ["/usr/sbin", "/etc"]  # the /etc overlay before corosync's bind
    assert all(c[5].startswith("ro,lowerdir=") for c in cmds[:2])
    assert targets[2:] == ["/var/lib/lxc", "/dev/hakit"]  # fs creates its mount point


def test_container_cgroup_names() -> None:
    assert leftovers.is_container_cgroup("lxc.payload.hakit-web", "hakit-web")
    assert leftovers.is_container_cgroup("lxc.monitor.hakit-web-2", "hakit-web")
    assert not leftovers.is_container_cgroup("lxc.payload.hakit-web2", "hakit-web")
    assert not leftovers.is_container_cgroup("lxc.pivot", "hakit-web")


def test_lab_loop_devices_by_pool() -> None:
    js = ('{"loopdevices": [{"name": "/dev/loop1", "back-file": '
          '"/run/hakit/rbd/x-lab@@web/mnt/web"}, {"name": "/dev/loop2", '
          '"back-file": "/run/hakit/rbd/other@@web/mnt/web"}]}')
    assert leftovers.lab_loop_devices(js, "x-lab") == ["/dev/loop1"]


