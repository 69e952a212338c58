"""The process envelope every agent runs in, OCF or fence, and how every run ends.

The envelope: the run's logger (``hakit.envelope.log``), the one mapping of exceptions to
an exit code and a reason (``settle``, here), the end of the process (``finish``) and the
metadata document writer (``hakit.envelope.xmldoc``).  What differs between the two APIs is
a thin adapter on top: ``hakit.ocf.dispatch`` (the OCF environment, the parameters' rules,
``ocf-exit-reason:``) and ``hakit.fence.dispatch`` (the fence-agent stdin/argv protocol,
every failure rc 1).

``settle`` runs an action and turns what it raised into the exit code its ``HakitError``
carries (OCF codes, ``hakit.errors``) and one short, clean reason with the secrets masked,
logged once; a crash is rc 1 with a reason, its traceback only in the debug log, never on
stdout.  It lives in the package itself, not a module of its own: it is on every monitor's
path, where each module imported costs (start-up cost: docs/developing.md).
"""

from __future__ import annotations

import atexit
import os
import sys

from hakit import shown
from hakit.errors import ExitCode, HakitError
from hakit.os.runner import mask

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import NoReturn, Optional, Protocol

    class Declared(Protocol):
        """A declared parameter or option (``hakit.ocf.params.Param``)."""

        @property
        def name(self) -> str: ...
        @property
        def secret(self) -> bool: ...


def declared_secrets(declared: Iterable[Declared], raw: Mapping[str, str]) -> list[str]:
    """The values given for the parameters declared secret: masked in every log line and
    reason of the run (``settle``, the logger, ``hakit.os.runner``)."""
    return [raw[p.name] for p in declared if p.secret and raw.get(p.name)]


def settle(perform: Callable[[], int], action: str, log: logging.Logger,
           secrets: Sequence[str], internal: str) -> tuple[int, Optional[str]]:
    """``perform()``'s exit code and None, or, when it raised, the exception's exit code
    and its reason (``internal``, e.g. ``internal error``, heads a crash's reason).

    The reason is one line, without control characters, at most ``shown.REASON_LIMIT``
    characters, secrets masked (before cutting, so that no part of a secret survives at
    the cut).  It is logged here: as info for a resource found not running, as an error
    otherwise.
    """
    try:
        return int(perform()), None
    except HakitError as exc:
        code, reason = exc.exit_code, exc.reason
    except Exception as exc:
        import traceback  # only after a crash

        log.debug("%s", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        code = ExitCode.ERR_GENERIC
        reason = f"{internal}: {type(exc).__name__}: {exc}"
    reason = shown.reason(mask(reason, secrets))
    if code == ExitCode.NOT_RUNNING:
        log.info("not running: %s", reason)
    else:
        log.error("%s failed: %s", shown.word(action), reason)
    return int(code), reason


def finish(code: int) -> NoReturn:
    """End the agent process with exit status ``code``, as ``sys.exit`` would but without
    the interpreter's teardown.

    Freeing every module at exit costs about 2 ms of CPU, and a monitor runs every few
    seconds on every node (start-up cost: see BENCHMARKS.md).  What an exit must do still
    happens: output is flushed and the ``atexit`` handlers run.  While another non-daemon
    thread runs, this is a plain ``sys.exit``, which waits for it.
    """
    threading = sys.modules.get("threading")
    if threading is not None and any(
            t.is_alive() and not t.daemon and t is not threading.main_thread()
            for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can be said
    os._exit(code)
