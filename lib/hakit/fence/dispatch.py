"""Running one fence-agent invocation: the fence adapter of the envelope (``hakit.envelope``).

Arguments come from the command line, or, when there are none, from stdin as
``name=value`` lines (the fence-agent API).  Exceptions are settled by
``hakit.envelope.settle``, as for the resource agents; the fence API knows only
"failed", so every failure is rc 1 with one clear ``ERROR:`` line on stderr, never a
traceback; ``status`` is 2 when the node is off.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import BinaryIO, Optional, TextIO

from hakit import shown
from hakit.envelope import declared_secrets, settle
from hakit.errors import HakitError
from hakit.fence import driver, metadata
from hakit.fence.agent import FenceAgent
from hakit.fence.args import RawArgs, parse_argv, parse_stdin
from hakit.fence.context import FenceContext
from hakit.fence.log import make_logger
from hakit.fence.options import ACTION, DEBUG_FILE, QUIET, VERBOSE, Option
from hakit.ocf.params import parse_values
from hakit.os.runner import Runner

#: More than any real configuration; junk beyond it is refused, not read forever.
STDIN_LIMIT = 64 * 1024


def exit_code(ocf_code: int) -> int:
    """The fence-agent exit code for a failure, whatever its OCF code (``hakit.errors``):
    always 1, the API has no other.

    The kind of failure (authentication, unreachable, state unknown, state unchanged,
    bad option) is in the reason, which ``settle`` logs."""
    del ocf_code
    return driver.FAILED


def usage(agent: FenceAgent) -> str:
    return (f"usage: {agent.name} [-o {'|'.join(agent.actions())}] {agent.synopsis} "
            f"[options]\n"
            f"       {agent.name} < name=value lines (as pacemaker-fenced sends them)\n"
            f"       {agent.name} -o manpage   (every option)\n")


def read_stdin(stream: BinaryIO) -> str:
    """Standard input as text; HakitError for input that cannot be an argument list."""
    data = stream.read(STDIN_LIMIT + 1)
    if len(data) > STDIN_LIMIT:
        raise HakitError(f"standard input is longer than {STDIN_LIMIT} bytes; expected "
                         "name=value lines")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HakitError("standard input is not UTF-8 text; expected name=value lines") \
            from None
    if "\0" in text:
        raise HakitError("standard input contains NUL bytes; expected name=value lines")
    return text


def _lenient_bool(opt: Option[object], raw: RawArgs) -> bool:
    try:
        return bool(opt.parse(raw.values.get(opt.name, "") or "0"))
    except HakitError:
        return False  # reported by the full parse


def _answer_without_device(agent: FenceAgent, args: Sequence[str],
                           action: str) -> Optional[str]:
    """The text for help, version, metadata and manpage; None for other actions."""
    if args and args[0] in ("-h", "--help"):
        return usage(agent)
    if args and args[0] in ("-V", "--version"):
        return f"{agent.name} {agent.version}\n"
    if action in ("metadata", "meta-data"):
        return metadata.build(agent)
    if action == "manpage":
        return metadata.manpage(agent)
    return None


def _act(agent: FenceAgent, raw: RawArgs, action: str, *, log: logging.Logger,
         runner: Runner, environ: Mapping[str, str], out: TextIO) -> int:
    """Parse the options and perform ``action``; exceptions propagate to ``run``."""
    if raw.unknown:
        # Names only: the values of unknown lines are not echoed (one may be a secret).
        log.debug("ignoring unknown options: %s", ", ".join(raw.unknown[:20]))
    if raw.malformed:
        log.warning("ignored %d stdin line(s) that are not name=value", raw.malformed)
    params = parse_values(agent.all_options(), raw.values)
    if agent.validate is not None:
        agent.validate(params)
    ctx = FenceContext(action, params, driver.deadline_for(params, action), log, runner,
                       environ, out)
    if action == "validate-all":
        log.info("configuration is valid")
        return driver.SUCCESS
    return driver.perform(agent, ctx)


def run(agent: FenceAgent, argv: Sequence[str], stdin: BinaryIO, environ: Mapping[str, str],
        *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> int:
    """Run one invocation and return its exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = list(argv[1:])
    try:
        if args and args[0] in ("-h", "--help", "-V", "--version"):
            raw = RawArgs()
        elif args:
            raw = parse_argv(args, agent.all_options())
        else:
            raw = parse_stdin(read_stdin(stdin), agent.all_options())
    except HakitError as exc:
        err.write(f"ERROR: {shown.reason(exc.reason)}\n")
        return exit_code(exc.exit_code)
    action = raw.values.get(ACTION.name, ACTION.default or "").strip().lower()
    text = _answer_without_device(agent, args, action)
    if text is not None:
        out.write(text)
        return driver.SUCCESS

    secrets = declared_secrets(agent.all_options(), raw.values)
    log = make_logger(agent.name, err, secrets, verbose=_lenient_bool(VERBOSE, raw),
                      quiet=_lenient_bool(QUIET, raw),
                      debug_file=raw.values.get(DEBUG_FILE.name) or None)
    runner = Runner(log, secrets=secrets)
    try:
        code, reason = settle(
            lambda: _act(agent, raw, action, log=log, runner=runner, environ=environ,
                         out=out),
            action, log, runner.secrets, "internal error")
        return code if reason is None else exit_code(code)
    finally:
        out.flush()
        log.close()


def main(agent: FenceAgent) -> int:
    """Entry point for a fence agent executable: ``sys.exit(main(AGENT))``."""
    return run(agent, sys.argv, sys.stdin.buffer, os.environ)
