"""How a fence agent is declared: its options and how to reach its device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from hakit.fence.context import FenceContext
from hakit.fence.device import Connector
from hakit.fence.options import COMMON, IGNORED, Option
from hakit.ocf.params import Values

#: Pure cross-option checks; raise ConfigError/ParamError.
Validator = Callable[[Values], None]
#: The plugs a multi-node device controls, as (plug, alias) for ``list``.
Lister = Callable[[FenceContext], list[tuple[str, str]]]

#: Actions the generic driver performs against a single-port device, in metadata order.
POWER_ACTIONS = ("on", "off", "reboot", "status", "monitor")
#: Fabric (storage) fencing cuts a node off rather than powering it: no reboot, and ``on``
#: is unfencing (fence_scsi's set).
FABRIC_ACTIONS = ("on", "off", "status", "list", "monitor")
#: Actions answered without touching a device.
INFO_ACTIONS = ("metadata", "manpage", "validate-all")


@dataclass(frozen=True)
class FenceAgent:
    """A fence agent, declared."""

    name: str  # the executable's name, e.g. "fence_hakit"
    version: str
    shortdesc: str
    longdesc: str
    vendor_url: str
    options: tuple[Option[object], ...]  # the protocol's own options; COMMON are added
    connect: Connector
    validate: Optional[Validator] = None
    symlinks: tuple[tuple[str, str], ...] = ()  # (name, shortdesc) of alternative names
    device_actions: tuple[str, ...] = POWER_ACTIONS  # what the driver may do with the device
    # True: a fabric agent (fence_scsi's kind). ``on`` is unfencing, run on the target node
    # before it may start the resources that need it (on_target="1" automatic="1"), and its
    # requests are idempotent, so off and on are sent even when the state looks reached.
    fabric: bool = False
    lister: Optional[Lister] = None  # for ``list``: the plugs of a multi-node device
    synopsis: str = "-a IP -l USER (-S SCRIPT | --password-env VAR | -p PASSWORD)"  # --help

    def all_options(self) -> tuple[Option[object], ...]:
        """Every option accepted, advertised or not, protocol options first."""
        return self.options + COMMON + IGNORED

    def advertised_options(self) -> tuple[Option[object], ...]:
        return tuple(o for o in self.all_options() if o.advertised)

    def actions(self) -> tuple[str, ...]:
        return self.device_actions + INFO_ACTIONS
