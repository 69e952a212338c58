"""ocf:hakit:rbd on the kernel paths, for real: krbd and rbd-nbd in a Debian guest.

Each device type gets one guest (the two run side by side) that walks the agent through what
the fuse tests check on the host: probe, start, idempotent start, monitors at depth 0 and 10,
the /dev/hakit link, a second exclusive mapping refused, ocf:hakit:fs checking and mounting
on the device, a stop refused while the filesystem is mounted, a mapping lost behind the
agent's back, a blocklisted client noticed by both monitors, an image without exclusive-lock
refused, and (krbd) the msgr2-only cluster that krbd reaches only with ms_mode.  The guest has
no udev daemon, like a minimal host: mapping works because the agent passes ``noudev``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.harness.vm import Guest, GuestKernel
from tests.kernel.guestkit import Steps, VmCeph, prelude

DEVICE_TYPES = ("krbd", "nbd")


def _container(ceph: VmCeph, name: str) -> str:
    """ocf:hakit:container (rbd + fs + lxc) on krbd: a busybox container on its own image."""
    link = f"/dev/hakit/{ceph.env.pool}/{name}"
    ct = (f"env OCF_RESKEY_name={name} OCF_RESKEY_image={name} OCF_RESKEY_lxcpath=/run/lxc-vm "
          "OCF_RESKEY_stop_timeout=0 "
          "OCF_RESKEY_health_command=/bin/true OCF_RESOURCE_INSTANCE=ct")
    return f"""
env OCF_RESKEY_image={name} OCF_RESOURCE_INSTANCE=prep $AGENTS/rbd start
mkfs.ext4 -q -F {link} && mkdir -p /run/lxc-vm/{name} && mount {link} /run/lxc-vm/{name}
printf 'lxc.net.0.type = empty\\nlxc.apparmor.profile = unconfined\\n' > /run/lxc-base.conf
lxc-create -q -t busybox -P /run/lxc-vm -n {name} -f /run/lxc-base.conf
umount /run/lxc-vm/{name}
env OCF_RESKEY_image={name} OCF_RESOURCE_INSTANCE=prep $AGENTS/rbd stop
step ct_start {ct} $AGENTS/container start
step ct_monitor20 {ct} OCF_RESKEY_CRM_meta_interval=60000 OCF_CHECK_LEVEL=20 \\
  $AGENTS/container monitor
lxc-info -sH -P /run/lxc-vm -n {name} > steps/ct_state
readlink /dev/hakit/{ceph.env.pool}/{name} > steps/ct_device
step ct_stop {ct} $AGENTS/container stop
step ct_probe {ct} OCF_RESKEY_CRM_meta_interval=0 $AGENTS/container monitor
"""


def _script(ceph: VmCeph, device_type: str, image: str, nolock: str) -> str:
    pool = ceph.env.pool
    link = f"/dev/hakit/{pool}/{image}"
    params = ceph.rbd_params(image, device_type)
    admin = ceph.admin()
    noudev = "-o noudev " if device_type == "krbd" else ""
    if device_type == "krbd":
        second = (f"rbd device map -t krbd -o noudev,noshare,exclusive,ms_mode=prefer-crc "
                  f"{admin} {pool}/{image}")
        legacy = ("step legacy env OCF_RESKEY_ms_mode=legacy $AGENTS/rbd start\n"
                  + _container(ceph, f"ct-{image}"))
    else:
        second = f"rbd-nbd map --exclusive {admin} {pool}/{image}"
        legacy = ""
    fs = (f"env OCF_RESKEY_device={link} OCF_RESKEY_directory=/mnt/vmtest "
          "OCF_RESKEY_create_directory=true")
    probe = "env OCF_RESKEY_CRM_meta_interval=0 $AGENTS/rbd monitor"
    recurring = "env OCF_RESKEY_CRM_meta_interval=10000 $AGENTS/rbd monitor"
    deep = "env OCF_CHECK_LEVEL=10 OCF_RESKEY_CRM_meta_interval=60000 $AGENTS/rbd monitor"
    client = f"/run/hakit/rbd/{pool}@@{image}/client"
    return prelude(params, node="guest-a") + f"""
