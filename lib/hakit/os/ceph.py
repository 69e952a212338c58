"""The Ceph boundary: the only hakit module that imports librados/librbd (python3-rados/rbd).

Every call is bounded by the action's deadline: the client's mount, monitor and OSD
operation timeouts are set from it, so a dead or unreachable cluster gives an error within
the time left, never a hang.  The bindings' exceptions become ``hakit.errors``:

- unreachable monitors, or a cluster that stops answering: ``ActionTimeout`` (rc 1, soft:
  Pacemaker may retry or recover elsewhere);
- wrong key or a user without the capabilities: ``ArgsError`` (rc 2: this node's keyring);
- a missing pool or image: ``ConfigError`` (rc 6: the cluster is shared by every node, so the
  configuration names something that exists nowhere).
"""

from __future__ import annotations

import errno

from hakit.errors import (
    ActionTimeout,
    ArgsError,
    ConfigError,
    GenericError,
    HakitError,
    NotInstalledError,
)
from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Optional

    from hakit.deadline import Deadline

#: librados needs a little time even when the deadline is almost spent.
MIN_TIMEOUT = 1.0


@frozen
class Access:
    """How to reach the cluster and who to be; secrets stay in files, never in argv."""

    user: str = "admin"  # cephx id, without "client."
    cephconf: Optional[str] = None  # ceph.conf path; None: librados' default search
    keyring: Optional[str] = None  # keyring file path
    secret_file: Optional[str] = None  # file holding the bare base64 key (ceph's "keyfile")
    mon_host: Optional[str] = None  # overrides the conf's monitors

    def cli_args(self) -> list[str]:
        """Options for the rbd CLI (and CEPH_ARGS for rbd-fuse): file paths, never a key."""
        args = ["--id", self.user]
        if self.cephconf:
            args = ["--conf", self.cephconf, *args]
        if self.keyring:
            args += ["--keyring", self.keyring]
        if self.secret_file:
            args += ["--keyfile", self.secret_file]
        if self.mon_host:
            args += ["--mon-host", self.mon_host]
        return args


@frozen
class ImageSpec:
    """An image, optionally in a namespace and at a snapshot."""

    pool: str
    image: str
    namespace: str = ""
    snap: Optional[str] = None

    def __str__(self) -> str:
        text = "/".join(p for p in (self.pool, self.namespace, self.image) if p)
        return f"{text}@{self.snap}" if self.snap else text


@frozen
class Watcher:
    """A client watching the image header (it has the image open)."""

    address: str  # entity address, e.g. 127.0.0.1:0/3719705111
    client_id: int  # the N in client.N


@frozen
class BlocklistEntry:
    address: str
    until: str  # as Ceph prints it (UTC)


def _timeout(deadline: Deadline) -> float:
    return max(MIN_TIMEOUT, deadline.remaining())


def _is_timeout(exc: BaseException) -> bool:
    code = getattr(exc, "errno", None)
    return code in (errno.ETIMEDOUT, -errno.ETIMEDOUT) or "timed out" in str(exc).lower()


def _is_permission(exc: BaseException) -> bool:
    code = getattr(exc, "errno", None)
    return code in (errno.EACCES, errno.EPERM, -errno.EACCES, -errno.EPERM) or \
        type(exc).__name__ == "PermissionDeniedError"


def _translate(exc: Exception, doing: str, access: Access, deadline: Deadline) -> HakitError:
    """A binding error as the hakit error it stands for."""
    name = type(exc).__name__
    if _is_timeout(exc) or deadline.expired():
        return ActionTimeout(f"Ceph did not answer while {doing} within the deadline "
                             f"(monitors unreachable or cluster down): {exc}")
    if _is_permission(exc):
        return ArgsError(f"cephx authentication or authorisation as client.{access.user} failed "
                         f"while {doing} (check keyring/secret_file and caps): {exc}")
    if name in ("ObjectNotFound", "ImageNotFound"):
        return ConfigError(f"{doing}: not found ({exc})")
    if name == "ConnectionShutdown" or getattr(exc, "errno", None) == errno.ESHUTDOWN:
        return GenericError(f"this client is blocklisted by the cluster while {doing}: {exc}")
    return GenericError(f"Ceph error while {doing}: {name}: {exc}")


