"""The one way hakit runs another program.

argv lists only (never a shell), absolute paths resolved from a fixed PATH, a small explicit
environment, stdin for secrets, and a timeout taken from the action's deadline that kills the
child's whole process group.  Secrets are masked in everything logged.
"""

from __future__ import annotations

import os

from hakit.errors import ActionTimeout, GenericError, NotInstalledError
from hakit.lean import frozen

#: typing.TYPE_CHECKING without importing typing (start-up cost: see BENCHMARKS.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    import subprocess
    from collections.abc import Mapping, Sequence
    from typing import Optional

    from hakit.deadline import Deadline

#: Where system binaries live on the hosts hakit supports; the caller's PATH is not trusted.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@frozen
class Completed:
    """A finished command."""

    argv: tuple[str, ...]  # as run, with absolute argv[0]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandFailed(GenericError):
    """A command exited non-zero; the reason quotes its stderr (secrets masked)."""

    def __init__(self, reason: str, result: Completed) -> None:
        super().__init__(reason)
        self.result = result


def mask(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Runner:
    """Runs commands for one action; holds the logger, the environment and the secrets to mask."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        env: Optional[Mapping[str, str]] = None,
        secrets: Optional[list[str]] = None,
        fail_which: bool = False,
    ) -> None:
        """``secrets`` is shared, not copied: the logger's mask filter sees what
        ``add_secret`` adds.  ``fail_which`` makes ``which`` report every binary missing
        (ocf-tester's OCF_TESTER_FAIL_HAVE_BINARY)."""
        self._log = log
        self._env = dict(env) if env is not None else {"PATH": SYSTEM_PATH, "LC_ALL": "C"}
        self._secrets = secrets if secrets is not None else []
        self._fail_which = fail_which

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def add_secret(self, secret: str) -> None:
        """Mask ``secret`` in everything this runner logs from now on."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def which(self, name: str) -> Optional[str]:
        """The absolute path of ``name`` on the system PATH, or None."""
        if self._fail_which:
            return None
        if os.path.isabs(name):
            return name if os.access(name, os.X_OK) else None
        # shutil.which's search, without importing shutil (start-up cost: BENCHMARKS.md).
        candidates = [name] if os.path.dirname(name) else [
            os.path.join(directory, name) for directory in SYSTEM_PATH.split(":")]
        for path in candidates:
            if os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path):
                return path
        return None

    def require(self, name: str) -> str:
        """The absolute path of ``name``; NotInstalledError when it is missing."""
        path = self.which(name)
        if path is None:
            raise NotInstalledError(f"required program '{name}' is not installed")
        return path

    def run(
        self,
        argv: Sequence[str],
        deadline: Deadline,
        *,
        timeout: Optional[float] = None,
        stdin: Optional[str] = None,
        check: bool = True,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        """Run ``argv`` and wait, at most ``timeout`` seconds and never past ``deadline``.

        ``stdin`` is how secrets reach a child.  With ``check``, a non-zero exit raises
        CommandFailed.  A child still running at the limit is killed with its process group
        and ActionTimeout is raised.
        """
        import subprocess

        full = (self.require(argv[0]), *argv[1:])
        shown = mask(" ".join(full), self._secrets)
        limit = deadline.timeout(timeout)
        if limit <= 0:
            raise ActionTimeout(f"timed out before running {shown}")
        child_env = dict(self._env)
        if env:
            child_env.update(env)
        self._log.debug("running: %s (timeout %.1fs)", shown, limit)
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_env,
                cwd=cwd,
                text=True,
                start_new_session=True,  # its own process group, so a timeout kills it all
                close_fds=True,
            )
        except OSError as exc:
            raise GenericError(f"cannot run {shown}: {exc.strerror}") from exc
        try:
            out, err = proc.communicate(stdin, timeout=limit)
        except subprocess.TimeoutExpired as exc:
            self._kill_group(proc)
            raise ActionTimeout(f"'{shown}' did not finish within {limit:.1f}s") from exc
        result = Completed(full, proc.returncode, out, err)
        if result.returncode != 0:
            self._log.debug("%s exited %d: %s", shown, result.returncode,
                            mask(err.strip(), self._secrets))
            if check:
                lines = (err or out).strip().splitlines()
                detail = mask(lines[-1], self._secrets) if lines else ""
                raise CommandFailed(
                    f"'{shown}' exited {result.returncode}" + (f": {detail}" if detail else ""),
                    result,
                )
        return result

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        output: Optional[str] = None,
        cwd: Optional[str] = None,
    ) -> int:
        """Start a daemon that outlives the action and return its PID (not waited for).

        It runs in its own session, with stdin closed and stdout/stderr appended to
        ``output`` (or discarded).  The caller records the PID (a pidfile) and later stops
        it by that PID; secrets go in files or ``env``, never in ``argv``.
        """
        import subprocess

        full = (self.require(argv[0]), *argv[1:])
        shown = mask(" ".join(full), self._secrets)
        child_env = dict(self._env)
        if env:
            child_env.update(env)
        self._log.debug("spawning: %s", shown)
        sink = open(output, "ab") if output else None  # noqa: SIM115 - closed below
        try:
            proc = subprocess.Popen(
                full, stdin=subprocess.DEVNULL,
                stdout=sink if sink else subprocess.DEVNULL,
                stderr=subprocess.STDOUT if sink else subprocess.DEVNULL,
                env=child_env, cwd=cwd, start_new_session=True, close_fds=True,
            )
        except OSError as exc:
            raise GenericError(f"cannot run {shown}: {exc.strerror}") from exc
        finally:
            if sink:
                sink.close()
        return proc.pid

    @staticmethod
    def _kill_group(proc: subprocess.Popen[str]) -> None:
        import signal
        import subprocess

        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a D-state child
            pass