step probe {probe}
step start $AGENTS/rbd start
readlink {link} > steps/link
step start_again $AGENTS/rbd start
step monitor {recurring}
step monitor10 {deep}
step second_map {second}
sleep 600 < {link} &
BUSY=$!
step stop_busy env OCF_RESKEY_CRM_meta_timeout=30000 $AGENTS/rbd stop
kill $BUSY
step start_after_busy $AGENTS/rbd start
mkfs.ext4 -q -F {link}
step fs_start {fs} $AGENTS/fs start
step fs_monitor20 {fs} OCF_CHECK_LEVEL=20 OCF_RESKEY_CRM_meta_interval=60000 $AGENTS/fs monitor
step stop_mounted env OCF_RESKEY_CRM_meta_timeout=20000 $AGENTS/rbd stop
step fs_stop {fs} $AGENTS/fs stop
timeout 60 rbd device unmap -t {device_type} {noudev}$(readlink {link})
step monitor_lost {recurring}
step stop_lost $AGENTS/rbd stop
step probe_stopped {probe}
step stop_again $AGENTS/rbd stop
step start_blocklisted $AGENTS/rbd start
ceph {admin} osd blocklist add $(cat {client}) 600
sleep 2
step monitor_blocklisted {recurring}
step monitor10_blocklisted {deep}
step stop_blocklisted $AGENTS/rbd stop
step nolock env OCF_RESKEY_image={nolock} $AGENTS/rbd start
step nolock_allowed env OCF_RESKEY_image={nolock} \
  OCF_RESKEY_allow_no_exclusive_lock=true $AGENTS/rbd start
step nolock_allowed_stop env OCF_RESKEY_image={nolock} $AGENTS/rbd stop
step snap_start env OCF_RESKEY_namespace=tenant OCF_RESKEY_image=vol OCF_RESKEY_snap=s1 \
  OCF_RESOURCE_INSTANCE=snap $AGENTS/rbd start
blockdev --getro /dev/hakit/{pool}/tenant/vol > steps/snap_ro
step snap_stop env OCF_RESKEY_namespace=tenant OCF_RESKEY_image=vol OCF_RESKEY_snap=s1 \
  OCF_RESOURCE_INSTANCE=snap $AGENTS/rbd stop
step keyfile_start env -u OCF_RESKEY_keyring OCF_RESKEY_secret_file={ceph.keyfile} \
  $AGENTS/rbd start
