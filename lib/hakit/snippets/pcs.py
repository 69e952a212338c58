"""Render a configuration as a pcs command script (POSIX sh).

The script edits a CIB file with ``pcs -f`` and pushes it once, so the cluster sees the
whole configuration at once, never half a stack. ``sh SCRIPT`` edits a copy of the live CIB
and pushes it; ``sh SCRIPT FILE`` edits FILE only (to review it, or offline).
"""

from __future__ import annotations

import shlex
from typing import NamedTuple

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


class Command(NamedTuple):
    """One ``pcs -f CIB ...`` call: its words after ``-f CIB``, unquoted."""

    words: tuple[str, ...]
    may_fail: bool = False  # deleting what may not exist (the script ignores its failure)
    wrap: bool = False  # resource create: printed with a new line before op, meta, --group


def _pairs(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{k}={v}" for k, v in pairs]


def _op(op: Op) -> list[str]:
    words = ["op", op.name, f"interval={op.interval}", f"timeout={op.timeout}"]
    if op.role is not None:
        words.append(f"role={op.role}")
    if op.depth is not None:
        words.append(f"OCF_CHECK_LEVEL={op.depth}")
    return words


def _line(command: Command) -> str:
    """One pcs command as a script line (each word quoted for sh)."""
    text = 'pcs -f "$cib"'
    for word in command.words:
        text += " \\\n    " if command.wrap and word in ("op", "meta", "--group") else " "
        text += shlex.quote(word)
    return text + (" 2>/dev/null || :" if command.may_fail else "")


def _create(rsc: Primitive, group: str = "") -> Command:
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
    return Command(tuple(words), wrap=True)


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


def item_commands(item: Item) -> list[Command]:
    """The pcs calls that create ``item`` in a CIB file."""
    if isinstance(item, Primitive):
        return [_create(item)]
    if isinstance(item, Clone):
        promotable = dict(item.meta).get("promotable") == "true"
        meta = tuple((k, v) for k, v in item.meta if k != "promotable")
        verb = "promotable" if promotable else "clone"
        return [_create(item.primitive),
                Command(("resource", verb, item.primitive.id, item.id, *_pairs(meta)))]
    if isinstance(item, Group):
        commands = [_create(member, item.id) for member in item.members]
        if item.meta:
            commands.append(Command(("resource", "meta", item.id, *_pairs(item.meta))))
        return commands
    if isinstance(item, (Location, Colocation, Order)):
        commands = []
        if isinstance(item, Location) and item.replace:
            commands.append(Command(("constraint", "delete", item.id), may_fail=True))
        return [*commands, Command(("constraint", *_constraint(item)))]
    if isinstance(item, FencingLevel):
        return [Command(("stonith", "level", "add", str(item.index), item.node,
                         *item.devices))]
    if isinstance(item, Property):
        return [Command(("property", "set", *_pairs(((item.name, item.value),))))]
    raise TypeError(f"cannot render {item!r}")  # pragma: no cover - exhaustive above


def commands(config: Config) -> list[Command]:
    """Every pcs call of ``config``, in order (what ``hakit-snippet --apply`` runs)."""
    return [command for item in config.items for command in item_commands(item)]


def _item(item: Item) -> list[str]:
    comment = getattr(item, "comment", "")
    lines = [f"# {comment}"] if comment else []
    return lines + [_line(command) for command in item_commands(item)]


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