class Cluster:
    """A connected librados client for one action; use ``connect`` as a context manager."""

    def __init__(self, handle: Any, access: Access, deadline: Deadline) -> None:
        self._handle = handle
        self._access = access
        self._deadline = deadline

    @property
    def address(self) -> str:
        """This client's own entity address (what a blocklist entry would name)."""
        return str(self._handle.get_addrs())

    # ----- images --------------------------------------------------------------------
    def image(self, spec: ImageSpec, *, read_only: bool = False) -> OpenImage:
        """``with cluster.image(spec) as img``: the open ``rbd.Image``; ConfigError naming
        the pool or image when missing.

        Opened read-write by default because librbd only lists lock owners on a
        read-write handle; opening takes no lock (librbd locks on the first write).
        """
        return OpenImage(self, spec, read_only)

    def open_image(self, spec: ImageSpec, read_only: bool) -> tuple[Any, Any]:
        """(ioctx, image), both open; ``OpenImage`` closes them."""
        import rbd  # the binding is loaded only when Ceph is contacted

        ioctx = self._ioctx(spec)
        try:
            return ioctx, rbd.Image(ioctx, spec.image, snapshot=spec.snap,
                                    read_only=read_only)
        except rbd.ImageNotFound as exc:
            ioctx.close()
            what = f"snapshot '{spec.snap}' of image" if spec.snap else "image"
            raise ConfigError(f"{what} '{spec}' does not exist") from exc
        except Exception as exc:
            ioctx.close()
            raise _translate(exc, f"opening image '{spec}'", self._access,
                             self._deadline) from exc

    def image_exists(self, spec: ImageSpec) -> bool:
        try:
            with self.image(spec, read_only=True):
                return True
        except ConfigError:
            return False

    def has_exclusive_lock(self, spec: ImageSpec) -> bool:
        """Whether the image has the ``exclusive-lock`` feature (the lock hakit relies on)."""
        import rbd

        with self.image(spec, read_only=True) as img:
            try:
                return bool(img.features() & rbd.RBD_FEATURE_EXCLUSIVE_LOCK)
            except Exception as exc:
                raise _translate(exc, f"reading the features of '{spec}'", self._access,
                                 self._deadline) from exc

    def lock_owners(self, spec: ImageSpec) -> list[str]:
        """Addresses of the clients holding the image's exclusive lock (usually 0 or 1).

        A query that fails is an error, never "no owners": taking that for a free lock
        would let a second writer in.
        """
        with self.image(spec) as img:
            try:
                return [str(o["owner"]) for o in img.lock_get_owners()]
            except Exception as exc:
                raise _translate(exc, f"listing lock owners of '{spec}'", self._access,
                                 self._deadline) from exc

    def read_note(self, spec: ImageSpec, name: str) -> Optional[str]:
        """The text of a small object ``NAME.IMAGE_ID`` beside the image (None if absent).

        Not image metadata: writing that needs the image's exclusive lock, which a krbd
        or rbd-nbd mapping holds and never hands over.
        """
        ioctx = self._ioctx(spec)
        try:
            try:
                return bytes(ioctx.read(self._note_object(ioctx, spec, name), 4096)).decode(
                    "utf-8", "replace")
            except Exception as exc:
                if type(exc).__name__ == "ObjectNotFound":
                    return None
                raise _translate(exc, f"reading {name} of '{spec}'", self._access,
                                 self._deadline) from exc
        finally:
            ioctx.close()

    def write_note(self, spec: ImageSpec, name: str, text: str) -> None:
        """Replace the small object ``NAME.IMAGE_ID`` beside the image with ``text``."""
        ioctx = self._ioctx(spec)
        try:
            try:
                ioctx.write_full(self._note_object(ioctx, spec, name), text.encode())
            except Exception as exc:
                raise _translate(exc, f"writing {name} of '{spec}'", self._access,
                                 self._deadline) from exc
        finally:
            ioctx.close()

    def _note_object(self, ioctx: Any, spec: ImageSpec, name: str) -> str:
        import rbd

        try:
            img = rbd.Image(ioctx, spec.image, read_only=True)
        except Exception as exc:
            raise _translate(exc, f"opening image '{spec}'", self._access,
                             self._deadline) from exc
        try:
            return f"{name}.{img.id()}"
        finally:
            img.close()

    def msgr2_only(self) -> bool:
        """Whether some monitor has no msgr1 (v1) address, so a kernel client must speak
        msgr2 (krbd's ``ms_mode`` option) to reach it."""
        import json

        out = self._mon({"prefix": "mon dump", "format": "json"}, "reading the monitor map")
        try:
            doc = json.loads(out)
        except ValueError as exc:
            raise GenericError(f"cannot parse the monitor map: {exc}") from exc
        return monmap_needs_msgr2(doc)

    def watchers(self, spec: ImageSpec) -> list[Watcher]:
        """Clients that have the image open (its header watchers)."""
        with self.image(spec, read_only=True) as img:
            if not hasattr(img, "watchers_list"):  # pragma: no cover - librbd < 14
                return []
            try:
                return [Watcher(str(w["addr"]), int(w["id"])) for w in img.watchers_list()]
            except Exception as exc:
                raise _translate(exc, f"listing watchers of '{spec}'", self._access,
                                 self._deadline) from exc

    def break_lock(self, spec: ImageSpec, owner: str, expire: float) -> None:
        """Blocklist ``owner`` first, then break its exclusive lock.

        The order matters: once blocklisted, the old holder can no longer write even if it
        is still alive, so breaking the lock cannot let two writers in.
        """
        import rbd

        self.blocklist_add(owner, expire)
        # librbd's lock_break would blocklist the owner again itself (rbd_blocklist_on_
        # break_lock, default true): a second monitor commit, up to paxos_propose_interval
        # (1 s) more before the image can be taken over, for an owner already blocklisted.
        try:
            self._handle.conf_set("rbd_blocklist_on_break_lock", "false")
        except Exception as exc:
            raise _translate(exc, "configuring librbd", self._access, self._deadline) from exc
        with self.image(spec) as img:
            try:
                img.lock_break(rbd.RBD_LOCK_MODE_EXCLUSIVE, owner)
            except Exception as exc:
                if getattr(exc, "errno", None) in (errno.ENOENT, errno.EINVAL):
                    return  # already released
                raise _translate(exc, f"breaking the lock of '{spec}' held by {owner}",
                                 self._access, self._deadline) from exc

    # ----- blocklist -----------------------------------------------------------------
    def blocklist_add(self, address: str, expire: float) -> None:
        """Blocklist a client address for ``expire`` seconds (``osd blocklist add``)."""
        self._mon({"prefix": "osd blocklist", "blocklistop": "add", "addr": address,
                   "expire": float(expire)}, f"blocklisting {address}")

    def blocklist_add_all(self, addresses: Sequence[str], expire: float) -> None:
        """Blocklist several addresses in one monitor round (see ``_together``)."""
        self._together(lambda a: self.blocklist_add(a, expire), addresses)

    def blocklist_remove_all(self, addresses: Sequence[str]) -> None:
        """Remove several blocklist entries in one monitor round (see ``_together``)."""
        self._together(self.blocklist_remove, addresses)

    @staticmethod
    def _together(call: Callable[[str], None], addresses: Sequence[str]) -> None:
        """``call`` for every address at once: the monitor commits commands that arrive
        together in one Paxos round (``paxos_propose_interval``, 1 s) instead of one round
        each. Every error is raised, the first address's first."""
        if len(addresses) < 2:
            for address in addresses:
                call(address)
            return
        from concurrent.futures import ThreadPoolExecutor

        # librados' mon_command drops the GIL while it waits, so the threads overlap.
        with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
            futures = [pool.submit(call, a) for a in addresses]
        for future in futures:
            future.result()

    def blocklist(self) -> list[BlocklistEntry]:
        """The current blocklist (``osd blocklist ls``)."""
        out = self._mon({"prefix": "osd blocklist ls", "format": "json"}, "listing the blocklist")
        return parse_blocklist(out)

    def is_blocklisted(self, address: str) -> bool:
        return any(entry.address == address for entry in self.blocklist())

    def blocklist_remove(self, address: str) -> None:
        """Remove one blocklist entry (``osd blocklist rm``); absent entries are fine."""
        self._mon({"prefix": "osd blocklist", "blocklistop": "rm", "addr": address},
                  f"removing {address} from the blocklist")

    # ----- OSD map -------------------------------------------------------------------
    def osdmap_epoch(self) -> tuple[int, list[int]]:
        """The monitors' current OSD map epoch and the ids of the OSDs that are up."""
        import json

        out = self._mon({"prefix": "osd dump", "format": "json"}, "reading the OSD map")
        try:
            doc = json.loads(out)
            up = [int(o["osd"]) for o in doc.get("osds", []) if o.get("up") == 1]
            return int(doc["epoch"]), up
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GenericError(f"cannot parse the OSD map: {exc}") from exc

    def osd_newest_map(self, osd: int) -> int:
        """The newest OSD map epoch osd.N has (``ceph tell osd.N status``)."""
        import json

        doing = f"asking osd.{osd} for its OSD map epoch"
        self._deadline.check(doing)
        try:
            ret, out, status = self._handle.osd_command(
                osd, json.dumps({"prefix": "status", "format": "json"}), b"",
                timeout=int(_timeout(self._deadline)))
        except Exception as exc:
            raise _translate(exc, doing, self._access, self._deadline) from exc
        if ret != 0:
            raise _command_error(ret, status, doing, denied=(
                f"client.{self._access.user} may not {doing} (OSDs answer 'tell' only to osd "
                "caps 'allow *')"))
        try:
            return int(json.loads(bytes(out).decode("utf-8", "replace"))["newest_map"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GenericError(f"{doing}: unexpected answer: {exc}") from exc

    # ----- internals -----------------------------------------------------------------
    def _ioctx(self, spec: ImageSpec) -> Any:
        try:
            ioctx = self._handle.open_ioctx(spec.pool)
        except Exception as exc:
            if type(exc).__name__ == "ObjectNotFound":
                raise ConfigError(f"pool '{spec.pool}' does not exist") from exc
            raise _translate(exc, f"opening pool '{spec.pool}'", self._access,
                             self._deadline) from exc
        if spec.namespace:
            ioctx.set_namespace(spec.namespace)
        return ioctx

    def _mon(self, command: dict[str, object], doing: str) -> str:
        import json

        self._deadline.check(doing)
        try:
            ret, out, status = self._handle.mon_command(json.dumps(command), b"",
                                                        timeout=int(_timeout(self._deadline)))
        except Exception as exc:
            raise _translate(exc, doing, self._access, self._deadline) from exc
        if ret != 0:
            if abs(ret) == errno.ETIMEDOUT:
                raise ActionTimeout(f"timed out {doing}: {status}")
            raise _command_error(ret, status, doing, denied=(
                f"client.{self._access.user} may not {doing}: {status} (its mon caps need "
                "'osd blocklist')"))
        return bytes(out).decode("utf-8", "replace")


def _command_error(ret: int, status: str, doing: str, *, denied: str) -> HakitError:
    """The error for a failed mon or OSD command: ArgsError (``denied``) when this user may
    not run it, GenericError naming the errno otherwise."""
    code = abs(ret)
    if code in (errno.EACCES, errno.EPERM):
        return ArgsError(denied)
    return GenericError(f"{doing} failed ({errno.errorcode.get(code, code)}): {status}")


def monmap_needs_msgr2(doc: object) -> bool:
    """From ``mon dump --format json``: whether any monitor lacks a v1 address."""
    mons = doc.get("mons", []) if isinstance(doc, dict) else []
    for mon in mons if isinstance(mons, list) else []:
        addrs = mon.get("public_addrs", {}).get("addrvec", []) if isinstance(mon, dict) else []
        types = {a.get("type") for a in addrs if isinstance(a, dict)}
        if types and "v1" not in types:
            return True
    return False


def parse_blocklist(text: str) -> list[BlocklistEntry]:
    """Entries from ``osd blocklist ls --format json``.

    Pacific prints the address list followed by a second (range) list, ``[...][...]``;
    only the first document holds individual addresses.
    """
    text = text.strip()
    if not text:
        return []
    import json

    try:
        doc, _ = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        raise GenericError(f"cannot parse the blocklist: {exc}") from exc
    if not isinstance(doc, list):
        raise GenericError("cannot parse the blocklist: not a list")
    entries = []
    for item in doc:
        if isinstance(item, dict) and isinstance(item.get("addr"), str):
            entries.append(BlocklistEntry(item["addr"], str(item.get("until", ""))))
    return entries


class OpenImage:
    """``with cluster.image(spec) as img``: the image and its pool's I/O context, closed on
    exit.  A class rather than ``contextlib.contextmanager``: contextlib (with functools
    and collections) is not on the monitor path (start-up cost: docs/developing.md)."""

    def __init__(self, cluster: Cluster, spec: ImageSpec, read_only: bool) -> None:
        self._cluster = cluster
        self._spec = spec
        self._read_only = read_only
        self._open: Optional[tuple[Any, Any]] = None

    def __enter__(self) -> Any:
        self._open = self._cluster.open_image(self._spec, self._read_only)
        return self._open[1]

    def __exit__(self, *_exc: object) -> None:
        if self._open is not None:
            ioctx, img = self._open
            self._open = None
            try:
                img.close()
            finally:
                ioctx.close()


class Connection:
    """``with connect(...) as cluster``: the client connects on entry and shuts down on
    exit.  A class rather than ``contextlib.contextmanager``, as ``OpenImage``."""

    def __init__(self, access: Access, deadline: Deadline,
                 connect_within: Optional[float]) -> None:
        self._access = access
        self._deadline = deadline
        self._connect_within = connect_within
        self._handle: Any = None

    def __enter__(self) -> Cluster:
        self._handle = _connected(self._access, self._deadline, self._connect_within)
        return Cluster(self._handle, self._access, self._deadline)

    def __exit__(self, *_exc: object) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.shutdown()


def connect(access: Access, deadline: Deadline, *,
            connect_within: Optional[float] = None) -> Connection:
    """A connected client, shut down on exit; every operation bounded by ``deadline``.

    ``connect_within`` bounds reaching the monitors more tightly (a fence agent's
    ``login_timeout``), so unreachable monitors are reported early."""
    return Connection(access, deadline, connect_within)


def _connected(access: Access, deadline: Deadline, connect_within: Optional[float]) -> Any:
    """A connected ``rados.Rados`` handle (shut down again when connecting fails)."""
    try:
        import rados
    except ImportError as exc:
        raise NotInstalledError("python3-rados and python3-rbd are required") from exc
    limit = _timeout(deadline)
    reach = limit if connect_within is None else max(MIN_TIMEOUT, min(limit, connect_within))
    conf = {
        # Bounded waits everywhere (librados otherwise waits forever for a dead cluster).
        "client_mount_timeout": str(int(reach)),
        "rados_mon_op_timeout": str(int(limit)),
        "rados_osd_op_timeout": str(int(limit)),
        "mon_client_hunt_interval": "0.5",
        "log_to_stderr": "false",
        "err_to_stderr": "false",
    }
    if access.keyring:
        conf["keyring"] = access.keyring
    if access.secret_file:
        conf["keyfile"] = access.secret_file
    if access.mon_host:
        conf["mon_host"] = access.mon_host
    try:
        handle = rados.Rados(conffile=access.cephconf or "", rados_id=access.user, conf=conf)
    except Exception as exc:
        raise ConfigError(f"cannot configure the Ceph client: {exc}") from exc
    try:
        handle.connect(timeout=int(reach))
    except Exception as exc:
        handle.shutdown()
        raise _translate(exc, f"connecting to Ceph as client.{access.user}", access,
                         deadline) from exc
    return handle
