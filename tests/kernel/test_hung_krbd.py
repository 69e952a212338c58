"""A krbd device whose cluster is cut off hangs for real (I/O waits in the kernel): every
action of ocf:hakit:rbd and ocf:hakit:fs must still return within CRM_meta_timeout, with a
failure and a reason, so that Pacemaker can fence the node instead of waiting forever.

One guest maps an image, mounts it with ocf:hakit:fs and writes; then its only link to Ceph
goes down (eth0) and each action runs with a 10 s timeout under /usr/bin/time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.harness.vm import Guest, GuestKernel
from tests.kernel.guestkit import Steps, VmCeph, prelude

TIMEOUT_S = 10
#: The guard answers from the process start (hakit.ocf.guard); this is QEMU TCG noise.
SLACK_S = 1.0

ACTIONS = {
    # name: (agent, action, extra environment, exit codes that are right for a hung device)
    "rbd_monitor": ("rbd", "monitor", "OCF_RESKEY_CRM_meta_interval=10000", (1,)),
    "rbd_monitor10": ("rbd", "monitor", "OCF_RESKEY_CRM_meta_interval=60000 OCF_CHECK_LEVEL=10",
                      (1,)),
    "fs_monitor": ("fs", "monitor", "OCF_RESKEY_CRM_meta_interval=10000", (0, 1)),
    "fs_monitor10": ("fs", "monitor", "OCF_RESKEY_CRM_meta_interval=60000 OCF_CHECK_LEVEL=10",
                     (1,)),
    "fs_monitor20": ("fs", "monitor", "OCF_RESKEY_CRM_meta_interval=60000 OCF_CHECK_LEVEL=20",
                     (1,)),
    "fs_stop": ("fs", "stop", "", (1,)),
    "rbd_stop": ("rbd", "stop", "", (1,)),
}


def _script(ceph: VmCeph, image: str) -> str:
    link = f"/dev/hakit/{ceph.env.pool}/{image}"
    fs = f"OCF_RESKEY_device={link} OCF_RESKEY_directory=/mnt/hung OCF_RESKEY_create_directory=true"
    lines = [prelude(ceph.rbd_params(image, "krbd"), node="guest-h"),
             "step start $AGENTS/rbd start",
             f"mkfs.ext4 -q -F {link}",
             f"step fs_start env {fs} $AGENTS/fs start",
             "echo before > /mnt/hung/file && sync",
             "ip link set eth0 down",
             "echo data > /mnt/hung/file2",  # dirty data that can no longer be written
             ]
    for name, (agent, action, extra, _) in ACTIONS.items():
        env = f"{fs} {extra}" if agent == "fs" else extra
        lines.append(f"step {name} /usr/bin/time -f %e -o steps/{name}.time env "
                     f"OCF_RESKEY_CRM_meta_timeout={TIMEOUT_S * 1000} {env} "
                     f"$AGENTS/{agent} {action}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hung(guest_kernel: GuestKernel, vm_ceph: VmCeph,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Steps]:
    image = f"hung-{uuid.uuid4().hex[:8]}"
    vm_ceph.cluster.create_image(f"{vm_ceph.env.pool}/{image}")
    guest = Guest(guest_kernel, tmp_path_factory.mktemp("hung"), name="hung",
                  netns=vm_ceph.netns)
    try:
        result = guest.start(_script(vm_ceph, image)).wait(900)
        assert result.rc == 0, result.output
        yield Steps(guest.dir)
    finally:
        guest.kill()


def test_set_up(hung: Steps) -> None:
    assert hung.rc("start") == 0, hung.out("start")
    assert hung.rc("fs_start") == 0, hung.out("fs_start")


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_action_returns_within_its_timeout(hung: Steps, name: str) -> None:
    expected = ACTIONS[name][3]
    elapsed = float(hung.text(f"{name}.time").split()[-1])
    assert elapsed < TIMEOUT_S + SLACK_S, (elapsed, hung.out(name))
    assert hung.rc(name) in expected, hung.out(name)
    if hung.rc(name) != 0:
        assert hung.reason(name), hung.out(name)
