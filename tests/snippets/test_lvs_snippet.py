"""``hakit-snippet lvs``: the director pair loads with crmsh and pcs (the same CIB), verifies,
and Pacemaker's scheduler (crm_simulate) promotes one director only once directors report a
promotion score, puts the VIP with it after the promotion, and on the promoted director's
death fences it, promotes the other and moves the VIP after that promotion."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hakit.snippets.cli import run as cli
from tests.snippets.cluster import AgentLayer, Transition, empty_cib, load, run, simulate, verify
from tests.snippets.conftest import generate
from tests.snippets.test_load import _semantics

FENCING = ["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
           "--bmc", "n3=198.18.1.3"]
LVS = ["lvs", "--name", "web", "--ip", "198.18.0.10/24", "--nic", "eth0",
       "--directors", "n1,n2", "--avoid", "n3", "--sync-interface", "eth1",
       "--services", "virtual 198.18.0.10:80 scheduler=wlc; real 198.18.2.11:80; "
                     "real 198.18.2.12:80; check http path=/health"]


def _loaded(layer: AgentLayer, work: Path, fmt: str) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    cib = empty_cib(work / "cib.xml")
    for argv in (FENCING, LVS):
        load(layer, cib, generate(*argv, "--format", fmt), fmt, work)
        verify(cib)
    return cib


@pytest.fixture(scope="module")
def lvs_cibs(layer: AgentLayer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {fmt: _loaded(layer, tmp_path_factory.mktemp(f"lvs-{fmt}"), fmt)
            for fmt in ("crm", "pcs")}


def test_crm_and_pcs_give_the_same_configuration(lvs_cibs: dict[str, Path]) -> None:
    assert _semantics(lvs_cibs["crm"]) == _semantics(lvs_cibs["pcs"])


def _score(cib: Path, node: str, value: int) -> None:
    """What ocf:hakit:lvs's monitor does once a director has learned the connections."""
    out = run(["/usr/sbin/crm_attribute", "--node", node, "--name", "master-web-lvs",
               "--lifetime", "reboot", "--update", str(value)], env={"CIB_file": str(cib)})
    assert out.returncode == 0, out.stderr


def _promoted(t: Transition) -> list[str]:
    return [n for r, op, n in t.actions if r.startswith("web-lvs") and op == "promote"]


def test_promotion_waits_for_a_score_then_vip_follows_it(lvs_cibs: dict[str, Path],
                                                         tmp_path: Path) -> None:
    first = simulate(lvs_cibs["crm"], tmp_path / "start")
    starts = sorted(n for r, n in first.starts() if r.startswith("web-lvs"))
    assert starts == ["n1", "n2"]  # never on n3
    assert _promoted(first) == [] and "web-vip" not in {r for r, _ in first.starts()}
    _score(first.cib, "n1", 100)
    _score(first.cib, "n2", 100)
    second = simulate(first.cib, tmp_path / "promote")
    (node,) = _promoted(second)
    assert second.placement["web-vip"] == (node,)
    instance = next(r for r, op, n in second.actions if op == "promote")
    assert second.requires(f"web-vip_start_0@{node}", f"{instance}_promote_0@{node}")
    # The promoted director dies: fenced, the other promoted, the VIP after it.
    third = simulate(second.cib, tmp_path / "fail", "--node-fail", node)
    other = "n2" if node == "n1" else "n1"
    assert ("fence", "reboot", node) in third.actions or any(
        a[0] == "fence" and a[2] == node for a in third.actions)
    assert _promoted(third) == [other]
    assert third.placement["web-vip"] == (other,)


@pytest.mark.parametrize(("argv", "message"), [
    (["--directors", "n1"], "exactly two"),
    (["--directors", "n1,n2", "--avoid", "n2"], "is a director"),
    (["--syncid", "300"], "0 to 255"),
    (["--services", "virtual 1.2.3.4:80 scheduler=nope; real 1.2.3.5:80"], "scheduler"),
])
def test_bad_lvs_input_exits_2(argv: list[str], message: str) -> None:
    base = ["lvs", "--name", "w", "--ip", "198.18.0.10/24", "--sync-interface", "eth1",
            "--services", "virtual 198.18.0.10:80; real 198.18.2.11:80",
            "--directors", "n1,n2"]
    err = io.StringIO()
    assert cli([*base, *argv], io.StringIO(), err) == 2
    assert message in err.getvalue()
