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


def test_every_forwarding_method_and_scheduler_reaches_the_kernel(
        contract_guest: GuestRun) -> None:
    """NAT, tunnel and direct routing; wrr, lc, sh, mh, wlc, rr; UDP, a firewall mark,
    persistence and IPv6, as ipvsadm reads them back from the kernel."""
    steps = contract_guest.steps
    for name in ("kinds_start", "kinds_monitor", "kinds_stop"):
        assert steps.rc(name) == 0, steps.out(name)
    table = " ".join(contract_guest.text("kinds_table.txt").split())
    for entry in ("TCP 198.18.0.10:81 wrr -> 198.18.0.11:8081 Masq 2 0 0 "
                  "-> 198.18.0.12:8081 Masq 1",
                  "TCP 198.18.0.10:82 lc persistent 300 -> 198.18.0.11:82 Tunnel 1",
                  "TCP 198.18.0.10:84 rr -> 198.18.0.12:84 Route 0",
                  "UDP 198.18.0.10:83 sh -> 198.18.0.11:83 Route 1",
                  "TCP [fd00::10]:80 wlc -> [fd00::11]:80 Route 1",
                  "FWM 7 mh -> 198.18.0.11:0 Route 1 0 0 -> 198.18.0.12:0 Route 1"):
        assert entry in table, (entry, table)
    left = contract_guest.text("kinds_after_stop.txt")
    assert "198.18.0.10" not in left and "FWM" not in left and "fd00" not in left, left


def test_bad_input_where_ip_vs_exists_leaves_nothing(contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    assert steps.rc("bad_iface") == 6
    assert "sync_interface" in steps.reason("bad_iface")
    assert "nosuch0" in steps.reason("bad_iface")
    assert steps.rc("bad_sched") == 6 and "'scheduler'" in steps.reason("bad_sched")
    # A scheduler the parser knows but this kernel (6.1) lacks: not installed, named.
    assert steps.rc("bad_twos") == 5, steps.out("bad_twos")
    assert "'scheduler'" in steps.reason("bad_twos") and "twos" in steps.reason("bad_twos")
    assert steps.rc("bad_nat") == 2 and "forward=nat" in steps.reason("bad_nat")
    assert steps.rc("bad_stop") == 0
    assert "198.18.0.10" not in contract_guest.text("bad_after_stop.txt")
    assert contract_guest.text("bad_daemons_after_stop.txt").strip() == ""


def test_failure_action_remove_deletes_and_restores_the_entry(
        contract_guest: GuestRun) -> None:
    steps = contract_guest.steps
    assert steps.rc("h_mon_remove") == 8, steps.out("h_mon_remove")
    assert steps.rc("h_mon_readded") == 8, steps.out("h_mon_readded")
    assert "198.18.0.11:80" not in contract_guest.text("h_table_removed.txt")
    assert "198.18.0.12:80" in contract_guest.text("h_table_removed.txt")
    assert "198.18.0.11:80               Route   1" in contract_guest.text(
        "h_table_readded.txt")


def test_a_sync_link_down_is_said_and_a_lost_one_fails(contract_guest: GuestRun) -> None:
    """keepalived's users learn of a dead sync link when a failover resets everything."""
    steps = contract_guest.steps
    assert steps.rc("sl_start") == 0, steps.out("sl_start")
    assert steps.rc("sl_monitor_down") == 0, steps.out("sl_monitor_down")
    assert "sync interface sync0 is down" in steps.out("sl_monitor_down")
    assert steps.rc("sl_monitor_gone") == 1
    assert "sync interface sync0 no longer exists" in steps.reason("sl_monitor_gone")
    assert steps.rc("sl_stop") == 0
    assert contract_guest.text("sl_daemons_after_stop.txt").strip() == ""


def test_a_lost_warmup_record_delays_promotion_once(contract_guest: GuestRun) -> None:
    """Without its record a backup would never become promotable; it counts from now."""
    steps = contract_guest.steps
    assert steps.rc("rec_start") == 0 and steps.rc("rec_stop") == 0
    assert steps.rc("rec_monitor") == 0 and steps.rc("rec_monitor_later") == 0
    assert "not promotable yet" in steps.out("rec_monitor")
    assert "not promotable yet" not in steps.out("rec_monitor_later")
