"""The dead-BMC demo's own parts, without a lab: what counts as fenced in the fencer's
history, the summary of a failover fenced at level 2, the lab's Ceph fencing options."""

from __future__ import annotations

import calendar
import time

from hypothesis import given
from hypothesis import strategies as st

from lab import cephfence, deadbmc
from lab.cli import _parser
from lab.demo import DemoResult, Failover, fenced_since, summary
from lab.layout import make_layout

T0 = calendar.timegm((2026, 12, 4, 4, 15, 30, 0, 0, 0))


def _event(action: str, at: float, status: str = "success") -> dict[str, str]:
    return {"action": action, "target": "n1", "status": status,
            "completed": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(at))}


@given(st.integers(-30, 30), st.sampled_from(["on", "off", "reboot"]),
       st.sampled_from(["success", "failed"]))
def test_only_a_fencing_completed_since_counts(offset: int, action: str,
                                               status: str) -> None:
    # An unfencing (on) or a failure never counts; stamps have whole seconds.
    want = action != "on" and status == "success" and offset >= 0
    assert fenced_since([_event(action, T0 + offset, status)], T0 + 0.9) is want


def test_history_junk_is_not_a_fencing() -> None:
    assert not fenced_since([{"action": "reboot", "status": "success"}], T0)
    assert not fenced_since([{"action": "reboot", "status": "success",
                              "completed": "yesterday"}], T0)
    assert not fenced_since([], T0)


def test_summary_names_the_level_and_the_unfencing() -> None:
    f = Failover("n1", detected=7.8, fencer_done=14.8, started=16.9, served=17.0,
                 new_node="n2", answering="n2", level=deadbmc.LEVEL_CEPH, rejoined=2.9,
                 unfenced=4.3,
                 fencer_history=[_event("on", T0), _event("reboot", T0 + 20)])
    text = "\n".join(summary(DemoResult("n1", "n1", "page", f)))
    assert "crash of n1 and its BMC" in text
    assert f"fencer reports it fenced: {deadbmc.LEVEL_CEPH}" in text
    assert "unfenced     4.30s" in text
    assert "fencer history: reboot of n1" in text  # not the unfencing


def test_snippet_args_give_every_node_its_address() -> None:
    layout = make_layout("t1", make_layout().state_dir)
    args = cephfence.snippet_args(layout)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--ceph"] == \
        ["n1=198.18.42.11", "n2=198.18.42.12", "n3=198.18.42.13"]
    assert cephfence.entry(layout.nodes[0]) == "198.18.42.11:0/0"
    assert args[args.index("--ceph-fence-keyring") + 1] == cephfence.FENCE_KEYRING


def test_demo_and_fault_commands_parse() -> None:
    assert _parser().parse_args(["demo", "--bmc-dead"]).bmc_dead
    for command in ("resume", "bmc-fail", "bmc-repair"):
        assert _parser().parse_args([command, "n2"]).node == "n2"
