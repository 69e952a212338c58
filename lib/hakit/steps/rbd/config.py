"""An RBD mapping's parameters, and its configuration record parsed from them once.

The parameters are declared here, not in the agent, because ocf:hakit:container declares
several of the same (pool, namespace, cephconf...) and an agent never imports another.
"""

from __future__ import annotations

from hakit.errors import ParamError
from hakit.lean import frozen
from hakit.ocf.params import (
    AbsolutePath,
    Boolean,
    Duration,
    MonitorAddresses,
    Name,
    Param,
    Select,
    String,
    Values,
)
from hakit.os.ceph import Access, ImageSpec

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

#: krbd's ms_mode values (rbd-map(8)); "auto" lets the agent choose from the monitor map.
MS_MODES = ("legacy", "crc", "secure", "prefer-crc", "prefer-secure")

POOL = Param("pool", Name("a Ceph pool name"), "Ceph pool",
             "The pool holding the image.", required=True, unique_group="image")
NAMESPACE = Param("namespace", Name("an RBD namespace name"), "RBD namespace",
                  "The namespace within the pool, if any.", unique_group="image")
IMAGE = Param("image", Name("an RBD image name"), "RBD image",
              "The image to map.", required=True, unique_group="image")
SNAP = Param("snap", Name("a snapshot name"), "Snapshot",
             "Map this snapshot of the image instead of its head; always read-only "
             "(krbd and nbd only: rbd-fuse cannot map snapshots).")
CEPHCONF = Param("cephconf", AbsolutePath(), "Ceph configuration file",
                 "ceph.conf to read (monitors, options).", default="/etc/ceph/ceph.conf",
                 reloadable=True)
USER = Param("user", Name("a cephx user id (without 'client.')"), "cephx user",
             "The cephx id to connect as; it needs 'profile rbd' caps on the pool, which "
             "include the right to blocklist a stale lock holder.", default="admin",
             reloadable=True)
KEYRING = Param("keyring", AbsolutePath(), "Keyring file",
                "Keyring holding the user's key. The key itself never appears on a command "
                "line or in a log: only this path is passed on.", reloadable=True)
SECRET_FILE = Param("secret_file", AbsolutePath(), "Secret file",
                    "Alternative to keyring: a file containing only the user's base64 key "
                    "(Ceph's keyfile).", reloadable=True)
MON_HOST = Param("mon_host", MonitorAddresses(), "Monitor addresses",
                 "Monitors to contact, overriding the configuration "
                 "file's mon_host (e.g. v2:198.18.0.1:3300).", reloadable=True)
DEVICE_TYPE = Param("device_type", Select("krbd", "nbd", "fuse"), "Device type",
                    "How to map: the kernel rbd driver, rbd-nbd, or rbd-fuse with a loop "
                    "device (for hosts without either kernel module).", default="krbd")
MAP_OPTIONS = Param("map_options", String(r"[A-Za-z0-9_=.:+-]+(?:,[A-Za-z0-9_=.:+-]+)*",
                                          "comma-separated map options"),
                    "Map options", "Options passed to 'rbd device map -o' (krbd and nbd).")
READ_ONLY = Param("read_only", Boolean(), "Read-only",
                  "Map read-only; no lock is taken or broken.", default="false")
BREAK_LOCK = Param("break_lock", Select("auto", "always", "never"), "Break a held lock",
                   "What to do when another client holds the image's exclusive lock at start. "
                   "auto: take it over (blocklisting the holder first) when the holder is "
                   "dead (it no longer watches the image, librbd's own rule), or when it is "
                   "still connected but was mapped by hakit on a node the cluster confirms "
                   "gone (crm_mon shows it offline and clean: fenced or shut down); otherwise "
                   "refuse, naming the holder and its node. always: take it over; never: "
                   "fail, naming the holder.", default="auto", reloadable=True)
MS_MODE = Param("ms_mode", Select("auto", *MS_MODES), "krbd messenger mode",
                "The kernel client's ms_mode (rbd-map(8)). auto: prefer-crc when a monitor "
                "speaks only msgr2 (no v1 address in the monitor map), else the kernel's "
                "default (legacy). krbd only.", default="auto")
