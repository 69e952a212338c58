"""Cheap stand-ins for ``dataclasses`` and ``typing`` on the agents' start-up path.

Every agent action is a fresh Python process, and importing ``dataclasses`` (13 ms of CPU
on the build VM: it pulls in ``inspect``) or ``typing`` (9 ms) costs more than a whole
monitor's work (see BENCHMARKS.md).  Type checkers still see the real thing:

- ``@frozen`` builds an immutable record class from its field annotations; it is declared
  with PEP 681's ``dataclass_transform(frozen_default=True)``, so mypy checks it exactly
  like ``@dataclass(frozen=True)``.
- ``Generic``, ``TypeVar`` and ``NamedTuple`` are imported from here only at run time;
  modules write ``if TYPE_CHECKING: from typing import ...`` ``else: from hakit.lean
  import ...``.  ``Generic[X]`` returns the class itself, which is all a base class
  expression needs; ``NamedTuple`` builds a ``collections.namedtuple`` like typing does.
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


class _NamedTupleMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...],
                namespace: dict[str, Any]) -> Any:
        if not bases:  # NamedTuple itself
            return super().__new__(mcs, name, bases, namespace)
        from collections import namedtuple  # noqa: PLC0415 - only for NamedTuple classes

        fields = list(namespace.get("__annotations__", {}))
        defaults = [namespace[f] for f in fields if f in namespace]
        made = namedtuple(name, fields, defaults=defaults,  # type: ignore[misc]
                          module=namespace.get("__module__"))
        for key, value in namespace.items():
            if key not in fields and key not in ("__module__", "__qualname__",
                                                 "__annotations__", "__dict__", "__weakref__"):
                setattr(made, key, value)
        made.__qualname__ = namespace.get("__qualname__", name)
        return made


class NamedTuple(metaclass=_NamedTupleMeta):
    """Run-time stand-in for ``typing.NamedTuple`` (class syntax, fields with defaults,
    methods and properties) built on ``collections.namedtuple``."""


class _IntEnumMeta(type):
    """Makes the int attributes of an ``IntEnum`` subclass its members."""

    _member_map_: dict[str, Any]  # canonical names only (iteration)
    _names_: dict[str, Any]  # aliases too (lookup by name, __members__)
    _value2member_map_: dict[int, Any]

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        values = {key: value for key, value in namespace.items()
                  if not key.startswith("_") and type(value) is int}
        cls: Any = super().__new__(mcs, name, bases, {k: v for k, v in namespace.items()
                                                       if k not in values})
        cls._member_map_ = {}
        cls._names_ = {}
        cls._value2member_map_ = {}
        for key, value in values.items():
            member = cls._value2member_map_.get(value)
            if member is None:  # the first name of a value is its member, later ones aliases
                member = int.__new__(cls, value)
                member._name_ = key
                cls._value2member_map_[value] = member
                cls._member_map_[key] = member
            cls._names_[key] = member
            type.__setattr__(cls, key, member)
        return cls

    def __call__(cls, value: object) -> Any:
        try:
            return cls._value2member_map_[value]  # type: ignore[index]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__qualname__}") from None

    def __getitem__(cls, name: str) -> Any:
        return cls._names_[name]

    @property
    def __members__(cls) -> dict[str, Any]:
        return dict(cls._names_)

    def __iter__(cls) -> Any:
        return iter(list(cls._member_map_.values()))

    def __len__(cls) -> int:
        return len(cls._member_map_)

    def __contains__(cls, member: object) -> bool:
        return isinstance(member, cls) and getattr(member, "_name_", None) in cls._member_map_

    def __setattr__(cls, name: str, value: object) -> None:
        if name in cls.__dict__.get("_names_", {}):
            raise AttributeError(f"cannot reassign member {name!r}")
        super().__setattr__(name, value)


class IntEnum(int, metaclass=_IntEnumMeta):
    """Run-time stand-in for ``enum.IntEnum`` (``enum`` costs 3.6 ms of CPU to import):
    members are ints with ``name`` and ``value``; ``Cls(value)``, ``Cls[name]``, iteration,
    ``len`` and ``in`` work as for an enum; ``str`` and ``format`` are the int's (as
    ``enum.IntEnum`` since Python 3.11); the first name of a value wins, later ones are
    aliases."""

    _name_: str

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name_}: {int(self)}>"

    __str__ = int.__repr__
    __format__ = int.__format__

    def __reduce_ex__(self, _protocol: object) -> tuple[Any, tuple[int]]:
        return type(self), (int(self),)
