"""Render a configuration in crmsh syntax, for ``crm configure load update FILE``."""

from __future__ import annotations

import re

from hakit.snippets.model import (
    Clone,
    Colocation,
    Config,
    FencingLevel,
    Group,
    Item,
    Location,
    Op,
    Order,
    Primitive,
    Property,
)
from hakit.snippets.safety import check_value

# Bare only what no crmsh lexer rule touches: not '@' (crmsh reads "@name" as a reference),
# '%', '+', '$' or a leading '-'.
_BARE = re.compile(r"[A-Za-z0-9_./:,][A-Za-z0-9_./:,-]*")


def _value(text: str) -> str:
    """A value as crmsh's lexer reads it: bare when safe, else double-quoted.

    ``hakit.snippets.safety`` has already refused line breaks, control characters, '"'
    and backslashes, which crmsh cannot carry reliably inside a quoted value."""
    if _BARE.fullmatch(text):
        return text
    check_value(text, "value")  # raises for what a quoted crmsh value cannot carry
    return '"' + text + '"'


def _pairs(pairs: tuple[tuple[str, str], ...]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in pairs)


def _op(op: Op) -> str:
    text = f"op {op.name} interval={op.interval} timeout={op.timeout}"
    if op.role is not None:
        text += f" role={op.role}"
    if op.depth is not None:
        text += f" OCF_CHECK_LEVEL={op.depth}"
    return text


def _primitive(rsc: Primitive) -> list[str]:
    parts = [f"primitive {rsc.id} {rsc.agent}"]
    if rsc.params:
        parts.append(f"params {_pairs(rsc.params)}")
    if rsc.meta:
        parts.append(f"meta {_pairs(rsc.meta)}")
    parts += [_op(op) for op in rsc.ops]
    return [" \\\n\t".join(parts)]


def comment_text(text: str) -> str:
    """crmsh stores comments as XML comments, which may not contain '--' or end in '-'."""
    while "--" in text:
        text = text.replace("--", "- -")
    return text.rstrip("-")


def _comment(text: str) -> list[str]:
    return [f"# {comment_text(text)}"] if text else []


def _item(item: Item) -> list[str]:
    if isinstance(item, Primitive):
        return _comment(item.comment) + _primitive(item)
    if isinstance(item, Clone):
        clone = f"clone {item.id} {item.primitive.id}"
        if item.meta:
            clone += f" \\\n\tmeta {_pairs(item.meta)}"
        return [*_comment(item.comment), *_primitive(item.primitive), clone]
    if isinstance(item, Group):
        lines = _comment(item.comment)
        for member in item.members:
            lines += _primitive(member)
        group = f"group {item.id} " + " ".join(m.id for m in item.members)
        if item.meta:
            group += f" \\\n\tmeta {_pairs(item.meta)}"
        return [*lines, group]
    if isinstance(item, (Location, Colocation, Order)):
        return [*_comment(item.comment), _constraint(item)]
    if isinstance(item, Property):
        return [f"property {item.name}={_value(item.value)}"]
    raise TypeError(f"cannot render {item!r}")  # pragma: no cover - exhaustive above


def _constraint(item: Location | Colocation | Order) -> str:
    if isinstance(item, Location):
        return f"location {item.id} {item.rsc} {item.score}: {item.node}"
    if isinstance(item, Colocation):
        if item.with_role:  # pcs names the dependent's role too (Started): the same CIB
            return (f"colocation {item.id} {item.score}: {item.rsc}:Started "
                    f"{item.with_rsc}:{item.with_role}")
        return f"colocation {item.id} {item.score}: {item.rsc} {item.with_rsc}"
    # Actions written out, as pcs writes them (first-action/then-action="start").
    return f"order {item.id} {item.kind}: {item.first}:{item.first_action} {item.then}:start"


def _topology(levels: list[FencingLevel]) -> list[str]:
    """crmsh writes all levels in one statement: per node, space-separated levels, each a
    comma-separated device list (levels are tried in order)."""
    if not levels:
        return []
    parts = ["fencing_topology"]
    for node in dict.fromkeys(level.node for level in levels):
        mine = sorted((lv for lv in levels if lv.node == node), key=lambda lv: lv.index)
        parts.append(f"{node}: " + " ".join(",".join(lv.devices) for lv in mine))
    return ["# levels in order: each is tried when the one before it fails",
            " \\\n\t".join(parts)]


def render(config: Config, header: str = "") -> str:
    """The whole configuration as a crmsh script."""
    lines = _comment(config.title)
    for line in [*header.splitlines(), *config.notes]:
        lines += _comment(line)
    for item in config.items:
        if not isinstance(item, FencingLevel):
            lines += _item(item)
    lines += _topology([i for i in config.items if isinstance(i, FencingLevel)])
    return "\n".join(lines) + "\n"
