"""ocf:hakit:container's parameters and its record, composed of its layers' records.

The container agent declares its own parameters and reuses those of the kinds it stacks
(the same declarations, so the same names, kinds, defaults and text in its metadata).
``from_values`` hands each kind the values derived from the container's (its image, its
mount point under lxcpath, ...) and lets the kind's own ``from_values`` build and check
its record, so a layer is configured and validated exactly as the primitive agent is.
"""

from __future__ import annotations

import os

from hakit.errors import ConfigError
from hakit.lean import frozen
from hakit.ocf.params import AbsolutePath, Address, Name, Param, derived_values
from hakit.os.blockdev import DeviceSpec
from hakit.steps.fs import config as fs_config
from hakit.steps.lxc import config as lxc_config
from hakit.steps.rbd import config as rbd_config
from hakit.steps.rbd.layout import Layout
from hakit.steps.vip import config as vip_config

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.params import Values
    from hakit.steps.fs.config import FsConfig
    from hakit.steps.lxc.config import LxcConfig
    from hakit.steps.rbd.config import RbdConfig
    from hakit.steps.vip.config import VipConfig

NAME = Param("name", Name("a container name"), "Container name",
             "The container's name (lxc-start -n). Its filesystem is mounted at "
             "LXCPATH/NAME, and unless image is set the RBD image has the same name.",
             required=True, unique_group="container")
LXCPATH = Param("lxcpath", AbsolutePath(), "LXC path",
                "The directory holding the container (lxc-start -P); the image's filesystem "
                "is mounted at LXCPATH/NAME (the directory is created when missing) and "
                "holds the container's config and rootfs.", default="/var/lib/lxc",
                unique_group="container")
IMAGE = Param("image", Name("an RBD image name"), "RBD image",
              "The image holding the container's filesystem (default: the container's "
              "name).", unique_group="image")
MOUNT_OPTIONS = Param("mount_options", fs_config.MountOptionsType(), "Mount options",
                      "Mount options of the container's filesystem, as ocf:hakit:fs's "
                      "options (remount, bind and move are refused).", default="")
IP = Param("ip", Address(), "Virtual IP address",
           "An IPv4 or IPv6 address added after the container starts and removed before it "
           "stops (ocf:hakit:vip, with duplicate-address detection). None when unset.",
           unique_group="address")

#: The VIP's parameters the container passes on; set without ip, they are an error.
VIP_ONLY = (vip_config.CIDR_NETMASK, vip_config.NIC, vip_config.NETWORK_NAMESPACE)

PARAMS: tuple[Param[object], ...] = (
    NAME, rbd_config.POOL, IMAGE, rbd_config.NAMESPACE, rbd_config.CEPHCONF, rbd_config.USER,
    rbd_config.KEYRING, rbd_config.DEVICE_TYPE, rbd_config.MS_MODE, rbd_config.BREAK_LOCK,
    fs_config.FSCK, MOUNT_OPTIONS, LXCPATH,
    lxc_config.HEALTH_COMMAND, lxc_config.STOP_TIMEOUT, lxc_config.LOG_FILE, IP, *VIP_ONLY,
)


@frozen
class ContainerConfig:
    """One container's stack: a record per layer, bottom first."""

    name: str
    lxcpath: str
    map: RbdConfig
    mount: FsConfig
    container: LxcConfig
    vip: Optional[VipConfig]  # None: no ip


def from_values(values: Values) -> ContainerConfig:
    """The record, each layer's built and checked by its own kind (validate-all depth 0)."""
    name = values[NAME]
    lxcpath = values[LXCPATH]
    if values.get(IP) is None:
        for param in VIP_ONLY:
            if values.get(param) is not None:
                raise ConfigError(f"parameter '{param.name}' is set but ip is not")
    mapping = rbd_config.from_values(derived_values(rbd_config.PARAMS, {
        rbd_config.POOL: values[rbd_config.POOL], rbd_config.IMAGE: values.get(IMAGE) or name,
        rbd_config.NAMESPACE: values.get(rbd_config.NAMESPACE),
        rbd_config.CEPHCONF: values[rbd_config.CEPHCONF], rbd_config.USER: values[rbd_config.USER],
        rbd_config.KEYRING: values.get(rbd_config.KEYRING),
        rbd_config.DEVICE_TYPE: values[rbd_config.DEVICE_TYPE],
        rbd_config.BREAK_LOCK: values[rbd_config.BREAK_LOCK],
        rbd_config.MS_MODE: values[rbd_config.MS_MODE],
    }))
    mount = fs_config.from_values(derived_values(fs_config.PARAMS, {
        # the mapping's stable link (/dev/hakit/POOL[/NAMESPACE]/IMAGE), whatever the device
        fs_config.DEVICE: DeviceSpec("path", str(Layout().link(mapping.spec))),
        fs_config.DIRECTORY: os.path.join(lxcpath, name),
        fs_config.FSCK: values[fs_config.FSCK], fs_config.OPTIONS: values[MOUNT_OPTIONS],
        fs_config.CREATE_DIRECTORY: True,
    }))
    container = lxc_config.from_values(derived_values(lxc_config.PARAMS, {
        lxc_config.NAME: name, lxc_config.LXCPATH: lxcpath,
        lxc_config.HEALTH_COMMAND: values.get(lxc_config.HEALTH_COMMAND),
        lxc_config.STOP_TIMEOUT: values.get(lxc_config.STOP_TIMEOUT),
        lxc_config.LOG_FILE: values.get(lxc_config.LOG_FILE),
    }))
    vip = None
    if values.get(IP) is not None:
        vip = vip_config.from_values(derived_values(vip_config.PARAMS, {
            vip_config.IP: values[IP], vip_config.CIDR_NETMASK: values.get(vip_config.CIDR_NETMASK),
            vip_config.NIC: values.get(vip_config.NIC),
            vip_config.NETWORK_NAMESPACE: values.get(vip_config.NETWORK_NAMESPACE),
        }))
    return ContainerConfig(name, lxcpath, mapping, mount, container, vip)
