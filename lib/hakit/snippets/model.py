"""A neutral Pacemaker configuration that both renderers (crmsh, pcs) print.

Only what the snippets use is modelled. Every object has an explicit id so that the crmsh and
pcs outputs produce the same CIB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Op:
    """One operation: name, interval ("0" for start/stop), timeout, optional monitor depth."""

    name: str
    interval: str
    timeout: str
    depth: Optional[int] = None  # OCF_CHECK_LEVEL; distinct intervals per depth (Pacemaker
    # identifies a recurring op by name + interval)
    role: Optional[str] = None  # "Promoted"/"Unpromoted": a monitor for one role of a
    # promotable clone (each role's monitor needs its own interval)


@dataclass(frozen=True)
class Primitive:
    """A resource: ``agent`` is "ocf:hakit:rbd" or "stonith:fence_hakit"."""

    id: str
    agent: str
    params: Pairs
    ops: tuple[Op, ...]
    meta: Pairs = ()
    comment: str = ""


@dataclass(frozen=True)
class Group:
    """Members start in order and stop in reverse, all on one node."""

    id: str
    members: tuple[Primitive, ...]
    meta: Pairs = ()
    comment: str = ""


@dataclass(frozen=True)
class Clone:
    """A clone of ``primitive`` (promotable when its meta says so)."""

    id: str
    primitive: Primitive
    meta: Pairs = ()
    comment: str = ""


@dataclass(frozen=True)
class Location:
    """``rsc`` on ``node`` with ``score`` ("100", "-INFINITY")."""

    id: str
    rsc: str
    node: str
    score: str
    comment: str = ""
    replace: bool = False  # replaces a constraint with the same id (crm load update does
    # that by itself; the pcs script deletes it first)


@dataclass(frozen=True)
class Colocation:
    """``rsc`` is placed relative to ``with_rsc`` (allocated first) with ``score``."""

    id: str
    rsc: str
    with_rsc: str
    score: str
    comment: str = ""
    with_role: str = ""  # e.g. "Promoted": only with the promoted instance of a clone


@dataclass(frozen=True)
class Order:
    """``first`` starts before ``then``; kind Mandatory, Optional or Serialize."""

    id: str
    first: str
    then: str
    kind: str = "Mandatory"
    comment: str = ""
    first_action: str = "start"  # e.g. "promote": after the clone's promotion


@dataclass(frozen=True)
class FencingLevel:
    """Level ``index`` for ``node``: devices tried together; level 1 is tried first."""

    node: str
    index: int
    devices: tuple[str, ...]


@dataclass(frozen=True)
class Property:
    """A cluster option (crm_config, cib-bootstrap-options)."""

    name: str
    value: str


Item = Union[Primitive, Clone, Group, Location, Colocation, Order, FencingLevel, Property]


@dataclass(frozen=True)
class Config:
    """Items in the order they should be created (resources before constraints)."""

    title: str
    items: tuple[Item, ...]
    notes: tuple[str, ...] = field(default=())

    def __add__(self, other: Config) -> Config:
        return Config(self.title, self.items + other.items, self.notes + other.notes)
