"""hakit.lean's stand-ins behave as the dataclasses/typing features hakit uses."""

from __future__ import annotations

import dataclasses
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


def test_exit_codes_are_the_ocf_numbers() -> None:
    # At run time ExitCode's members are plain ints (no enum import); the dispatcher
    # returns int(code), so only the numbers matter, and they are OCF 1.1's.
    assert [ExitCode.SUCCESS, ExitCode.ERR_GENERIC, ExitCode.ERR_ARGS,
            ExitCode.ERR_UNIMPLEMENTED, ExitCode.ERR_PERM, ExitCode.ERR_INSTALLED,
            ExitCode.ERR_CONFIGURED, ExitCode.NOT_RUNNING, ExitCode.RUNNING_PROMOTED,
            ExitCode.FAILED_PROMOTED, ExitCode.DEGRADED, ExitCode.DEGRADED_PROMOTED] == [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]
    assert all(type(getattr(ExitCode, name)) is int for name in vars(ExitCode)
               if name.isupper())


def test_generic_subscription_is_the_class() -> None:
    class Box(lean.Generic):
        pass

    class IntBox(Box[int]):  # type: ignore[type-arg]
        pass

    assert Box[int] is Box and IntBox.__mro__[1] is Box
