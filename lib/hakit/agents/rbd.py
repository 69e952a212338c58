"""ocf:hakit:rbd — map a Ceph RBD image on the node that runs the service, exclusively.

start checks the image's exclusive lock: a lock held by another client is taken over (the
holder blocklisted first, then its lock broken) only when ``break_lock`` allows it; then the
image is mapped (krbd, nbd, or rbd-fuse + loop) and exposed as ``/dev/hakit/POOL/IMAGE``.
"""

from __future__ import annotations

import os

from hakit import ceph
from hakit.ceph import Access, ImageSpec
from hakit.errors import ArgsError, GenericError, NotRunningError, ParamError
from hakit.ocf.agent import Action, Agent, Context
from hakit.ocf.params import (
    AbsolutePath,
    Boolean,
    Duration,
    Name,
    Param,
    Select,
    String,
    Values,
)
from hakit.rbd_map import (
    FuseMapper,
    KernelMapper,
    Layout,
    Mapped,
    expose,
    linked_device,
    readable,
    save_client,
    saved_client,
    unexpose,
)

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional, Union

#: Environment variable that overrides Pacemaker's stonith-enabled for break_lock=auto
#: (tests, and nodes where crm_attribute cannot reach the CIB): "true" or "false".
FENCING_OVERRIDE = "HAKIT_STONITH_ENABLED"

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
                 "ceph.conf to read (monitors, options).", default="/etc/ceph/ceph.conf")
USER = Param("user", Name("a cephx user id (without 'client.')"), "cephx user",
             "The cephx id to connect as; it needs 'profile rbd' caps on the pool, which "
             "include the right to blocklist a stale lock holder.", default="admin")
KEYRING = Param("keyring", AbsolutePath(), "Keyring file",
                "Keyring holding the user's key. The key itself never appears on a command "
                "line or in a log: only this path is passed on.")
SECRET_FILE = Param("secret_file", AbsolutePath(), "Secret file",
                    "Alternative to keyring: a file containing only the user's base64 key "
                    "(Ceph's keyfile).")
MON_HOST = Param("mon_host", String(r"[A-Za-z0-9\[\]:.,/_-]+(?:[ ,][A-Za-z0-9\[\]:.,/_-]+)*",
                                    "a list of monitor addresses"),
                 "Monitor addresses", "Monitors to contact, overriding the configuration "
                 "file's mon_host (e.g. v2:198.18.0.1:3300).")
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
                   "auto: take it over (blocklisting the holder first) when Pacemaker has "
                   "fencing enabled, so the old holder was stopped or fenced before this "
                   "start, or when the holder is dead (it no longer watches the image); "
                   "always: take it over; never: fail, naming the holder. "
                   f"Without a cluster, auto treats fencing as disabled; the environment "
                   f"variable {FENCING_OVERRIDE}=true|false overrides the query.",
                   default="auto")
BLOCKLIST_EXPIRE = Param("blocklist_expire", Duration(60, 7 * 86400), "Blocklist duration",
                         "How long a broken lock's old holder stays blocklisted.",
                         default="3600")

PARAMS: tuple[Param[object], ...] = (
    POOL, NAMESPACE, IMAGE, SNAP, CEPHCONF, USER, KEYRING, SECRET_FILE, MON_HOST, DEVICE_TYPE,
    MAP_OPTIONS, READ_ONLY, BREAK_LOCK, BLOCKLIST_EXPIRE,
)


# ----- parameters -----------------------------------------------------------------------
def spec_of(values: Values) -> ImageSpec:
    return ImageSpec(values[POOL], values[IMAGE], values.get(NAMESPACE) or "", values.get(SNAP))


def access_of(values: Values) -> Access:
    return Access(user=values[USER], cephconf=values[CEPHCONF], keyring=values.get(KEYRING),
                  secret_file=values.get(SECRET_FILE), mon_host=values.get(MON_HOST))


def is_read_only(values: Values) -> bool:
    return values[READ_ONLY] or values.get(SNAP) is not None


def validate(values: Values) -> None:
    if values.get(KEYRING) and values.get(SECRET_FILE):
        raise ParamError("secret_file", "cannot be used together with keyring; set one")
    fuse = values[DEVICE_TYPE] == "fuse"
    if fuse and values.get(SNAP) is not None:
        raise ParamError("snap", "cannot be mapped with device_type=fuse "
                                 "(rbd-fuse has no snapshot option)")
    if fuse and values.get(MAP_OPTIONS) is not None:
        raise ParamError("map_options", "applies to device_type krbd and nbd only")
    if fuse:
        # rbd-fuse reads credentials from CEPH_ARGS, which Ceph splits on whitespace.
        for param in (CEPHCONF, KEYRING, SECRET_FILE):
            path = values.get(param)
            if isinstance(path, str) and any(c.isspace() for c in path):
                raise ParamError(param.name, "must not contain whitespace with device_type=fuse")


