"""Admin input as it may be shown: in an exit reason, a log line or an error message.

A value someone typed (or a tool passed) can be 100 KB long, or carry a newline, an escape
sequence or a Unicode line separator.  Pacemaker stores an agent's exit reason in the CIB
and shows it in ``crm_mon`` one failure per line, and a log line with a newline in it
reads as two records, the second one forged.  So every value quoted in a message goes
through ``value`` (quoted, escaped, shortened with an ellipsis), and every exit reason
through ``reason`` (one line of printable text, at most ``REASON_LIMIT`` characters).

Pure and import-free: it runs on every failing action (start-up cost: BENCHMARKS.md).
"""

from __future__ import annotations

#: The longest exit reason written (ClusterLabs agents' reasons are a sentence; Pacemaker
#: shows them in crm_mon and pcs status on one line).
REASON_LIMIT = 200
#: How much of a rejected value a message quotes: enough to recognise it, short enough to
#: leave room for what is wrong with it.
VALUE_LIMIT = 40
#: ASCII, so that the text survives any locale Pacemaker runs the agent in.
ELLIPSIS = "..."


def value(raw: str, limit: int = VALUE_LIMIT) -> str:
    """``raw`` quoted as Python's ``repr`` does (every control or otherwise unprintable
    character escaped); when that is longer than ``limit`` characters between the quotes,
    cut there, with an ellipsis and the value's length."""
    whole = repr(raw[:limit + 1])
    if len(raw) <= limit and len(whole) <= limit + 2:
        return whole
    quote = whole[0] if whole[0] in "'\"" else "'"
    head, used = [], 0
    for char in raw[:limit]:
        # Each character as repr shows it inside these quotes (escaped when unprintable).
        piece = repr(char)[1:-1] if char != quote else "\\" + char
        if used + len(piece) > limit:
            break
        head.append(piece)
        used += len(piece)
    return f"{quote}{''.join(head)}{ELLIPSIS}{quote} ({len(raw)} characters)"


def word(raw: str) -> str:
    """``raw`` as is when it is a short plain word (an action name such as ``monitor`` or
    ``reload-agent``), else quoted like ``value``."""
    if 0 < len(raw) <= VALUE_LIMIT and raw.isascii() and raw.replace("-", "").replace(
            "_", "").isalnum():
        return raw
    return value(raw)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace, control or unprintable characters (newlines,
    escapes, NUL, Unicode line separators...) made one space."""
    if text.isprintable() and "  " not in text and text == text.strip():
        return text  # the common case, no copy
    cleaned = "".join(c if c.isprintable() and not c.isspace() else " " for c in text)
    return " ".join(cleaned.split())


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:max(0, limit - len(ELLIPSIS))].rstrip() + ELLIPSIS


def reason(text: str, limit: int = REASON_LIMIT) -> str:
    """An exit reason: one line of printable characters, at most ``limit`` long."""
    # Clip before cleaning too: a 100 MB message is not scanned character by character.
    return clip(one_line(text[:limit * 4]), limit)


#: The longest log line written at INFO and above: a line quoting input must not flood the
#: log (debug lines, which may hold a whole traceback or a command's output, are not cut).
LOG_LIMIT = 1000


def _escaped(line: str) -> str:
    if line.isprintable():
        return line
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def log_text(text: str, limit: int = 0) -> str:
    """A log record's message: unprintable characters escaped, and each line after the
    first indented, so that text quoted in it can never read as a record of its own;
    cut to ``limit`` characters when one is given."""
    if limit:
        text = clip(text, limit)
    if text.isprintable():
        return text
    return "\n    ".join(_escaped(line) for line in text.split("\n"))
