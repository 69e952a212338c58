"""ocf:hakit:rbd — map a Ceph RBD image on the node that runs the service, exclusively.

start checks the image's exclusive lock: a lock held by another client is taken over (the
holder blocklisted first, then its lock broken) only when ``break_lock`` allows it; then the
image is mapped (krbd, nbd, or rbd-fuse + loop) and exposed as ``/dev/hakit/POOL/IMAGE``.
"""

from __future__ import annotations

import os

from hakit.errors import ArgsError, ConfigError, GenericError, NotRunningError, ParamError
from hakit.ocf.agent import Action, Agent, Context, always
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
from hakit.os import ceph
from hakit.os.ceph import Access, ImageSpec
from hakit.steps.rbd_map import (
    MS_MODES,
    FuseMapper,
    KernelMapper,
    Layout,
    Mapped,
    expose,
    linked_device,
    option_names,
    readable,
    save_client,
    saved_client,
    unexpose,
)

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional, Union

#: Environment variable naming cluster nodes to treat as gone (comma-separated) for
#: break_lock=auto, instead of asking Pacemaker (tests, and nodes where crm_mon cannot reach
#: the CIB).
NODES_GONE_OVERRIDE = "HAKIT_NODES_GONE"

#: The object (``NAME.IMAGE_ID``, beside the image) where start records which node's client
#: took the lock ("NODE ADDR"), so a later takeover can tell whose node a live holder is on.
LOCK_HOLDER_NOTE = "hakit_lock_holder"

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


# ----- whose node a lock holder is on, and whether it is gone ---------------------------
def this_node(ctx: Context) -> str:
    """This node's name as Pacemaker knows it (CRM_meta_on_node), else the host name."""
    return ctx.env.meta.get("on_node") or os.uname().nodename


def parse_lock_holder(text: Optional[str]) -> Optional[tuple[str, str]]:
    """(node, client address) from the LOCK_HOLDER_NOTE text, None if malformed."""
    parts = (text or "").split()
    return (parts[0], parts[1]) if len(parts) == 2 else None


def parse_gone_nodes(xml_text: str) -> Optional[set[str]]:
    """Nodes ``crm_mon --output-as=xml`` shows offline and clean (fenced or shut down).

    None when the output is not crm_mon's (no cluster to ask).
    """
    import xml.etree.ElementTree as ET

    try:
        # The output of Pacemaker's own tool on this node, not untrusted input.
        root = ET.fromstring(xml_text)  # noqa: S314
    except ET.ParseError:
        return None
    nodes = root.find("nodes")
    if nodes is None:
        return None
    return {node.get("name", "") for node in nodes.iter("node")
            if node.get("online") == "false" and node.get("unclean") == "false"}


def nodes_gone(ctx: Context, environ: Optional[Mapping[str, str]] = None) -> set[str]:
    """Cluster nodes confirmed gone; empty when the cluster cannot be asked."""
    env = os.environ if environ is None else environ
    override = env.get(NODES_GONE_OVERRIDE)
    if override is not None:
        return {n for n in override.replace(",", " ").split() if n}
    if ctx.runner.which("crm_mon") is None:
        return set()
    result = ctx.runner.run(["crm_mon", "--one-shot", "--output-as=xml", "--include=nodes"],
                            ctx.deadline, timeout=10, check=False)
    return parse_gone_nodes(result.stdout) or set()


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
    if policy == "auto":
        # librbd's own rule: a lock owner without a watch on the image is dead (its
        # session expired), and breaking its lock after blocklisting it is what any librbd
        # writer would do.  A live holder is taken over only from a node the cluster says
        # is gone: blocklisting it then makes sure it cannot write even if it comes back.
        watching = {w.address for w in cluster.watchers(spec)}
        alive = [owner for owner in owners if owner in watching]
        if alive:
            check_holders_gone(ctx, spec, alive,
                               parse_lock_holder(cluster.read_note(spec, LOCK_HOLDER_NOTE)))
        else:
            ctx.log.warning("lock owner(s) %s of %s no longer watch the image: dead",
                            holders, spec)
    expire = ctx.params[BLOCKLIST_EXPIRE]
    for owner in owners:
        ctx.log.warning("breaking the lock of %s held by %s (blocklisted for %ds)", spec,
                        owner, int(expire))
        cluster.break_lock(spec, owner, expire)


def check_holders_gone(ctx: Context, spec: ImageSpec, alive: list[str],
                       recorded: Optional[tuple[str, str]]) -> None:
    """GenericError unless every live holder was mapped by hakit on a node that is gone."""
    gone = None
    for owner in alive:
        node = recorded[0] if recorded is not None and recorded[1] == owner else None
        if node is None:
            raise GenericError(f"image {spec} is locked by client {owner}, still connected, "
                               "on no node hakit knows; break_lock=auto refuses")
        if gone is None:
            gone = nodes_gone(ctx)
        if node not in gone or node == this_node(ctx):
            raise GenericError(f"image {spec} is locked by client {owner} on node {node}, "
                               "still connected and not confirmed gone by the cluster; "
                               "break_lock=auto refuses")
        ctx.log.warning("lock owner %s of %s is on node %s, which the cluster reports gone",
                        owner, spec, node)


