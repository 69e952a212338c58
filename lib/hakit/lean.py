"""Cheap stand-ins for ``dataclasses`` and ``typing`` on the agents' start-up path.

Every agent action is a fresh Python process, and importing ``dataclasses`` (13 ms of CPU
on the build VM: it pulls in ``inspect``) or ``typing`` (9 ms) costs more than a whole
monitor's work (see BENCHMARKS.md, and docs/developing.md "Start-up cost" for the rule
on what the monitor path may import).  Type checkers still see the real thing:

- ``@frozen`` builds an immutable record class from its field annotations; it is declared
  with PEP 681's ``dataclass_transform(frozen_default=True)``, so mypy checks it exactly
  like ``@dataclass(frozen=True)``.  It is hakit's one record type.
- ``Generic`` and ``TypeVar`` are imported from here only at run time, for generic base
  classes (``if TYPE_CHECKING: from typing import ...`` ``else: from hakit.lean import
  ...``).  ``Generic[X]`` returns the class itself, which is all a base class expression
  needs.
"""

from __future__ import annotations

#: typing.TYPE_CHECKING without importing typing (mypy and ruff know the name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable
    from typing import TypeVar as _TypeVar

    from typing_extensions import dataclass_transform

    C = _TypeVar("C", bound=type)
else:
    def dataclass_transform(**_options: object) -> Callable[[C], C]:
        """PEP 681 marker: only type checkers read it."""
        return lambda decorator: decorator


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a ``@frozen`` record (like dataclasses')."""


def _fields(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            # Annotations are strings (``from __future__ import annotations``).
            if "ClassVar" not in str(annotation) and name not in names:
                names.append(name)
    return tuple(names)


@dataclass_transform(frozen_default=True)
def frozen(cls: C) -> C:
    """Make ``cls`` an immutable record of its annotated fields, like
    ``@dataclass(frozen=True)``: positional or keyword ``__init__`` with the class-level
    values as defaults, field-wise ``==`` and ``hash``, and a ``repr``."""
    names = _fields(cls)
    # A subclass inherits its bases' defaults, as with dataclasses.
    defaults: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        defaults.update((name, vars(klass)[name]) for name in names if name in vars(klass))
    qualname = cls.__qualname__

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {len(names)} positional arguments "
                            f"but {len(args)} were given")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{qualname}() got an unexpected or repeated argument "
                                f"{name!r}")
            values[name] = value
        for name in names:
            if name not in values:
                if name not in defaults:
                    raise TypeError(f"{qualname}() missing required argument {name!r}")
                values[name] = defaults[name]
        self.__dict__.update(values)

    def _astuple(self: object) -> tuple[object, ...]:
        return tuple(self.__dict__[name] for name in names)

    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _astuple(self) == _astuple(other)

    def __hash__(self: object) -> int:
        return hash(_astuple(self))

    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={self.__dict__[name]!r}" for name in names)
        return f"{qualname}({shown})"

    def __setattr__(self: object, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: object, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    methods: dict[str, Any] = {
        "__init__": __init__, "__eq__": __eq__, "__hash__": __hash__,
        "__setattr__": __setattr__, "__delattr__": __delattr__,
    }
    if "__repr__" not in vars(cls):
        methods["__repr__"] = __repr__
    for name, method in methods.items():
        method.__qualname__ = f"{qualname}.{name}"
        setattr(cls, name, method)
    return cls


class Generic:
    """Run-time stand-in for ``typing.Generic``: ``Generic[T]`` and ``Sub[X]`` are the
    class itself, so ``class Sub(Base[int])`` just subclasses ``Base``."""

    __slots__ = ()

    def __class_getitem__(cls, _params: object) -> type:
        return cls


def TypeVar(name: str, *_constraints: object, **_options: object) -> str:
    """Run-time stand-in for ``typing.TypeVar``: only ``Generic[...]`` ever sees it."""
    return name