step keyfile_stop $AGENTS/rbd stop
{legacy}rbd device list -t {device_type} > steps/left
"""


@pytest.fixture(scope="module")
def walked(guest_kernel: GuestKernel, vm_ceph: VmCeph,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Steps, str]]]:
    """Both device types walked through, in two guests at once."""
    guests: dict[str, tuple[Guest, str]] = {}
    pool = vm_ceph.env.pool
    vm_ceph.cluster.run(["rbd", "namespace", "create", f"{pool}/tenant"])
    vm_ceph.cluster.create_image(f"{pool}/tenant/vol")
    vm_ceph.cluster.run(["rbd", "snap", "create", f"{pool}/tenant/vol@s1"])
    for kind in DEVICE_TYPES:
        image, nolock = f"k-{uuid.uuid4().hex[:8]}", f"nolock-{uuid.uuid4().hex[:8]}"
        vm_ceph.cluster.create_image(f"{vm_ceph.env.pool}/{image}")
        if kind == "krbd":
            vm_ceph.cluster.create_image(f"{vm_ceph.env.pool}/ct-{image}")
        vm_ceph.cluster.run(["rbd", "create", f"{vm_ceph.env.pool}/{nolock}", "--size", "16M",
                             "--image-feature", "layering"])
        guest = Guest(guest_kernel, tmp_path_factory.mktemp(f"guest-{kind}"),
                      name=f"guest-{kind}", netns=vm_ceph.netns)
        guests[kind] = (guest.start(_script(vm_ceph, kind, image, nolock)), image)
    try:
        for guest, _ in guests.values():
            result = guest.wait(900)
            assert result.rc == 0, result.output
        yield {kind: (Steps(guest.dir), image) for kind, (guest, image) in guests.items()}
    finally:
        for guest, _ in guests.values():
            guest.kill()


@pytest.fixture(params=DEVICE_TYPES)
def walk(request: pytest.FixtureRequest,
         walked: dict[str, tuple[Steps, str]]) -> tuple[str, Steps, str]:
    steps, image = walked[request.param]
    return request.param, steps, image


def test_probe_start_monitor_and_link(walk: tuple[str, Steps, str]) -> None:
    kind, steps, _ = walk
    assert steps.rc("probe") == 7
    assert steps.rc("start") == 0, steps.out("start")
    assert steps.text("link").startswith("/dev/rbd" if kind == "krbd" else "/dev/nbd")
    assert steps.rc("start_again") == 0, steps.out("start_again")
    assert steps.rc("monitor") == 0, steps.out("monitor")
    assert steps.rc("monitor10") == 0, steps.out("monitor10")


def test_second_exclusive_mapping_is_refused(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("second_map") != 0, steps.out("second_map")


def test_stop_forces_the_unmap_of_a_device_held_open(walk: tuple[str, Steps, str]) -> None:
    # Open by a process but not mounted: polite retries for half the time left, then
    # `rbd device unmap -o force` before the deadline.  30 s: each rbd CLI run takes 1-2 s
    # of emulated CPU in the guest, more on a loaded machine.
    kind, steps, _ = walk
    assert steps.rc("stop_busy") == 0, steps.out("stop_busy")
    if kind == "krbd":  # (rbd-nbd disconnects an open device without being forced)
        assert "forcing unmap" in steps.out("stop_busy")
    assert steps.rc("start_after_busy") == 0, steps.out("start_after_busy")


def test_fs_checks_and_mounts_on_the_kernel_device(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("fs_start") == 0, steps.out("fs_start")
    assert steps.rc("fs_monitor20") == 0, steps.out("fs_monitor20")
    assert steps.rc("fs_stop") == 0, steps.out("fs_stop")


def test_stop_under_a_mounted_filesystem_is_a_clear_error(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("stop_mounted") == 1
    assert "still mounted at /mnt/vmtest" in steps.reason("stop_mounted")


def test_monitor_notices_a_lost_mapping(walk: tuple[str, Steps, str]) -> None:
    _, steps, image = walk
    assert steps.rc("monitor_lost") == 1, steps.out("monitor_lost")
    assert image in steps.reason("monitor_lost") and "gone" in steps.reason("monitor_lost")
    assert steps.rc("stop_lost") == 0
    assert steps.rc("probe_stopped") == 7
    assert steps.rc("stop_again") == 0


def test_monitors_notice_a_blocklisted_client(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("start_blocklisted") == 0, steps.out("start_blocklisted")
    assert steps.rc("monitor_blocklisted") == 1, steps.out("monitor_blocklisted")
    assert steps.rc("monitor10_blocklisted") == 1, steps.out("monitor10_blocklisted")
    assert "blocklisted" in steps.reason("monitor10_blocklisted")
    assert steps.rc("stop_blocklisted") == 0, steps.out("stop_blocklisted")


def test_image_without_exclusive_lock(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("nolock") == 6
    assert "rbd feature enable" in steps.reason("nolock")
    assert steps.rc("nolock_allowed") == 0, steps.out("nolock_allowed")
    assert steps.rc("nolock_allowed_stop") == 0


def test_snapshot_in_a_namespace_maps_read_only(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("snap_start") == 0, steps.out("snap_start")
    assert steps.text("snap_ro") == "1"
    assert steps.rc("snap_stop") == 0, steps.out("snap_stop")


def test_secret_file_instead_of_a_keyring(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.rc("keyfile_start") == 0, steps.out("keyfile_start")
    assert steps.rc("keyfile_stop") == 0, steps.out("keyfile_stop")


def test_nothing_left_mapped(walk: tuple[str, Steps, str]) -> None:
    _, steps, _ = walk
    assert steps.text("left") in ("", "[]"), steps.text("left")


def test_krbd_needs_ms_mode_on_a_msgr2_only_cluster(walked: dict[str, tuple[Steps, str]]) -> None:
    # The default (ms_mode=auto) mapped above; forcing the kernel's legacy mode shows why.
    steps, _ = walked["krbd"]
    assert steps.rc("legacy") == 1
    assert "ms_mode" in steps.reason("legacy")



def test_container_runs_on_krbd(walked: dict[str, tuple[Steps, str]]) -> None:
    steps, _ = walked["krbd"]
    assert steps.rc("ct_start") == 0, steps.out("ct_start")
    assert steps.rc("ct_monitor20") == 0, steps.out("ct_monitor20")
    assert steps.text("ct_state") == "RUNNING"
    assert steps.text("ct_device").startswith("/dev/rbd")
    assert steps.rc("ct_stop") == 0, steps.out("ct_stop")
    assert steps.rc("ct_probe") == 7, steps.out("ct_probe")
