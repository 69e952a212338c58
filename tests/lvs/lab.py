"""Shell scripts for the LVS guests: one guest, several network namespaces on a bridge.

The guest (tests.harness.vm) has ip_vs; the host does not.  Inside it, namespaces play the
machines of a direct-routing LVS site, all on one bridge in the guest's own root namespace
(nothing leaves the guest):

- ``c`` the client (198.18.0.100), ``d1``/``d2`` the directors (.1/.2), ``r1``/``r2`` the real
  servers (.11/.12) and ``r3`` the sorry server (.13), each real server with the VIP
  (198.18.0.10) on ``lo`` and ``arp_ignore=1``/``arp_announce=2``, running echo_server.py.

Scripts record each command with ``step NAME CMD`` (tests.kernel.guestkit.Steps reads
``steps/NAME.rc`` and ``.out``) and times as /proc/uptime, the clock the Python helpers log in
(CLOCK_BOOTTIME).  A director "crashes" by losing its link at the bridge, and "reboots" as a
new namespace (its IPVS table and /run state gone), as a real node would.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.harness.ocf import AGENTS, LIB, OCF_ROOT

HERE = Path(__file__).resolve().parent
VIP = "198.18.0.10"
PORT = 80
#: The service definition of the tests: round robin over two real servers, the sorry
#: server when both fail, TCP checks at every monitor taking a server out at once.
SERVICES = (f"virtual {VIP}:{PORT} scheduler=rr forward=dr; real 198.18.0.11:{PORT}; "
            f"real 198.18.0.12:{PORT}; sorry 198.18.0.13:{PORT}; "
            "check tcp timeout=1 rise=1 fall=1")
#: Every forwarding method and the schedulers the issue names, TCP, UDP, a firewall mark,
#: persistence and IPv6: what the kernel must accept as the parser reads it.
KINDS = (f"virtual {VIP}:81 scheduler=wrr forward=nat; real 198.18.0.11:8081 weight=2; "
         "real 198.18.0.12:8081; check none; "
         f"virtual {VIP}:82 scheduler=lc forward=tun persistence=300; real 198.18.0.11:82; "
         "check none; "
         f"virtual {VIP}:83 protocol=udp scheduler=sh; real 198.18.0.11:83; check none; "
         "virtual fwmark:7 scheduler=mh; real 198.18.0.11; real 198.18.0.12; check none; "
         "virtual [fd00::10]:80 scheduler=wlc forward=dr; real [fd00::11]:80; check none; "
         f"virtual {VIP}:84 scheduler=rr forward=gate; real 198.18.0.12:84 weight=0; "
         "check none")
#: The definition after a reload: r2 weighs 3, the sorry server is gone, a UDP service
#: is added.
RELOADED = (f"virtual {VIP}:{PORT} scheduler=wlc forward=dr; real 198.18.0.11:{PORT}; "
            f"real 198.18.0.12:{PORT} weight=3; check tcp timeout=1; "
            f"virtual {VIP}:53 protocol=udp scheduler=rr; real 198.18.0.11:53; check none")
LVS_PARAMS = {"services": SERVICES, "sync_interface": "eth0", "sync_refresh": "1s",
              "sync_warmup": "3s"}


def _exports(values: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items())


def prelude() -> str:
    """The topology, the echo servers and the helpers ``step``, ``up``, ``lvs``, ``vip``."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": OCF_ROOT, "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
           "OCF_RESKEY_CRM_meta_timeout": "60000"}
    lvs_env = " ".join(f"OCF_RESKEY_{k}={shlex.quote(v)}" for k, v in LVS_PARAMS.items())
    return _exports(env) + f"""
A={shlex.quote(str(AGENTS))}
H={shlex.quote(str(HERE))}
mkdir -p steps
step() {{ n=$1; shift; timeout -k 5 120 "$@" > "steps/$n.out" 2>&1; echo $? > "steps/$n.rc"; }}
up() {{ cut -d' ' -f1 /proc/uptime; }}
# ./lvs NS ACTION [VAR=VALUE...]: ocf:hakit:lvs on director NS (instance lvs:0, as in a
# clone); ./vip NS ACTION: ocf:hakit:vip for the VIP there.  Scripts, so `step` can run them.
cat > lvs <<'LVSEOF'
#!/bin/sh
ns=$1; act=$2; shift 2
exec env {lvs_env} OCF_RESKEY_network_namespace=$ns \\
  OCF_RESOURCE_INSTANCE=lvs:0 OCF_RESKEY_CRM_meta_interval=0 "$@" $A/lvs $act
LVSEOF
cat > vip <<'VIPEOF'
#!/bin/sh
exec env OCF_RESKEY_ip={VIP} OCF_RESKEY_cidr_netmask=24 OCF_RESKEY_nic=eth0 \\
  OCF_RESKEY_network_namespace=$1 OCF_RESOURCE_INSTANCE=vip $A/vip $2
VIPEOF
chmod +x lvs vip
export A
node() {{
  ip netns add $1; ip -n $1 link set lo up
  ip link add v-$1 type veth peer name eth0 netns $1
  ip link set v-$1 master br0 up
  ip -n $1 link set eth0 up; ip -n $1 addr add $2/24 dev eth0
}}
realserver() {{
  node $1 $2
  ip -n $1 addr add {VIP}/32 dev lo
  for k in all eth0; do
    ip netns exec $1 sysctl -qw net.ipv4.conf.$k.arp_ignore=1 net.ipv4.conf.$k.arp_announce=2
  done
  serve $1
}}
serve() {{ ip netns exec $1 python3 $H/echo_server.py $1 {PORT} $PWD/$1.pid > /dev/null 2>&1 & }}
kill_server() {{ kill -9 $(cat $1.pid); rm -f $1.pid; }}
ip link add br0 type bridge
ip link set br0 up
node c 198.18.0.100
node d1 198.18.0.1
node d2 198.18.0.2
realserver r1 198.18.0.11
realserver r2 198.18.0.12
realserver r3 198.18.0.13
for r in r1 r2 r3; do
  for i in $(seq 100); do [ -s $r.pid ] && break; sleep 0.1; done
done
modprobe ip_vs
"""


