"""ocf:hakit:lvs for real, in a kernel guest with IPVS (tests/lvs/lab.py has the scripts).

A client keeps one TCP connection through the VIP (direct routing) exchanging a line every
500 ms while director d1 dies (its link cut), d2 is promoted and takes the VIP, d1 comes back
as a fresh machine, learns the connections from d2's master sync daemon, and the pair fails
back to d1.  The connection must survive both switches with every line echoed in order.
The same scenario through keepalived's LVS mode runs in the same guest as the anchor.
"""

from __future__ import annotations

from tests.lvs.conftest import GuestRun
from tests.lvs.lab import events


def _stream(run: GuestRun, name: str) -> tuple[list[tuple[float, str, str]], str]:
    log = events(run.text(f"{name}.log"))
    return log, run.text(f"{name}.log")


def test_connection_survives_failover_and_failback(failover_guest: GuestRun) -> None:
    steps = failover_guest.steps
    expected = {"d1_start": 0, "d2_start": 0, "d1_promote": 0, "d1_vip": 0, "d1_monitor": 8,
                "d2_promote": 0, "d2_vip": 0, "d1_restart": 0, "d1_learned": 0,
                "d2_vip_stop": 0, "d2_demote": 0, "d1_promote_again": 0, "d1_vip_again": 0,
                "d1_monitor_again": 8, "d2_monitor_again": 0, "d1_stop": 0, "d2_stop": 0}
    got = {name: steps.rc(name) for name in expected}
    assert got == expected, {n: steps.out(n) for n in expected if got[n] != expected[n]}
    log, text = _stream(failover_guest, "hakit")
    assert not [e for e in log if e[1] == "error"], text[-2000:]
    done = [e for e in log if e[1] == "done"]
    assert done, text[-2000:]
    sent, received = (int(x) for x in done[0][2].split())
    assert sent == received and sent > 20, done
    crash = float(failover_guest.text("hakit_crash.t"))
    failback = float(failover_guest.text("hakit_failback.t"))
    echoes = [t for t, kind, _ in log if kind == "echo"]
    # Data flowed after the failover (through d2) and after the failback (through d1).
    assert any(crash < t < failback for t in echoes)
    assert any(t > float(failover_guest.text("hakit_failedback.t")) for t in echoes)


def test_recovered_director_learned_the_connection_before_failback(
        failover_guest: GuestRun) -> None:
    table = failover_guest.text("d1_conns_before_failback.txt")
    assert "ESTABLISHED" in table and "198.18.0.100" in table, table


def test_stop_leaves_no_ipvs_entries(failover_guest: GuestRun) -> None:
    assert "198.18.0.10" not in failover_guest.text("d1_after_stop.txt")


def test_keepalived_anchor_ran(failover_guest: GuestRun) -> None:
    """keepalived's LVS mode in the same guest: its failover keeps the connection (it syncs
    too); what it does on failback is recorded for BENCHMARKS.md, not asserted."""
    log, text = _stream(failover_guest, "keepalived")
    crash = float(failover_guest.text("keepalived_crash.t"))
    echoes = [t for t, kind, _ in log if kind == "echo"]
    assert any(t > crash for t in echoes), text[-2000:]


def test_dead_real_server_gets_no_new_connections_and_comes_back(
        contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    for name in ("h_start", "h_promote", "h_vip"):
        assert steps.rc(name) == 0, steps.out(name)
    for name in ("h_mon_r1_down", "h_mon_r1_up", "h_mon_all_down", "h_mon_back"):
        assert steps.rc(name) == 8, steps.out(name)

    def served(name: str) -> list[str]:
        return [kind for _, kind, _ in events(contract_guest.text(f"{name}.txt"))]
    assert set(served("h_all")) == {"r1", "r2"}
    assert set(served("h_r1_down")) == {"r2"}, served("h_r1_down")
    assert "198.18.0.11:80               Route   0" in contract_guest.text(
        "h_table_r1_down.txt")  # quiesced: weight 0, entry kept
    assert set(served("h_r1_up")) == {"r1", "r2"}
    assert set(served("h_all_down")) == {"r3"}, served("h_all_down")  # the sorry server
    assert set(served("h_back")) == {"r1", "r2"}
    assert "198.18.0.13" not in contract_guest.text("h_table_back.txt")
    assert "failed its check" in steps.out("h_mon_r1_down")


def test_stop_removes_exactly_what_the_resource_created(contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    assert steps.rc("own_start") == 1
    assert "already exists and was not created by this resource" in steps.reason("own_start")
    assert steps.rc("own_stop") == 0
    left = contract_guest.text("own_after_stop.txt")
    # Both services another manager created survive the failed start and the stop.
    assert "198.18.0.10:80" in left and "198.18.0.20:8080" in left, left
    assert steps.rc("own_start_clean") == 0 and steps.rc("own_stop_clean") == 0
    left = contract_guest.text("own_after_clean_stop.txt")
    assert "198.18.0.10:80" not in left and "198.18.0.20:8080" in left, left


def test_monitor_notices_what_was_removed_by_hand(contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    assert steps.rc("hr_monitor_daemon") == 1
    assert "sync daemon" in steps.reason("hr_monitor_daemon")
    assert steps.rc("hr_restart") == 0
    assert steps.rc("hr_monitor_service") == 1
    assert "198.18.0.10:80 is missing" in steps.reason("hr_monitor_service")
    assert steps.rc("hr_stop") == 0


def test_early_promote_waits_for_the_warmup(contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    assert steps.rc("warm_start") == 0 and steps.rc("warm_promote") == 0
    assert "holding promotion" in steps.out("warm_promote")
    assert steps.rc("warm_stop") == 0


def test_reload_applies_a_changed_definition(contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    for name in ("rl_start", "rl_monitor_down", "rl_reload", "rl_monitor", "rl_stop"):
        assert steps.rc(name) == 0, steps.out(name)
    assert "198.18.0.13" in contract_guest.text("rl_table_down.txt")  # the sorry server
    table = contract_guest.text("rl_table.txt")
    assert "198.18.0.10:80 wlc" in table and "UDP  198.18.0.10:53 rr" in table, table
    assert "198.18.0.12:80               Route   3" in table, table
    assert "198.18.0.13" not in table, table
    assert "198.18.0.10" not in contract_guest.text("rl_after_stop.txt")