def record_owner(ctx: Context, spec: ImageSpec, layout: Layout) -> None:
    """Remember which client holds the lock for this mapping: here for monitor depth 10,
    and beside the image (with this node's name) for a later takeover."""
    with ceph.connect(access_of(ctx.params), ctx.deadline) as cluster:
        owners = cluster.lock_owners(spec)
        if len(owners) == 1:
            cluster.write_note(spec, LOCK_HOLDER_NOTE, f"{this_node(ctx)} {owners[0]}")
    if len(owners) == 1:
        save_client(layout, spec, owners[0])
    else:
        ctx.log.warning("after mapping %s, lock owners are %s", spec, owners or "none")


def require_lock_feature(ctx: Context, cluster: ceph.Cluster, spec: ImageSpec) -> bool:
    """Whether the image has exclusive-lock; ConfigError when it has not (unless allowed)."""
    if cluster.has_exclusive_lock(spec):
        return True
    if ctx.params[ALLOW_NO_LOCK]:
        ctx.log.warning("%s has no exclusive-lock feature: nothing stops a second writer "
                        "(allow_no_exclusive_lock=true)", spec)
        return False
    raise ConfigError(f"image {spec} lacks the exclusive-lock feature, so nothing stops two "
                      f"nodes writing it; run 'rbd feature enable {spec} exclusive-lock' "
                      "(or set allow_no_exclusive_lock=true)")


def kernel_ms_mode(ctx: Context, cluster: ceph.Cluster) -> Optional[str]:
    """The ms_mode for krbd: the parameter, or (auto) prefer-crc for msgr2-only monitors."""
    chosen = ctx.params[MS_MODE]
    if chosen != "auto" or ctx.params[DEVICE_TYPE] != "krbd":
        return None if chosen == "auto" else str(chosen)
    if "ms_mode" in option_names(ctx.params.get(MAP_OPTIONS)):
        return None
    return "prefer-crc" if cluster.msgr2_only() else None


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
        locked = not read_only and require_lock_feature(ctx, cluster, spec)
        if locked:
            take_over_locks(ctx, cluster, spec)
        ms_mode = None if isinstance(mapper, FuseMapper) else kernel_ms_mode(ctx, cluster)
    try:
        if isinstance(mapper, FuseMapper):
            mapped = mapper.map(spec, read_only=read_only)
        else:
            mapped = mapper.map(spec, read_only=read_only,
                                options=ctx.params.get(MAP_OPTIONS), ms_mode=ms_mode,
                                exclusive=locked)
        if locked:
            record_owner(ctx, spec, layout)
        expose(layout, spec, mapped.device)
    except BaseException:
        ctx.log.warning("start of %s failed; undoing the partial mapping", spec)
        stop(ctx, layout)
        raise


def stop(ctx: Context, layout: Optional[Layout] = None) -> None:
    """Unmap whatever is mapped (0 when nothing is); never contacts Ceph.

    The link goes only once the device is unmapped: a stop that fails (a filesystem still
    mounted on it) leaves the mapping as monitor and a retried stop expect to find it.
    """
    layout = layout or Layout()
    spec = spec_of(ctx.params)
    mapper = _mapper(ctx, layout)
    if isinstance(mapper, FuseMapper):
        mapper.unmap(spec)
        unexpose(layout, spec)
        return
    if ctx.runner.which("rbd") is None:
        # Without the rbd CLI nothing can have been mapped through it: stopped (OCF: stop
        # succeeds when the resource is not running).
        ctx.log.info("rbd is not installed: %s cannot be mapped here", spec)
        unexpose(layout, spec)
        return
    found = mapper.find(spec)
    if found is not None:
        mapper.unmap(spec, found)
    unexpose(layout, spec)
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
    link = linked_device(layout, spec)
    if mapped is None:
        if link is not None and not ctx.is_probe:
            # start made the link and stop removes it: the mapping went away under us
            # (unmapped by hand, or its device vanished).
            raise GenericError(f"{spec} was mapped here ({layout.link(spec)} -> {link}) but "
                               "the mapping is gone")
        raise NotRunningError(f"{spec} is not mapped on this node")
    if link != mapped.device:
        raise GenericError(f"{layout.link(spec)} points to {link}, not to {mapped.device}")
    if ctx.check_level >= 10 and not is_read_only(ctx.params):
        # First, so that a blocklisted client is named as such rather than by the I/O
        # error its device then returns.
        check_lock(ctx, spec, layout)
    readable(mapped.device, ctx.deadline)


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


def reload_agent(ctx: Context) -> None:
    """reload-agent: the mapping keeps its own Ceph session, so new access values (conf,
    user, keyring, monitors) and lock policy apply from the next action that connects
    (monitor depth 10, start); check them on this host now, as start would, so that a
    keyring path that is wrong here fails the reload rather than a later monitor."""
    check_environment(ctx)


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
    reload_agent=reload_agent,
    exclusive=True,
    device_io=always,
)