ALLOW_NO_LOCK = Param("allow_no_exclusive_lock", Boolean(), "Allow images without locking",
                      "Map an image that lacks the exclusive-lock feature read-write. Off by "
                      "default: without the lock nothing stops two nodes writing the image, "
                      "so start refuses such an image and names the 'rbd feature enable' "
                      "command that fixes it.", default="false", reloadable=True)
BLOCKLIST_EXPIRE = Param("blocklist_expire", Duration(60, 7 * 86400), "Blocklist duration",
                         "How long a broken lock's old holder stays blocklisted.",
                         default="3600", reloadable=True)

PARAMS: tuple[Param[object], ...] = (
    POOL, NAMESPACE, IMAGE, SNAP, CEPHCONF, USER, KEYRING, SECRET_FILE, MON_HOST, DEVICE_TYPE,
    MAP_OPTIONS, MS_MODE, READ_ONLY, BREAK_LOCK, BLOCKLIST_EXPIRE, ALLOW_NO_LOCK,
)


@frozen
class RbdConfig:
    """One RBD mapping's configuration, as start, stop and monitor use it."""

    spec: ImageSpec  # pool, namespace, image, and the snapshot if one is mapped
    access: Access  # how to reach Ceph: conf, cephx user, key file, monitors
    device_type: str  # "krbd", "nbd" or "fuse"
    map_options: Optional[str]  # the admin's 'rbd device map -o' list (krbd and nbd)
    ms_mode: str  # krbd's messenger mode, or "auto" (chosen from the monitor map)
    read_only: bool  # read_only=true, or a snapshot (always read-only): no lock
    break_lock: str  # "auto", "always" or "never": what start does with a held lock
    blocklist_expire: float  # seconds a broken lock's old holder stays blocklisted
    allow_no_exclusive_lock: bool  # map read-write an image without exclusive-lock


def option_names(options: Optional[str]) -> set[str]:
    """The option names in a ``-o`` list ("a=1,noudev" -> {"a", "noudev"})."""
    return {o.split("=", 1)[0] for o in (options or "").split(",") if o}


def spec_of(values: Values) -> ImageSpec:
    return ImageSpec(values[POOL], values[IMAGE], values.get(NAMESPACE) or "", values.get(SNAP))


def from_values(values: Values) -> RbdConfig:
    """The record, after the cross-parameter checks (validate-all depth 0); ParamError
    naming the parameter that conflicts."""
    if values.get(KEYRING) and values.get(SECRET_FILE):
        raise ParamError("secret_file", "cannot be used together with keyring; set one")
    fuse = values[DEVICE_TYPE] == "fuse"
    if fuse and values.get(SNAP) is not None:
        raise ParamError("snap", "cannot be mapped with device_type=fuse "
                                 "(rbd-fuse has no snapshot option)")
    if fuse and values.get(MAP_OPTIONS) is not None:
        raise ParamError("map_options", "applies to device_type krbd and nbd only")
    if values[MS_MODE] != "auto":
        if values[DEVICE_TYPE] != "krbd":
            raise ParamError("ms_mode", "applies to device_type krbd only")
        if "ms_mode" in option_names(values.get(MAP_OPTIONS)):
            raise ParamError("ms_mode", "is also set in map_options; set it in one place")
    if fuse:
        # rbd-fuse reads credentials from CEPH_ARGS, which Ceph splits on whitespace.
        for param in (CEPHCONF, KEYRING, SECRET_FILE):
            path = values.get(param)
            if isinstance(path, str) and any(c.isspace() for c in path):
                raise ParamError(param.name, "must not contain whitespace with device_type=fuse")
    return RbdConfig(
        spec=spec_of(values),
        access=Access(user=values[USER], cephconf=values[CEPHCONF],
                      keyring=values.get(KEYRING), secret_file=values.get(SECRET_FILE),
                      mon_host=values.get(MON_HOST)),
        device_type=values[DEVICE_TYPE],
        map_options=values.get(MAP_OPTIONS),
        ms_mode=values[MS_MODE],
        read_only=values[READ_ONLY] or values.get(SNAP) is not None,
        break_lock=values[BREAK_LOCK],
        blocklist_expire=values[BLOCKLIST_EXPIRE],
        allow_no_exclusive_lock=values[ALLOW_NO_LOCK],
    )