def check_environment(ctx: Context) -> None:
    values = ctx.params
    for param in (KEYRING, SECRET_FILE):
        path = values.get(param)
        if path and not os.access(path, os.R_OK):
            raise ArgsError(f"parameter '{param.name}': {path} is not a readable file here")
    conf = values[CEPHCONF]
    if not os.path.exists(conf) and not values.get(MON_HOST):
        raise ArgsError(f"parameter 'cephconf': {conf} does not exist here and mon_host "
                        "is not set")
    if values[DEVICE_TYPE] == "fuse":
        for program in ("rbd-fuse", "losetup", "umount"):
            ctx.runner.require(program)
        if not os.path.exists("/dev/fuse"):
            raise ArgsError("parameter 'device_type': fuse needs /dev/fuse on this host")
    else:
        ctx.runner.require("rbd")


# ----- fencing --------------------------------------------------------------------------
def parse_stonith_enabled(xml_text: str) -> Optional[bool]:
    """stonith-enabled from ``crm_attribute --query --output-as=xml``.

    None when Pacemaker could not be asked (no cluster); True when the CIB has no value,
    as stonith-enabled defaults to true (Pacemaker Explained, cluster options).
    """
    import xml.etree.ElementTree as ET  # noqa: PLC0415 - start-up cost: BENCHMARKS.md

    try:
        # The output of Pacemaker's own tool on this node, not untrusted input.
        root = ET.fromstring(xml_text)  # noqa: S314
    except ET.ParseError:
        return None
    for attr in root.iter("attribute"):
        if attr.get("name") == "stonith-enabled":
            return (attr.get("value") or "").strip().lower() in ("true", "1", "yes", "on", "y")
    status = root.find("status")
    code = status.get("code") if status is not None else None
    # 105 = "No such object": the option is unset, so its default (true) applies.
    return True if code == "105" else None


