"""ocf:hakit:lvs's parameters and the record they become, ``LvsConfig``.

The declarations drive the agent's metadata, the parsing of ``OCF_RESKEY_*`` and
validate-all; ``from_values`` is the one place their values become a record, with the
checks across parameters (one of services and config_file; sync_warmup at least
sync_refresh) that validate-all and every action run.
"""

from __future__ import annotations

from hakit.errors import ArgsError, ParamError
from hakit.lean import frozen
from hakit.ocf.params import AbsolutePath, Duration, Integer, Name, Param, ParamType, Select
from hakit.steps.lvs.definition import ConfigSyntaxError, Virtual, parse
from hakit.steps.vip.config import InterfaceName

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from hakit.ocf.params import Values


class ServicesText(ParamType[tuple[Virtual, ...]]):
    """The service definition (hakit.steps.lvs.definition), lines separated by newlines or ``;``."""

    def parse(self, raw: str) -> tuple[Virtual, ...]:
        try:
            return parse(raw)
        except ConfigSyntaxError as exc:
            raise ValueError(str(exc)) from None

    def hint(self) -> str:
        return "Directives virtual, real, sorry and check, as in docs/agents/lvs.md."


SERVICES = Param(
    "services", ServicesText(), "Virtual services",
    "The virtual services with their real servers, sorry server and health check, e.g. "
    "'virtual 198.51.100.10:80 scheduler=wlc forward=dr; real 10.0.0.11:80; "
    "real 10.0.0.12:80 weight=2; check http path=/health'. For many services use "
    "config_file instead (same syntax, one directive per line).", reloadable=True)
CONFIG_FILE = Param(
    "config_file", AbsolutePath(), "Service definition file",
    "A file with the virtual services in the syntax of 'services'. Keep it identical on "
    "both directors. After editing it, run a reload of the resource.", reloadable=True)
SYNC_INTERFACE = Param(
    "sync_interface", InterfaceName(), "Sync interface",
    "The interface the IPVS sync daemons multicast connection state on (the link between "
    "the directors).", required=True)
SYNCID = Param(
    "syncid", Integer(0, 255), "Sync id",
    "Tells this director pair's sync messages from another pair's on the same link; the "
    "same on both directors (0 makes a backup accept every id).", default="1")
SYNC_REFRESH = Param(
    "sync_refresh", Duration(0, 3600), "Connection re-sync period",
    "Each connection with traffic is sent to the other director again at most this often "
    "(net.ipv4.vs.sync_refresh_period, with sync_threshold's packet period off), so a "
    "recovered director learns every active connection within this time. 0 leaves the "
    "kernel's packet-count scheme (every 50 packets) untouched.", default="2s")
SYNC_WARMUP = Param(
    "sync_warmup", Duration(0, 3600), "Learning time before promotion",
    "How long a director's backup sync daemon must have listened before it may be "
    "promoted: its promotion score is set only then, and an earlier promote waits. At "
    "least sync_refresh.", default="5s")
FAILURE_ACTION = Param(
    "failure_action", Select("quiesce", "remove"), "Failed real server",
    "quiesce: a real server failing its check keeps its entry with weight 0 (no new "
    "connections; established ones finish). remove: its entry is deleted.",
    default="quiesce", reloadable=True)
NETWORK_NAMESPACE = Param(
    "network_namespace", Name("a network namespace name"), "Network namespace",
    "Manage IPVS inside this named network namespace (/run/netns/NAME).")

PARAMS = (SERVICES, CONFIG_FILE, SYNC_INTERFACE, SYNCID, SYNC_REFRESH, SYNC_WARMUP,
          FAILURE_ACTION, NETWORK_NAMESPACE)


@frozen
class LvsConfig:
    """One ocf:hakit:lvs resource's configuration, parsed and checked."""

    services: tuple[Virtual, ...]  # from 'services' or the 'config_file' it names
    sync_interface: str  # the link the sync daemons multicast on
    syncid: int  # 0-255, the same on both directors
    sync_refresh: float  # seconds; 0 leaves the kernel's packet-count scheme
    sync_warmup: float  # seconds a backup must have listened before promotion
    failure_action: str  # "quiesce" (weight 0) or "remove"
    network_namespace: Optional[str]  # a /run/netns name, or None for this process's


def services_of(values: Values) -> tuple[Virtual, ...]:
    """The configured services, from ``services`` or ``config_file``."""
    inline = values.get(SERVICES)
    path = values.get(CONFIG_FILE)
    if (inline is None) == (path is None):
        raise ParamError("services", "or 'config_file' must be set (exactly one of them)")
    if inline is not None or path is None:
        return inline or ()
    try:
        with open(path) as handle:
            text = handle.read(1 << 22)
    except OSError as exc:
        raise ArgsError(f"parameter 'config_file': cannot read {path}: {exc.strerror}") from exc
    try:
        return parse(text)
    except ConfigSyntaxError as exc:
        raise ParamError("config_file", f"({path}) {exc}") from None


def from_values(values: Values) -> LvsConfig:
    """The record, or the error validate-all reports (ParamError, ArgsError)."""
    services = services_of(values)
    refresh = values[SYNC_REFRESH]
    if refresh and values[SYNC_WARMUP] < refresh:
        raise ParamError("sync_warmup", f"({values[SYNC_WARMUP]:g}s) must be at least "
                         f"sync_refresh ({refresh:g}s): a shorter wait cannot have heard "
                         "every active connection")
    return LvsConfig(services, values[SYNC_INTERFACE], values[SYNCID], refresh,
                     values[SYNC_WARMUP], values[FAILURE_ACTION], values.get(NETWORK_NAMESPACE))
