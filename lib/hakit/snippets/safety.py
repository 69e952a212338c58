"""Every value of a configuration checked against the grammar of the place it is written to.

``inputs`` checks what the admin types; this checks what the renderers are about to
print, whatever built it: ids against Pacemaker's id grammar (an XML ID, which crmsh and
pcs both take as one word), node names against host names, scores against Pacemaker's,
and every resource parameter against the agent's own declaration (``hakit.agents.*``), so
that a choice the generator offers is one the agent accepts. Values must be one line of
printable ASCII without '"' or '\\': crmsh cannot carry those reliably in a quoted value,
and nothing hakit's agents take needs them.
"""

from __future__ import annotations

import importlib
import re

from hakit.errors import HakitError
from hakit.ocf.params import Param
from hakit.snippets.model import (
    Colocation,
    Config,
    FencingLevel,
    Group,
    Item,
    Location,
    Order,
    Primitive,
    Property,
)

# xsd:ID (Pacemaker's schema) restricted to ASCII; no leading '-' (pcs would read an
# option) and no ':' (crmsh's "rsc:action" and "node:" separators).
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_NODE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*")
_SCORE = re.compile(r"[-+]?(INFINITY|[0-9]{1,9})")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
# Resource parameters that Pacemaker, not the agent, reads (Pacemaker Explained, "Special
# Options for Fencing Resources").
_PACEMAKER_PARAMS = re.compile(r"pcmk_[a-z_]+")


def check_id(text: str, what: str) -> None:
    if not _ID.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not a valid Pacemaker id")


def check_node(text: str, what: str) -> None:
    if len(text) > 253 or not _NODE.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not a valid node name")


def check_value(text: str, what: str) -> None:
    """One line of printable ASCII, without the characters crmsh cannot quote (crmsh also
    stores a non-ASCII character as the text of its XML reference: 'é' lands in the CIB
    as '&#233;')."""
    if not text or not text.isprintable() or '"' in text or "\\" in text:
        raise ValueError(f"{what} {text!r} must be one non-empty line of printable "
                         "characters without '\"' or '\\'")
    if not text.isascii():
        raise ValueError(f"{what} {text!r} must be ASCII (crmsh does not keep other "
                         "characters as they are)")


def check_comment(text: str, what: str) -> None:
    if not text.isprintable():
        raise ValueError(f"{what} {text!r} must be one line of printable characters")


def _declared(agent: str) -> dict[str, Param[object]]:
    """The parameters agent ("ocf:hakit:fs", "stonith:fence_hakit") declares."""
    kind, _, name = agent.rpartition(":")
    if kind not in ("ocf:hakit", "stonith") or not re.fullmatch(r"[a-z_]+", name):
        raise ValueError(f"agent {agent!r} is not a hakit agent")
    module = importlib.import_module(f"hakit.agents.{name}")
    if kind == "stonith":
        return {o.name: o for o in module.AGENT.all_options()}
    return {p.name: p for p in module.AGENT.params}


def check_meta(meta: tuple[tuple[str, str], ...], owner: str) -> None:
    for name, value in meta:
        if not _NAME.fullmatch(name):
            raise ValueError(f"{owner} meta attribute {name!r} is not a valid name")
        check_value(value, f"{owner} meta attribute {name}")


def check_primitive(rsc: Primitive) -> None:
    """The id, and every parameter as the agent itself parses it."""
    check_id(rsc.id, "resource id")
    declared = _declared(rsc.agent)
    for name, value in rsc.params:
        what = f"resource {rsc.id} parameter {name}"
        check_value(value, what)
        if _PACEMAKER_PARAMS.fullmatch(name):
            continue
        param = declared.get(name)
        if param is None:
            raise ValueError(f"{what}: {rsc.agent} has no such parameter")
        try:
            param.parse(value)
        except HakitError as exc:
            raise ValueError(f"{what}: {rsc.agent} refuses {value!r}: {exc.reason}") from None
    check_meta(rsc.meta, f"resource {rsc.id}")
    for op in rsc.ops:
        for text in (op.name, op.interval, op.timeout):
            check_value(text, f"resource {rsc.id} operation")


def check_item(item: Item) -> None:
    if isinstance(item, Primitive):
        check_primitive(item)
    elif isinstance(item, Group):
        check_id(item.id, "group id")
        for member in item.members:
            check_primitive(member)
        check_meta(item.meta, f"group {item.id}")
    elif isinstance(item, Location):
        check_id(item.id, "constraint id")
        check_id(item.rsc, "resource")
        check_node(item.node, "node")
    elif isinstance(item, (Colocation, Order)):
        check_id(item.id, "constraint id")
        for rsc in ((item.rsc, item.with_rsc) if isinstance(item, Colocation)
                    else (item.first, item.then)):
            check_id(rsc, "resource")
    elif isinstance(item, FencingLevel):
        check_node(item.node, "node")
        for device in item.devices:
            check_id(device, "fence device")
    elif isinstance(item, Property):
        if not _NAME.fullmatch(item.name):
            raise ValueError(f"cluster property {item.name!r} is not a valid name")
        check_value(item.value, f"cluster property {item.name}")
    score = getattr(item, "score", None)
    if score is not None and not _SCORE.fullmatch(score):
        raise ValueError(f"score {score!r} is not a Pacemaker score")
    if isinstance(item, (Primitive, Group, Location, Colocation, Order)):
        check_comment(item.comment, "comment")


def check(config: Config) -> None:
    """ValueError naming the first value that does not fit where it is written."""
    check_comment(config.title, "title")
    for note in config.notes:
        check_comment(note, "note")
    for item in config.items:
        check_item(item)
