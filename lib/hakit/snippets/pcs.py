"""Render a configuration as a pcs command script (POSIX sh).

The script edits a CIB file with ``pcs -f`` and pushes it once, so the cluster sees the
whole configuration at once, never half a stack. ``sh SCRIPT`` edits a copy of the live CIB
and pushes it; ``sh SCRIPT FILE`` edits FILE only (to review it, or offline).
"""

from __future__ import annotations

import shlex

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

_PROLOGUE = """\
set -eu
if [ $# -gt 0 ]; then
    cib=$1; push=no
else
    cib=$(mktemp); push=yes
    trap 'rm -f "$cib"' EXIT
    pcs cluster cib "$cib"
fi
"""

_EPILOGUE = """\
if [ "$push" = yes ]; then
    pcs cluster cib-push "$cib" --config
fi
"""


def _pairs(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [shlex.quote(f"{k}={v}") for k, v in pairs]


def _op(op: Op) -> list[str]:
    words = ["op", op.name, f"interval={op.interval}", f"timeout={op.timeout}"]
    if op.role is not None:
        words.append(f"role={op.role}")
    if op.depth is not None:
        words.append(f"OCF_CHECK_LEVEL={op.depth}")
    return words


def _line(words: list[str], *, wrap: bool = False) -> str:
    """One pcs command; with ``wrap`` (resource create) a new line before each op, meta and
    --group."""
    text = 'pcs -f "$cib"'
    for word in words:
        text += " \\\n    " if wrap and word in ("op", "meta", "--group") else " "
        text += word
    return text


def _create(rsc: Primitive, group: str = "") -> list[str]:
    kind, _, agent = rsc.agent.partition(":")
    words = ["stonith" if kind == "stonith" else "resource", "create", rsc.id,
             agent if kind == "stonith" else rsc.agent, *_pairs(rsc.params)]
    for op in rsc.ops:
        words += _op(op)
    if rsc.meta:
        words += ["meta", *_pairs(rsc.meta)]
    if group:
        words += ["--group", group]
    if kind != "stonith":
        # Only the operations given here, as in the crmsh version (same CIB either way).
        words.append("--no-default-ops")
    return [_line(words, wrap=True)]


def _end_of_options(score: str) -> list[str]:
    """pcs 0.11 wants '--' before positional words when a negative score follows (else it
    warns that '-INFINITY' will become an option)."""
    return ["--"] if score.startswith("-") else []


def _constraint(item: Location | Colocation | Order) -> list[str]:
    if isinstance(item, Location):
        return ["location", "add", *_end_of_options(item.score), item.id, item.rsc,
                item.node, item.score]
    if isinstance(item, Colocation):
        role = [item.with_role] if item.with_role else []
        return ["colocation", "add", *_end_of_options(item.score), item.rsc, "with",
                *role, item.with_rsc, item.score, f"id={item.id}"]
    return ["order", item.first_action, item.first, "then", "start", item.then,
            f"kind={item.kind}", f"id={item.id}"]


def _item(item: Item) -> list[str]:
    if isinstance(item, (Primitive, Clone, Group, Location, Colocation, Order)):
        lines = [f"# {item.comment}"] if item.comment else []
        if isinstance(item, Primitive):
            return lines + _create(item)
        if isinstance(item, Clone):
            promotable = dict(item.meta).get("promotable") == "true"
            meta = [(k, v) for k, v in item.meta if k != "promotable"]
            verb = "promotable" if promotable else "clone"
            return [*lines, *_create(item.primitive),
                    _line(["resource", verb, item.primitive.id, item.id, *_pairs(tuple(meta))])]
        if isinstance(item, Group):
            for member in item.members:
                lines += _create(member, item.id)
            if item.meta:
                lines.append(_line(["resource", "meta", item.id, *_pairs(item.meta)]))
            return lines
        if isinstance(item, Location) and item.replace:
            lines.append(_line(["constraint", "delete", item.id]) + " 2>/dev/null || :")
        return [*lines, _line(["constraint", *_constraint(item)])]
    if isinstance(item, FencingLevel):
        return [_line(["stonith", "level", "add", str(item.index), item.node,
                       *item.devices])]
    if isinstance(item, Property):
        return [_line(["property", "set", *_pairs(((item.name, item.value),))])]
    raise TypeError(f"cannot render {item!r}")  # pragma: no cover - exhaustive above


def render(config: Config, header: str = "") -> str:
    """The whole configuration as a pcs script."""
    lines = ["#!/bin/sh", f"# {config.title}"]
    lines += [f"# {line}" for line in header.splitlines()]
    lines += [f"# {note}" for note in config.notes]
    lines.append(_PROLOGUE)
    for item in config.items:
        lines += _item(item)
    lines.append("")
    lines.append(_EPILOGUE)
    return "\n".join(lines)