def crash(director: str) -> str:
    """The director loses its link (a node dying, as the network sees it)."""
    return f"ip link set v-{director} down\n"


def reboot(director: str, address: str) -> str:
    """The crashed director comes back as a fresh machine: a new namespace (no IPVS table,
    no sync daemon) and an empty /run/hakit."""
    return (f"ip link del v-{director}; ip netns del {director}; "
            f"rm -rf /run/hakit/lvs/lvs@{director}\nnode {director} {address}\n")


def keepalived_conf(director: str, priority: int) -> str:
    """keepalived's LVS mode for the same site: VRRP for the VIP, the same virtual service
    with TCP checks, and its sync daemon following the VRRP state."""
    return f"""global_defs {{
  router_id {director}
  lvs_sync_daemon eth0 VI_1 id 1
  enable_script_security
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  virtual_ipaddress {{
    {VIP}/24 dev eth0
  }}
}}
virtual_server {VIP} {PORT} {{
  delay_loop 1
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 198.18.0.11 {PORT} {{
    TCP_CHECK {{
      connect_timeout 1
    }}
  }}
  real_server 198.18.0.12 {PORT} {{
    TCP_CHECK {{
      connect_timeout 1
    }}
  }}
}}
"""


def keepalived_start(director: str, priority: int) -> str:
    conf = keepalived_conf(director, priority)
    return (f"cat > ka-{director}.conf <<'KAEOF'\n{conf}KAEOF\n"
            f"ip netns exec {director} keepalived -n -l -D -f $PWD/ka-{director}.conf "
            f"-p $PWD/ka-{director}.pid -r $PWD/ka-{director}-vrrp.pid "
            f"-c $PWD/ka-{director}-check.pid > ka-{director}.log 2>&1 &\n")


