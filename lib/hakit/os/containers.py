"""The LXC boundary: the one module that uses python3-lxc.

Container state, init PID, addresses, clean shutdown and kill go through liblxc's command
socket to the container's monitor process (``lxc-start``), so none of them spawns a program
or touches cgroups: they work the same on cgroup v1, hybrid and v2-only hosts.  The binding
reports most failures as ``False``; this module turns them, and its exceptions, into
``hakit.errors``.

Only python3-lxc's C extension ``_lxc`` is used: the package's Python wrapper (``lxc``)
imports ``subprocess`` (with ``locale``, ``re``, ``enum``, ``threading``...), 18 ms of CPU
on the build VM, more than a whole monitor's work (start-up cost: see BENCHMARKS.md).  The
four wrapper methods hakit needs are thin and are done here: ``get_config_item`` (a list
value ends in a newline), ``get_ips`` and ``set_config_item`` (direct calls) and ``wait``
(states are passed upper-case).
"""

from __future__ import annotations

from hakit.errors import ConfigError, GenericError, NotInstalledError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

#: States ``lxc_container.state`` reports (lxc/state.c).
STOPPED = "STOPPED"
STARTING = "STARTING"
RUNNING = "RUNNING"
STOPPING = "STOPPING"
ABORTING = "ABORTING"
FREEZING = "FREEZING"
FROZEN = "FROZEN"
THAWED = "THAWED"

#: What the binding raises for bad arguments or a failed call.
_BINDING_ERRORS = (RuntimeError, OSError, ValueError, TypeError, SystemError, KeyError)


def _binding() -> Any:
    """python3-lxc's C extension, imported on first use so meta-data works without it."""
    try:
        return __import__("_lxc")
    except ImportError as exc:
        raise NotInstalledError("python3-lxc is not installed (import _lxc failed)") from exc


class Container:
    """One container, named by ``name`` within ``lxcpath``.

    ``config`` loads an explicit configuration file instead of ``lxcpath/name/config``, as
    ``lxc-start -f`` does.  Loading is not needed for state queries: the monitor is found
    by name and lxcpath alone.
    """

    def __init__(self, name: str, lxcpath: str, config: Optional[str] = None) -> None:
        self.name = name
        self.lxcpath = lxcpath
        self.config = config
        binding = _binding()
        try:
            self._c: Any = binding.Container(name, lxcpath)
            if config is not None:
                self._c.clear_config()
                loaded = self._c.load_config(config)
            else:
                loaded = True
        except _BINDING_ERRORS as exc:
            raise GenericError(f"python3-lxc cannot open container {name} in {lxcpath}: "
                               f"{exc}") from exc
        if not loaded:
            raise ConfigError(f"LXC cannot parse the configuration file {config}")

    @property
    def defined(self) -> bool:
        """Whether a configuration was found (``lxcpath/name/config`` or ``config``)."""
        if self.config is not None:
            return True
        try:
            return bool(self._c.defined)
        except _BINDING_ERRORS as exc:
            raise GenericError(f"python3-lxc cannot read container {self.name}: {exc}") from exc

    @property
    def config_file(self) -> str:
        """The configuration file in use."""
        return self.config or f"{self.lxcpath}/{self.name}/config"

    def state(self) -> str:
        """The monitor's view: STOPPED when no monitor answers."""
        try:
            return str(self._c.state)
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot query the state of container {self.name}: "
                               f"{exc}") from exc

    def init_pid(self) -> Optional[int]:
        """The host PID of the container's init, or None when it is not running."""
        try:
            pid = int(self._c.init_pid)
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot query container {self.name}: {exc}") from exc
        return pid if pid > 0 else None

    def config_item(self, key: str) -> str:
        """A configuration value as text (the first one for list keys), '' when unset."""
        try:
            value = self._c.get_config_item(key)
        except _BINDING_ERRORS:
            return ""  # an unknown key for this LXC version: treat as unset
        if value is False or value is None:
            return ""
        text = str(value)
        # liblxc joins the values of a list key with newlines, ending in one.
        return text.rstrip("\n").split("\n")[0] if text.endswith("\n") else text

    def set_halt_signal(self, signum: int) -> None:
        """Use ``signum`` for the next ``shutdown`` (only in this process's loaded copy)."""
        try:
            ok = self._c.set_config_item("lxc.signal.halt", str(signum))
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot set the shutdown signal: {exc}") from exc
        if not ok:
            raise GenericError(f"LXC refused shutdown signal {signum}")

    def addresses(self, family: Optional[str] = None) -> tuple[str, ...]:
        """Global-scope addresses inside the container (loopback excluded).

        ``family`` is "inet", "inet6" or None for both.  liblxc enters the container's
        network namespace in a short-lived forked child; no program is run.
        """
        kwargs: dict[str, object] = {"scope": 0}
        if family:
            kwargs["family"] = family
        try:
            found = self._c.get_ips(**kwargs)
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot list the addresses of container {self.name}: "
                               f"{exc}") from exc
        return tuple(str(a) for a in (found or ()))

    def shutdown(self, timeout: int) -> bool:
        """Send the halt signal to init and wait up to ``timeout`` whole seconds for STOPPED.

        With ``timeout`` 0 the signal is sent and nothing is awaited.  Returns whether the
        container stopped.
        """
        try:
            return bool(self._c.shutdown(max(0, timeout)))
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot shut container {self.name} down: {exc}") from exc

    def kill(self) -> bool:
        """Ask the monitor to SIGKILL init (the whole PID namespace dies with it)."""
        try:
            return bool(self._c.stop())
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot kill container {self.name}: {exc}") from exc

    def wait(self, state: str, timeout: int) -> bool:
        """Wait up to ``timeout`` whole seconds for ``state``; whether it was reached."""
        try:
            return bool(self._c.wait(state, max(0, timeout)))
        except _BINDING_ERRORS as exc:
            raise GenericError(f"cannot wait for container {self.name}: {exc}") from exc
