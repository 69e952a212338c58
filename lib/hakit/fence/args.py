"""Reading fence-agent arguments: ``name=value`` lines on stdin, or options on argv.

Pure functions, no I/O.  The stdin rules are the fence-agent API's ("What is given to
fencing agents"): one ``name=value`` per line, ``#`` lines ignored, the last value of a
repeated name wins, unknown names are ignored.  Aliases (``ipaddr``, ``passwd``...) are
folded into their canonical names here, so the rest of the agent sees one spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hakit.errors import ConfigError
from hakit.fence.options import Option

#: What fence-agents accept as a stdin name (XML attribute-name characters, no spaces).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")


@dataclass(frozen=True)
class RawArgs:
    """Raw option values by canonical name, and what was ignored on the way."""

    values: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()  # names not declared (the API says: ignore them)
    malformed: int = 0  # stdin lines that are not name=value


def option_index(options: Iterable[Option[object]]) -> dict[str, Option[object]]:
    """Every accepted stdin spelling (canonical, aliases, dashes for underscores)."""
    index: dict[str, Option[object]] = {}
    for opt in options:
        for name in opt.names():
            index[name] = opt
            index[name.replace("_", "-")] = opt
    return index


def parse_stdin(text: str, options: Iterable[Option[object]]) -> RawArgs:
    """Parse what pacemaker-fenced writes to a fence agent's stdin."""
    index = option_index(options)
    values: dict[str, str] = {}
    unknown: list[str] = []
    malformed = 0
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not _NAME.fullmatch(name):
            malformed += 1
            continue
        opt = index.get(name)
        if opt is None:
            if name not in unknown:
                unknown.append(name)
            continue
        values[opt.name] = value  # the last one wins, whichever spelling it used
    return RawArgs(values, tuple(unknown), malformed)


def _switch_index(options: Iterable[Option[object]]) -> tuple[dict[str, Option[object]],
                                                               dict[str, Option[object]]]:
    shorts: dict[str, Option[object]] = {}
    longs: dict[str, Option[object]] = {}
    for opt in options:
        if opt.short:
            shorts[opt.short] = opt
        for name in (opt.long, *opt.names()):
            if name:
                longs[name] = opt
                longs[name.replace("_", "-")] = opt
    return shorts, longs


def _next_value(argv: Sequence[str], i: int, shown: str) -> str:
    if i >= len(argv):
        raise ConfigError(f"option {shown} needs a value")
    return argv[i]


def parse_argv(argv: Sequence[str], options: Iterable[Option[object]]) -> RawArgs:
    """Parse command-line options (``argv`` without the program name), getopt style.

    ``-a HOST``, ``-aHOST``, ``--ip HOST``, ``--ip=HOST``, stacked switches ``-vP``.
    Unlike stdin, an unknown option is an error: a human typed it.
    """
    shorts, longs = _switch_index(options)
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg.startswith("--") and len(arg) > 2:
            name, sep, value = arg[2:].partition("=")
            opt = longs.get(name)
            if opt is None:
                raise ConfigError(f"unknown option --{name}")
            if not sep and not opt.is_switch:
                value = _next_value(argv, i, f"--{name}")
                i += 1
            values[opt.name] = value if sep or not opt.is_switch else "1"
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            while letters:
                letter, letters = letters[0], letters[1:]
                opt = shorts.get(letter)
                if opt is None:
                    raise ConfigError(f"unknown option -{letter}")
                if opt.is_switch:
                    values[opt.name] = "1"
                    continue
                if not letters:
                    letters = _next_value(argv, i, f"-{letter}")
                    i += 1
                values[opt.name] = letters
                letters = ""
        else:
            # Not quoted back: a stray word on a command line may be a password.
            raise ConfigError(f"unexpected argument number {i}: options look like -o status")
    return RawArgs(values)
