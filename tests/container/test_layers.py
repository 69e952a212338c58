"""How the composite composes its layers' records, and netns.inside (no Ceph needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hakit.agents import container
from hakit.errors import ConfigError, ParamError
from hakit.ocf.params import parse_values
from hakit.os import netns
from hakit.steps.container import config
from hakit.steps.container.layers import layers
from tests.harness.netns import NetnsPool


def _config(**raw: str) -> config.ContainerConfig:
    values = parse_values(container.AGENT.params, {"name": "web", "pool": "rbd", **raw})
    container.validate(values)
    return config.from_values(values)


def test_records_composed_from_the_containers_values() -> None:
    cfg = _config(ip="198.18.0.10", cidr_netmask="24", lxcpath="/srv/lxc",
                  mount_options="noatime")
    assert [layer.name for layer in layers(cfg)] == ["map", "mount", "container", "vip"]
    assert cfg.map.spec.image == "web"  # image defaults to the name
    assert str(cfg.mount.device) == "/dev/hakit/rbd/web"
    assert cfg.mount.directory == "/srv/lxc/web"
    assert cfg.mount.fstype == "ext4"
    assert cfg.mount.create_directory
    assert cfg.container.name == "web" and cfg.container.lxcpath == "/srv/lxc"
    assert cfg.vip is not None and str(cfg.vip.address) == "198.18.0.10"
    assert cfg.vip.netmask is not None and cfg.vip.netmask.length == 24


def test_no_vip_without_ip_and_explicit_image_and_namespace() -> None:
    cfg = _config(image="disk", namespace="tenant")
    assert [layer.name for layer in layers(cfg)] == ["map", "mount", "container"]
    assert cfg.vip is None
    assert str(cfg.mount.device) == "/dev/hakit/rbd/tenant/disk"


@pytest.mark.parametrize("raw, name", [
    ({"nic": "eth0"}, "nic"),
    ({"ip": "fd00::1", "cidr_netmask": "255.255.255.0"}, "cidr_netmask"),
    ({"device_type": "fuse", "keyring": "/etc/ceph/my keyring"}, "keyring"),
])
def test_the_primitives_checks_apply(raw: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(**raw)
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