def fencing_enabled(ctx: Context, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether Pacemaker will fence a failed node before starting its resources elsewhere."""
    env = os.environ if environ is None else environ
    override = env.get(FENCING_OVERRIDE, "").strip().lower()
    if override in ("true", "false"):
        return override == "true"
    if ctx.runner.which("crm_attribute") is None:
        return False
    result = ctx.runner.run(["crm_attribute", "--type", "crm_config", "--name",
                             "stonith-enabled", "--query", "--output-as=xml"],
                            ctx.deadline, timeout=10, check=False)
    return bool(parse_stonith_enabled(result.stdout))


# ----- lock policy ----------------------------------------------------------------------
def take_over_locks(ctx: Context, cluster: ceph.Cluster, spec: ImageSpec) -> None:
    """Refuse, or blocklist and break, a lock another client holds (per break_lock)."""
    owners = cluster.lock_owners(spec)
    if not owners:
        return
    policy = ctx.params[BREAK_LOCK]
    holders = ", ".join(owners)
    if policy == "never":
        raise GenericError(f"image {spec} is locked by client {holders} and break_lock=never")
    if policy == "auto" and not fencing_enabled(ctx):
        # librbd's own rule: a lock owner without a watch on the image is dead (its
        # session expired).  Breaking such a lock after blocklisting the owner is what any
        # librbd writer would do; a live holder is only taken over with fencing on.
        watching = {w.address for w in cluster.watchers(spec)}
        alive = [owner for owner in owners if owner in watching]
        if alive:
            raise GenericError(f"image {spec} is locked by client {', '.join(alive)}, which "
                               "is still connected; break_lock=auto takes over a live "
                               "holder only when fencing (stonith-enabled) is on")
        ctx.log.warning("lock owner(s) %s of %s no longer watch the image: dead", holders,
                        spec)
    expire = ctx.params[BLOCKLIST_EXPIRE]
    for owner in owners:
        ctx.log.warning("breaking the lock of %s held by %s (blocklisted for %ds)", spec,
                        owner, int(expire))
        cluster.break_lock(spec, owner, expire)


def record_owner(ctx: Context, spec: ImageSpec, layout: Layout) -> None:
    """Remember which client holds the lock for this mapping, for monitor depth 10."""
    with ceph.connect(access_of(ctx.params), ctx.deadline) as cluster:
        owners = cluster.lock_owners(spec)
    if len(owners) == 1:
        save_client(layout, spec, owners[0])
    else:
        ctx.log.warning("after mapping %s, lock owners are %s", spec, owners or "none")


# ----- handlers -------------------------------------------------------------------------
if TYPE_CHECKING:
    Mapper = Union[FuseMapper, KernelMapper]


def _mapper(ctx: Context, layout: Layout) -> Mapper:
    kind = ctx.params[DEVICE_TYPE]
    if kind == "fuse":
        return FuseMapper(ctx, layout, access_of(ctx.params))
    return KernelMapper(ctx, layout, kind, access_of(ctx.params))


def start(ctx: Context, layout: Optional[Layout] = None) -> None:
    layout = layout or Layout()
    spec = spec_of(ctx.params)
    mapper = _mapper(ctx, layout)
    try:
        current = mapper.find(spec)
    except GenericError as exc:
        ctx.log.warning("cleaning up a broken mapping of %s: %s", spec, exc.reason)
        stop(ctx, layout)
        current = None
    if current is not None:
        expose(layout, spec, current.device)  # already mapped: start is idempotent
        return
    read_only = is_read_only(ctx.params)
    with ceph.connect(access_of(ctx.params), ctx.deadline) as cluster:
        with cluster.image(spec, read_only=True):
            pass  # ConfigError (rc 6) naming the pool, image or snapshot when missing
        if not read_only:
            take_over_locks(ctx, cluster, spec)
    try:
        if isinstance(mapper, FuseMapper):
            mapped = mapper.map(spec, read_only=read_only)
        else:
            mapped = mapper.map(spec, read_only=read_only,
                                options=ctx.params.get(MAP_OPTIONS))
        if not read_only:
            record_owner(ctx, spec, layout)
        expose(layout, spec, mapped.device)
    except BaseException:
        ctx.log.warning("start of %s failed; undoing the partial mapping", spec)
        stop(ctx, layout)
        raise


def stop(ctx: Context, layout: Optional[Layout] = None) -> None:
    """Unmap whatever is mapped (0 when nothing is); never contacts Ceph."""
    layout = layout or Layout()
    spec = spec_of(ctx.params)
    unexpose(layout, spec)
    mapper = _mapper(ctx, layout)
    if isinstance(mapper, FuseMapper):
        mapper.unmap(spec)
        return
    if ctx.runner.which("rbd") is None:
        # Without the rbd CLI nothing can have been mapped through it: stopped (OCF: stop
        # succeeds when the resource is not running).
        ctx.log.info("rbd is not installed: %s cannot be mapped here", spec)
        return
    found = mapper.find(spec)
    if found is not None:
        mapper.unmap(spec, found)
    state = layout.state(spec)
    for name in ("client",):
        try:
            (state / name).unlink()
        except FileNotFoundError:
            pass
    try:
        state.rmdir()
    except OSError:
        pass


def monitor(ctx: Context, layout: Optional[Layout] = None) -> None:
    layout = layout or Layout()
    spec = spec_of(ctx.params)
    mapped: Optional[Mapped] = _mapper(ctx, layout).find(spec)
    if mapped is None:
        raise NotRunningError(f"{spec} is not mapped on this node")
    link = linked_device(layout, spec)
    if link != mapped.device:
        raise GenericError(f"{layout.link(spec)} points to {link}, not to {mapped.device}")
    readable(mapped.device, ctx.deadline)
    if ctx.check_level >= 10 and not is_read_only(ctx.params):
        check_lock(ctx, spec, layout)


def check_lock(ctx: Context, spec: ImageSpec, layout: Layout) -> None:
    """Depth 10: this node's client still holds the lock and is not blocklisted."""
    mine = saved_client(layout, spec)
    with ceph.connect(access_of(ctx.params), ctx.deadline) as cluster:
        owners = cluster.lock_owners(spec)
        if mine is None:
            if owners:
                raise GenericError(f"{spec} is mapped here but its lock is held by "
                                   f"{', '.join(owners)}")
            return
        if cluster.is_blocklisted(mine):
            raise GenericError(f"this node's client {mine} for {spec} is blocklisted")
    if owners and mine not in owners:
        raise GenericError(f"the lock of {spec} moved to {', '.join(owners)}; this node's "
                           f"client {mine} lost it")


AGENT = Agent(
    name="rbd",
    version="1.0",
    shortdesc="Maps a Ceph RBD image exclusively",
    longdesc=(
        "Maps a Ceph RBD image on this node (kernel rbd, rbd-nbd, or rbd-fuse with a loop "
        "device) and exposes it as /dev/hakit/POOL[/NAMESPACE]/IMAGE for ocf:hakit:fs. A "
        "read-write mapping holds the image's exclusive lock; a lock held by another client "
        "is taken over only as break_lock allows, always blocklisting the old holder before "
        "breaking its lock so it can no longer write. monitor depth 0 checks the mapping "
        "and reads the device without contacting Ceph; depth 10 also checks that this "
        "node's client still holds the lock and is not blocklisted."
    ),
    params=PARAMS,
    actions=(
        Action("start", 60),
        Action("stop", 60),
        Action("monitor", 20, interval=10, depth=0),
        Action("monitor", 30, interval=60, depth=10),
    ),
    start=start,
    stop=stop,
    monitor=monitor,
    validate=validate,
    check_environment=check_environment,
)
