"""How the composite derives each primitive's parameters, and netns.inside (no Ceph needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hakit.agents import container
from hakit.errors import ConfigError, ParamError
from hakit.ocf.params import parse_values
from hakit.os import netns
from hakit.steps.fs import config as fs_config
from hakit.steps.lxc import config as lxc_config
from hakit.steps.rbd import config as rbd_config
from hakit.steps.vip import config as vip_config
from tests.harness.netns import NetnsPool


def _layers(**raw: str) -> list[container.Layer]:
    values = parse_values(container.AGENT.params, {"name": "web", "pool": "rbd", **raw})
    container.validate(values)
    return container.layers(values)


def test_layers_bottom_first_and_derived_values() -> None:
    mapping, mount, ct, vip = _layers(ip="198.18.0.10", cidr_netmask="24",
                                      lxcpath="/srv/lxc", mount_options="noatime")
    assert [mapping.name, mount.name, ct.name, vip.name] == ["map", "mount", "container", "vip"]
    assert mapping.values.get(rbd_config.IMAGE) == "web"  # image defaults to the name
    assert str(mount.values[fs_config.DEVICE]) == "/dev/hakit/rbd/web"
    assert mount.values[fs_config.DIRECTORY] == "/srv/lxc/web"
    assert mount.values[fs_config.FSTYPE] == "ext4"
    assert ct.values[lxc_config.LXCPATH] == "/srv/lxc"
    assert str(vip.values[vip_config.IP]) == "198.18.0.10"


def test_no_vip_without_ip_and_explicit_image_and_namespace() -> None:
    found = _layers(image="disk", namespace="tenant")
    assert [layer.name for layer in found] == ["map", "mount", "container"]
    assert str(found[1].values[fs_config.DEVICE]) == "/dev/hakit/rbd/tenant/disk"


@pytest.mark.parametrize("raw, name", [
    ({"nic": "eth0"}, "nic"),
    ({"ip": "fd00::1", "cidr_netmask": "255.255.255.0"}, "cidr_netmask"),
    ({"device_type": "fuse", "keyring": "/etc/ceph/my keyring"}, "keyring"),
])
def test_the_primitives_checks_apply(raw: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _layers(**raw)
    assert name in caught.value.reason
    if isinstance(caught.value, ParamError):
        assert caught.value.param == name


@pytest.fixture
def pool() -> Iterator[NetnsPool]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    made = NetnsPool()
    try:
        yield made
    finally:
        made.cleanup()


def test_inside_returns_to_the_original_namespace(pool: NetnsPool) -> None:
    ns = pool.create()
    home = os.stat("/proc/thread-self/ns/net").st_ino
    target = os.stat(f"/run/netns/{ns.name}").st_ino
    with netns.inside(ns.name):
        assert os.stat("/proc/thread-self/ns/net").st_ino == target
    assert os.stat("/proc/thread-self/ns/net").st_ino == home
    with pytest.raises(netns.NamespaceMissing):
        with netns.inside("hkt-no-such-namespace"):
            pass  # pragma: no cover
    assert os.stat("/proc/thread-self/ns/net").st_ino == home
    with netns.inside(None):
        assert os.stat("/proc/thread-self/ns/net").st_ino == home
