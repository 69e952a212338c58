"""hakit.lean's stand-ins behave as the dataclasses/enum/typing features hakit uses."""

from __future__ import annotations

import dataclasses
import enum
import pickle
import typing

import pytest

from hakit import lean
from hakit.errors import ExitCode


@lean.frozen
class Lean:
    name: str
    size: int = 3
    tags: tuple[str, ...] = ()
    kind: typing.ClassVar[str] = "not a field"

    @property
    def double(self) -> int:
        return self.size * 2


@dataclasses.dataclass(frozen=True)
class Real:
    name: str
    size: int = 3
    tags: tuple[str, ...] = ()
    kind: typing.ClassVar[str] = "not a field"


def test_frozen_record_like_a_frozen_dataclass() -> None:
    for cls in (Lean, Real):
        a = cls("x", tags=("t",))
        assert (a.name, a.size, a.tags) == ("x", 3, ("t",))
        assert a == cls("x", 3, ("t",)) and hash(a) == hash(cls("x", 3, ("t",)))
        assert a != cls("y")
        assert repr(a).endswith("(name='x', size=3, tags=('t',))")
        with pytest.raises(AttributeError):
            a.name = "y"  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            cls("x", nope=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            cls("x", name="y")  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls("x", 1, (), 4)  # type: ignore[call-arg]
    assert Lean("x", 4).double == 8
    assert Lean("x") != Real("x")
    with pytest.raises(lean.FrozenInstanceError):
        del Lean("x").size


class Code(lean.IntEnum):
    OK = 0
    BAD = 1
    ALIAS = 1


class RealCode(enum.IntEnum):
    OK = 0
    BAD = 1
    ALIAS = 1


def test_int_enum_like_enum_int_enum() -> None:
    for cls in (Code, RealCode):
        assert cls(1) is cls.BAD and cls["BAD"] is cls.BAD and cls.ALIAS is cls.BAD
        assert [m.name for m in cls] == ["OK", "BAD"] and len(cls) == 2
        assert cls.BAD == 1 and cls.BAD.value == 1 and isinstance(cls.BAD, int)
        assert repr(cls.BAD) == f"<{cls.__name__}.BAD: 1>"
        assert f"{cls.BAD}" == "1" and f"{cls.BAD:>3}" == "  1"
        assert cls.BAD in cls and (cls.OK or cls.BAD) is cls.BAD
        assert pickle.loads(pickle.dumps(cls.BAD)) is cls.BAD  # noqa: S301 - our own bytes
        assert list(cls.__members__) == ["OK", "BAD", "ALIAS"]
        assert cls["ALIAS"] is cls.BAD
        with pytest.raises(ValueError):
            cls(7)
        with pytest.raises(KeyError):
            cls["NOPE"]
    assert ExitCode(7) is ExitCode.NOT_RUNNING and ExitCode.NOT_RUNNING.name == "NOT_RUNNING"


class Pair(lean.NamedTuple):
    left: int
    right: str = "r"

    @property
    def both(self) -> str:
        return f"{self.left}{self.right}"


def test_named_tuple_like_typing_named_tuple() -> None:
    pair = Pair(1)
    assert pair == (1, "r") and pair.right == "r" and pair.both == "1r"
    assert Pair(2, right="x")._replace(left=3) == (3, "x")
    assert repr(pair) == "Pair(left=1, right='r')"
    left, right = pair
    assert (left, right) == (1, "r")


def test_generic_subscription_is_the_class() -> None:
    class Box(lean.Generic):
        pass

    class IntBox(Box[int]):  # type: ignore[type-arg]
        pass

    assert Box[int] is Box and IntBox.__mro__[1] is Box