def keepalived_kill(director: str) -> str:
    """SIGKILL every keepalived process of ``director`` by its pidfiles (a crash)."""
    return "".join(f"[ -s ka-{director}{s}.pid ] && kill -9 $(cat ka-{director}{s}.pid)\n"
                   for s in ("", "-vrrp", "-check"))


def stream(name: str) -> str:
    """Start a long-lived client connection through the VIP, logging to ``NAME.log``."""
    return (f"rm -f {name}.stop; ip netns exec c python3 $H/stream_client.py {VIP} {PORT} "
            f"$PWD/{name}.log $PWD/{name}.stop & echo $! > {name}.client\n"
            f"for i in $(seq 100); do grep -q ' echo 3$' {name}.log 2>/dev/null && break; "
            "sleep 0.1; done\n")


def stream_end(name: str) -> str:
    return (f"touch {name}.stop; for i in $(seq 100); do grep -q done {name}.log && break; "
            "sleep 0.1; done\n")


def new_conns(name: str) -> str:
    """Open new connections every 100 ms until killed, logging to ``NAME.log``; returns
    once the first is served (the interpreter's start-up under emulation takes seconds, and
    must not be mistaken for an outage or hide one)."""
    return (f"ip netns exec c python3 $H/new_conns.py {VIP} {PORT} 0 0.1 0.3 > {name}.log "
            f"2>&1 & echo $! > {name}.pid\n"
            f"for i in $(seq 100); do [ -s {name}.log ] && break; sleep 0.1; done\n")


def failover_script(*, anchor: bool = True, probes: bool = False) -> str:
    """hakit's failover and failback with a long-lived connection, then (``anchor``) the
    same through keepalived.  ``probes`` adds new-connection loops (the benchmark's)."""
    wait_vip = ("wait_vip() { for i in $(seq 300); do ip -n $1 addr show dev eth0 | "
                "grep -q 'inet 198.18.0.10/' && break; sleep 0.05; done; }\n"
                # Until stream NAME echoes after the moment in file T (TCP's retransmission
                # backoff may hold it for twice the outage): a director that comes back
                # while the connection is silent has nothing to learn yet.
                "wait_flow() { for i in $(seq 900); do awk -v t=$(cat $2) "
                "'$2==\"echo\" && $1>t {f=1} END {exit !f}' $1.log && break; sleep 0.1; "
                "done; }\n")
    lines = [prelude(), wait_vip, """
step d1_start ./lvs d1 start
step d2_start ./lvs d2 start
sleep 3
step d1_promote ./lvs d1 promote
step d1_vip ./vip d1 start
step d1_monitor ./lvs d1 monitor OCF_RESKEY_CRM_meta_interval=5000
""", stream("hakit"), "sleep 3\n"]
    if probes:
        lines.append(new_conns("hakit_new1"))
    lines += ["up > hakit_crash.t\n", crash("d1"), """
step d2_promote ./lvs d2 promote
up > hakit_promoted.t
step d2_vip ./vip d2 start
up > hakit_switched.t
wait_flow hakit hakit_switched.t
sleep 2
"""]
    if probes:
        lines.append("kill $(cat hakit_new1.pid)\n")
    lines += [reboot("d1", "198.18.0.1"), """
step d1_restart ./lvs d1 start
sleep 3
step d1_learned ./lvs d1 monitor OCF_RESKEY_CRM_meta_interval=6000
ip netns exec d1 ipvsadm -Lnc > d1_conns_before_failback.txt
up > hakit_failback.t
step d2_vip_stop ./vip d2 stop
step d2_demote ./lvs d2 demote
step d1_promote_again ./lvs d1 promote
step d1_vip_again ./vip d1 start
up > hakit_failedback.t
sleep 4
step d1_monitor_again ./lvs d1 monitor OCF_RESKEY_CRM_meta_interval=5000
step d2_monitor_again ./lvs d2 monitor OCF_RESKEY_CRM_meta_interval=6000
""", stream_end("hakit"), """
step d1_stop_vip ./vip d1 stop
step d1_stop ./lvs d1 stop
step d2_stop ./lvs d2 stop
ip netns exec d1 ipvsadm -Ln > d1_after_stop.txt
"""]
    if anchor:
        # Fresh directors: the anchor must not inherit hakit's sync tuning (sysctls are per
        # namespace); keepalived leaves the kernel's defaults.
        lines += [reboot("d1", "198.18.0.1"), reboot("d2", "198.18.0.2"),
                  keepalived_start("d1", 150), keepalived_start("d2", 100),
                  "wait_vip d1\nsleep 3\n", stream("keepalived"), "sleep 3\n"]
        if probes:
            lines.append(new_conns("keepalived_new1"))
        lines += ["up > keepalived_crash.t\n", crash("d1"), keepalived_kill("d1"),
                  "wait_vip d2\nup > keepalived_switched.t\n",
                  "wait_flow keepalived keepalived_switched.t\nsleep 2\n"]
        if probes:
            lines.append("kill $(cat keepalived_new1.pid)\n")
        # The failed director comes back; keepalived (higher priority, preempting) takes
        # the VIP back as soon as its VRRP says so.
        lines += [reboot("d1", "198.18.0.1"), "up > keepalived_failback.t\n",
                  keepalived_start("d1", 150), "wait_vip d1\nup > keepalived_failedback.t\n",
                  "sleep 4\n", stream_end("keepalived"),
                  "ip netns exec d1 ipvsadm -Lnc > ka_d1_conns.txt\n",
                  keepalived_kill("d1"), keepalived_kill("d2")]
    lines.append("echo finished > finished\n")
    return "".join(lines)


