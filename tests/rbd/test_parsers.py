"""The pure parsers behind the rbd agent, with hypothesis."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st

from hakit.os.ceph import ImageSpec, monmap_needs_msgr2, parse_blocklist
from hakit.steps.rbd.config import option_names
from hakit.steps.rbd.fuse import mounted_at
from hakit.steps.rbd.kernel import find_device, kernel_map_options, krbd_devices, parse_device_list
from hakit.steps.rbd.lock import parse_gone_nodes, parse_lock_holder

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


NODE_STATES = st.sampled_from(["true", "false"])


@given(nodes=st.dictionaries(NAMES, st.tuples(NODE_STATES, NODE_STATES), max_size=5))
def test_gone_nodes_are_offline_and_clean(nodes: dict[str, tuple[str, str]]) -> None:
    body = "".join(f'<node name="{n}" id="{i}" online="{on}" unclean="{unclean}" '
                   'standby="false" type="member"/>'
                   for i, (n, (on, unclean)) in enumerate(nodes.items()))
    xml = f'<pacemaker-result api-version="2.25"><nodes>{body}</nodes></pacemaker-result>'
    assert parse_gone_nodes(xml) == {n for n, (on, unclean) in nodes.items()
                                     if on == "false" and unclean == "false"}


def test_gone_nodes_without_a_cluster() -> None:
    offline = '<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>'
    assert parse_gone_nodes(offline) is None
    assert parse_gone_nodes("garbage <") is None


@given(st.text(max_size=80))
def test_lock_holder_record_is_two_words_or_nothing(text: str) -> None:
    found = parse_lock_holder(text)
    assert found is None or (len(text.split()) == 2 and list(found) == text.split())


def _mon(*types: str) -> dict[str, object]:
    return {"public_addrs": {"addrvec": [{"type": t, "addr": "198.18.0.1:3300"} for t in types]}}


def test_msgr2_only_from_the_monitor_map() -> None:
    assert monmap_needs_msgr2({"mons": [_mon("v2")]})
    assert monmap_needs_msgr2({"mons": [_mon("v2", "v1"), _mon("v2")]})
    assert not monmap_needs_msgr2({"mons": [_mon("v2", "v1")]})
    assert not monmap_needs_msgr2({"mons": [_mon("v1")]})
    assert not monmap_needs_msgr2("garbage")


OPTION = st.from_regex(r"[a-z_]{1,10}(=[a-z0-9-]{1,6})?", fullmatch=True)


@given(user=st.lists(OPTION, max_size=4), kind=st.sampled_from(["krbd", "nbd"]),
       ms_mode=st.sampled_from([None, "prefer-crc", "secure", "legacy"]), udev=st.booleans())
def test_map_options_add_only_what_is_missing(user: list[str], kind: str,
                                              ms_mode: Optional[str], udev: bool) -> None:
    given_text = ",".join(user) or None
    result = (kernel_map_options(kind, given_text, ms_mode=ms_mode, udev=udev) or "").split(",")
    assert result[:len(user)] == user  # the admin's options first, untouched
    names = option_names(",".join(user))
    added = result[len(user):] if user else [o for o in result if o]
    if kind == "nbd":
        assert added == []  # rbd-nbd takes neither option
        return
    assert ("noudev" in added) == (not udev and not {"noudev", "udev"} & names)
    wants_mode = ms_mode not in (None, "legacy") and "ms_mode" not in names
    assert (f"ms_mode={ms_mode}" in added) == wants_mode


@given(mappings=st.lists(st.tuples(NAMES, st.one_of(st.just(""), NAMES), NAMES,
                                   st.one_of(st.just("-"), NAMES)), max_size=4))
def test_krbd_devices_from_sysfs(mappings: list[tuple[str, str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for dev_id, (pool, namespace, image, snap) in enumerate(mappings):
            d = root / str(dev_id)
            d.mkdir()
            for name, value in (("pool", pool), ("pool_ns", namespace), ("name", image),
                                ("current_snap", snap)):
                (d / name).write_text(value + "\n")
        entries = krbd_devices(root)
        for pool, namespace, image, snap in mappings:
            spec = ImageSpec(pool, image, namespace, None if snap == "-" else snap)
            first = next(i for i, m in enumerate(mappings) if (m[0], m[1], m[2]) ==
                         (pool, namespace, image) and (m[3] == "-") == (snap == "-")
                         and (snap == "-" or m[3] == snap))
            assert find_device(entries, spec) == f"/dev/rbd{first}"
    assert krbd_devices(Path("/nonexistent/sys/bus/rbd/devices")) == []
