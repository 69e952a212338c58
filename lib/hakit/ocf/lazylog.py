"""The agent run's logger, built only when a line is actually written.

A monitor that finds everything in order logs nothing, so ``dispatch`` hands handlers a
``LazyLogger``: it answers ``debug`` below the enabled level at once, and builds the real
``logging.Logger`` (``hakit.ocf.log.make_logger``: stderr, HA_LOGFILE, HA_DEBUGLOG, syslog,
secrets masked) on the first line it has to write.  Importing ``logging`` costs about
12 ms of CPU, a third of an IPaddr2 monitor (start-up cost: see BENCHMARKS.md).
"""

from __future__ import annotations

from hakit.ocf.environment import debug_enabled

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence
    from logging import Logger as _LoggerType
    from typing import Any, Optional, TextIO
else:
    _LoggerType = object

#: logging's level numbers, without importing logging.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50


class LazyLogger(_LoggerType):
    """Behaves as the ``logging.Logger`` that ``make_logger`` returns, built on first use.

    The level methods take the same arguments as ``logging.Logger``'s; any other attribute
    (handlers, filters...) is the real logger's, built on access.  Type checkers see a
    ``logging.Logger`` subclass, so it goes wherever one is expected.
    """

    def __init__(self, tag: str, ha_env: Mapping[str, str], secrets: Sequence[str] = (),
                 stderr: Optional[TextIO] = None) -> None:
        # Plain attributes only: __getattr__ below serves everything else.
        self.__dict__["_make"] = (tag, ha_env, secrets, stderr)
        self.__dict__["_real"] = None
        self.__dict__["_lowest"] = DEBUG if _debug_written(ha_env) else INFO

    def _logger(self) -> logging.Logger:
        real: Optional[logging.Logger] = self.__dict__["_real"]
        if real is None:
            from hakit.ocf.log import make_logger  # noqa: PLC0415 - start-up cost

            real = make_logger(*self.__dict__["_make"])
            self.__dict__["_real"] = real
        return real

    def isEnabledFor(self, level: int) -> bool:
        lowest: int = self.__dict__["_lowest"]
        return level >= lowest

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            self._logger().log(level, msg, *args, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(DEBUG):
            self._logger().debug(msg, *args, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(INFO):
            self._logger().info(msg, *args, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._logger().warning(msg, *args, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._logger().error(msg, *args, **kwargs)

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        self._logger().error(msg, *args, exc_info=exc_info, **kwargs)

    def critical(self, msg: object, *args: object, **kwargs: Any) -> None:
        self._logger().critical(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger(), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._logger(), name, value)


def _debug_written(ha_env: Mapping[str, str]) -> bool:
    """Whether any destination make_logger sets up takes debug lines."""
    return debug_enabled(ha_env) or ha_env.get("HA_DEBUGLOG", "") not in ("", "/dev/null")
