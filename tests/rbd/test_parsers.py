"""The pure parsers behind the rbd agent, with hypothesis."""

from __future__ import annotations

import json
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st

from hakit.agents.rbd import parse_stonith_enabled
from hakit.ceph import ImageSpec, parse_blocklist
from hakit.rbd_map import find_device, mounted_at, parse_device_list

NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,20}", fullmatch=True)


@given(pool=NAMES, image=NAMES, namespace=st.one_of(st.just(""), NAMES),
       snap=st.one_of(st.none(), NAMES), others=st.lists(NAMES, max_size=4))
def test_find_device_matches_exactly(pool: str, image: str, namespace: str,
                                     snap: Optional[str], others: list[str]) -> None:
    entries = [{"id": str(i), "pool": pool, "namespace": namespace, "name": f"{o}x{image}",
                "snap": "-", "device": f"/dev/rbd{i + 1}"} for i, o in enumerate(others)]
    entries.append({"id": "0", "pool": pool, "namespace": namespace, "name": image,
                    "snap": snap or "-", "device": "/dev/rbd0"})
    parsed = parse_device_list(json.dumps(entries))
    assert find_device(parsed, ImageSpec(pool, image, namespace, snap)) == "/dev/rbd0"
    other_snap = None if snap else "s"
    assert find_device(parsed, ImageSpec(pool, image, namespace, other_snap)) is None
    assert find_device(parsed, ImageSpec(pool + "x", image, namespace, snap)) is None


def test_device_list_without_namespace_field() -> None:
    # Older rbd prints no namespace key for krbd devices.
    parsed = parse_device_list('[{"id":"0","pool":"rbd","name":"vm1","snap":"-",'
                               '"device":"/dev/rbd0"}]')
    assert find_device(parsed, ImageSpec("rbd", "vm1")) == "/dev/rbd0"
    assert parse_device_list("") == []


@given(st.text(max_size=200))
def test_device_list_never_crashes(text: str) -> None:
    try:
        parse_device_list(text)
    except Exception as exc:  # only the project's own error
        assert type(exc).__name__ == "GenericError"


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 65535)), max_size=5))
def test_blocklist_first_document_only(addrs: list[tuple[int, int]]) -> None:
    entries = [{"addr": f"127.0.0.1:{port}/{nonce}", "until": "2026-11-23T20:00:00+0000"}
               for nonce, port in addrs]
    ranges = [{"range": "10.0.0.0:0/32", "until": "x"}]
    parsed = parse_blocklist(json.dumps(entries) + json.dumps(ranges))
    assert [e.address for e in parsed] == [e["addr"] for e in entries]


def test_mounted_at_unescapes_octal() -> None:
    info = ("36 27 0:45 / /run/hakit/rbd/a\\040b/mnt rw,nosuid - fuse.rbd-fuse rbd-fuse rw\n"
            "37 27 0:46 / /other rw - ext4 /dev/loop0 rw\n")
    assert mounted_at(info, "/run/hakit/rbd/a b/mnt") == "fuse.rbd-fuse"
    assert mounted_at(info, "/run/hakit/rbd/a") is None


@given(st.text(max_size=300))
def test_mountinfo_never_crashes(text: str) -> None:
    mounted_at(text, "/x")


def test_stonith_enabled_answers() -> None:
    def attr(value: str) -> str:
        return (f'<pacemaker-result api-version="2.25"><attribute name="stonith-enabled" '
                f'value="{value}"/><status code="0" message="OK"/></pacemaker-result>')

    assert parse_stonith_enabled(attr("true")) is True
    assert parse_stonith_enabled(attr("false")) is False
    unset = '<pacemaker-result><status code="105" message="No such object"/></pacemaker-result>'
    assert parse_stonith_enabled(unset) is True  # the default applies
    offline = '<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>'
    assert parse_stonith_enabled(offline) is None
    assert parse_stonith_enabled("garbage <") is None