def events(text: str) -> list[tuple[float, str, str]]:
    """A helper's log as (time, kind, rest) tuples."""
    found = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2:
            try:
                found.append((float(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
            except ValueError:
                continue
    return found


def first_after(log: list[tuple[float, str, str]], moment: float, gap: float = 1.0,
                until: float = float("inf")) -> float:
    """Seconds from ``moment`` to the end of the stream's outage after it: the first echo
    that follows a pause longer than ``gap`` (replies to lines sent before ``moment`` may
    still arrive: with direct routing they never pass the director).  0 when the stream did
    not pause; inf when it never resumed, or was lost before ``until`` without a pause."""
    echoes = [t for t, k, _ in log if k == "echo"]
    for before, after in zip(echoes, echoes[1:]):
        if after > moment and after - before > gap:
            return after - moment
    if any(moment < t < until and k == "error" for t, k, _ in log):
        return float("inf")
    return 0.0 if any(t > moment for t in echoes) else float("inf")


def first_served_after(lines: str, moment: float, steady: int = 3) -> float:
    """Seconds from ``moment`` to the first new connection served after the outage that
    follows it (new_conns.py output): the first success after a failure that the next
    ``steady`` attempts confirm.  A connection accepted just after ``moment``, before the
    director's link went down, does not count, nor does a lone success amid failures
    (a SYN that left before the cut).  0 when no connection failed."""
    after = [name not in ("error", "?") for t, name, _ in events(lines) if t > moment]
    times = [t for t, _, _ in events(lines) if t > moment]
    if all(after):
        return 0.0
    first_failure = after.index(False)
    for i in range(first_failure, len(after)):
        if all(after[i:i + steady + 1]) and len(after[i:i + steady + 1]) == steady + 1:
            return times[i] - moment
    return float("inf")


def _conns(name: str, count: int) -> str:
    return (f"ip netns exec c python3 $H/new_conns.py {VIP} {PORT} {count} 0 1 > {name}.txt "
            "2>&1\n")


def _wait_served(server: str) -> str:
    return f"for i in $(seq 100); do [ -s {server}.pid ] && break; sleep 0.1; done\n"


def contract_script() -> str:
    """The agent contract where IPVS exists (lifecycle, roles, ocf-tester), exact ownership,
    removal behind the agent's back, and real-server health with the sorry server."""
    tester = " ".join(f"-o {k}={shlex.quote(v)}" for k, v in LVS_PARAMS.items())
    mon = "OCF_RESKEY_CRM_meta_interval=5000"
    reloaded = f"OCF_RESKEY_services={shlex.quote(RELOADED)}"
    return prelude() + f"""
step lc_validate ./lvs d1 validate-all
step lc_start ./lvs d1 start
step lc_start_again ./lvs d1 start
step lc_monitor ./lvs d1 monitor {mon}
step lc_probe ./lvs d1 monitor
step lc_promote ./lvs d1 promote
step lc_promote_again ./lvs d1 promote
step lc_monitor_promoted ./lvs d1 monitor {mon}
step lc_probe_promoted ./lvs d1 monitor
step lc_demote ./lvs d1 demote
step lc_monitor_demoted ./lvs d1 monitor {mon}
step lc_stop ./lvs d1 stop
step lc_monitor_stopped ./lvs d1 monitor {mon}
step lc_stop_again ./lvs d1 stop
ip netns exec d1 ipvsadm -Ln > lc_after_stop.txt
ip netns exec d1 ipvsadm -Ln --daemon > lc_daemons_after_stop.txt
step ocf_tester env OCF_RESKEY_network_namespace=d1 /usr/sbin/ocf-tester -n lvs {tester} \\
  -o network_namespace=d1 $A/lvs

# a promote sooner than sync_warmup after start waits, and says so
step warm_start ./lvs d1 start OCF_RESKEY_sync_warmup=4s
step warm_promote ./lvs d1 promote OCF_RESKEY_sync_warmup=4s
step warm_stop ./lvs d1 stop

# reload-agent applies a changed definition in place
step rl_start ./lvs d2 start
kill_server r1; kill_server r2
step rl_monitor_down ./lvs d2 monitor {mon}
ip netns exec d2 ipvsadm -Ln > rl_table_down.txt
serve r1; serve r2
{_wait_served("r1")}{_wait_served("r2")}step rl_reload ./lvs d2 reload-agent {reloaded}
ip netns exec d2 ipvsadm -Ln > rl_table.txt
step rl_monitor ./lvs d2 monitor {mon} {reloaded}
step rl_stop ./lvs d2 stop {reloaded}
ip netns exec d2 ipvsadm -Ln > rl_after_stop.txt

# health: a killed real server gets no new connections, comes back; all dead -> sorry
step h_start ./lvs d1 start
step h_promote ./lvs d1 promote
step h_vip ./vip d1 start
{_conns("h_all", 6)}kill_server r1
step h_mon_r1_down ./lvs d1 monitor {mon}
ip netns exec d1 ipvsadm -Ln > h_table_r1_down.txt
{_conns("h_r1_down", 6)}serve r1
{_wait_served("r1")}step h_mon_r1_up ./lvs d1 monitor {mon}
{_conns("h_r1_up", 6)}kill_server r1; kill_server r2
step h_mon_all_down ./lvs d1 monitor {mon}
ip netns exec d1 ipvsadm -Ln > h_table_all_down.txt
{_conns("h_all_down", 4)}serve r1; serve r2
{_wait_served("r1")}{_wait_served("r2")}step h_mon_back ./lvs d1 monitor {mon}
ip netns exec d1 ipvsadm -Ln > h_table_back.txt
{_conns("h_back", 4)}kill_server r1
step h_mon_remove ./lvs d1 monitor {mon} OCF_RESKEY_failure_action=remove
ip netns exec d1 ipvsadm -Ln > h_table_removed.txt
serve r1
{_wait_served("r1")}step h_mon_readded ./lvs d1 monitor {mon} OCF_RESKEY_failure_action=remove
ip netns exec d1 ipvsadm -Ln > h_table_readded.txt
step h_vip_stop ./vip d1 stop
step h_stop ./lvs d1 stop

# exact ownership: another manager's services are never adopted or removed
ip netns exec d2 ipvsadm -A -t {VIP}:{PORT} -s rr
ip netns exec d2 ipvsadm -A -t 198.18.0.20:8080 -s wlc
step own_start ./lvs d2 start
step own_stop ./lvs d2 stop
ip netns exec d2 ipvsadm -Ln > own_after_stop.txt
ip netns exec d2 ipvsadm -D -t {VIP}:{PORT}
step own_start_clean ./lvs d2 start
step own_stop_clean ./lvs d2 stop
ip netns exec d2 ipvsadm -Ln > own_after_clean_stop.txt

# every forwarding method and scheduler as the kernel has them; NAT needs forwarding
ip netns exec d1 sysctl -qw net.ipv4.ip_forward=1
step kinds_start ./lvs d1 start OCF_RESKEY_services={shlex.quote(KINDS)}
ip netns exec d1 ipvsadm -Ln > kinds_table.txt
step kinds_monitor ./lvs d1 monitor {mon} OCF_RESKEY_services={shlex.quote(KINDS)}
step kinds_stop ./lvs d1 stop OCF_RESKEY_services={shlex.quote(KINDS)}
ip netns exec d1 ipvsadm -Ln > kinds_after_stop.txt
ip netns exec d1 sysctl -qw net.ipv4.ip_forward=0

# bad input where ip_vs exists: nothing is left behind
step bad_iface ./lvs d1 start OCF_RESKEY_sync_interface=nosuch0
step bad_sched ./lvs d1 start \\
  OCF_RESKEY_services={shlex.quote(f"virtual {VIP}:80 scheduler=fastest; real 198.18.0.11:80")}
step bad_twos ./lvs d1 start \\
  OCF_RESKEY_services={shlex.quote(f"virtual {VIP}:85 scheduler=twos; real 198.18.0.11:85")}
step bad_nat ./lvs d1 start \\
  OCF_RESKEY_services={shlex.quote(f"virtual {VIP}:86 forward=nat; real 198.18.0.11:86")}
step bad_stop ./lvs d1 stop
ip netns exec d1 ipvsadm -Ln > bad_after_stop.txt
ip netns exec d1 ipvsadm -Ln --daemon > bad_daemons_after_stop.txt

# removed behind the agent's back: monitor fails with a reason
step hr_start ./lvs d2 start
ip netns exec d2 ipvsadm --stop-daemon backup
step hr_monitor_daemon ./lvs d2 monitor {mon}
step hr_restart ./lvs d2 start
ip netns exec d2 ipvsadm -D -t {VIP}:{PORT}
step hr_monitor_service ./lvs d2 monitor {mon}
step hr_stop ./lvs d2 stop
ip netns exec d2 ipvsadm -Ln > hr_after_stop.txt

# the sync link loses its carrier (a warning at every monitor), then disappears (rc 1)
ip -n d1 link add sync0 type veth peer name sync1
ip -n d1 link set sync0 up; ip -n d1 link set sync1 up
step sl_start ./lvs d1 start OCF_RESKEY_sync_interface=sync0
ip -n d1 link set sync1 down
step sl_monitor_down ./lvs d1 monitor {mon} OCF_RESKEY_sync_interface=sync0
ip -n d1 link del sync0
step sl_monitor_gone ./lvs d1 monitor {mon} OCF_RESKEY_sync_interface=sync0
step sl_stop ./lvs d1 stop OCF_RESKEY_sync_interface=sync0
ip netns exec d1 ipvsadm -Ln --daemon > sl_daemons_after_stop.txt

# the warm-up record lost while the backup runs: learning counts from the next monitor
step rec_start ./lvs d1 start
rm -f /run/hakit/lvs/lvs@d1/backup-since
step rec_monitor ./lvs d1 monitor {mon}
sleep 3.5
step rec_monitor_later ./lvs d1 monitor {mon}
step rec_stop ./lvs d1 stop
echo finished > finished
"""
