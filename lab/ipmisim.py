"""OpenIPMI's ``ipmi_sim`` as the BMC of one machine: its files and its chassis program.

One implementation for the lab's BMCs (``lab.bmc``, whose power changes crash and
boot a lab node) and the tests' simulator (``tests/harness/bmc.py``, which can also
misbehave).  ipmi_sim runs the chassis program per request as ``PROG STATE 0x20 get
power`` or ``PROG STATE 0x20 set power 0|1``; the program keeps the machine's state in
the directory STATE as small JSON files:

- ``power``: 1 or 0, as the BMC reports it;
- ``config``: what a change does: ``off``/``on`` (an argv run on that change; run to
  completion before the BMC answers, or started in its own session and not waited for
  when ``detach_on``/``detach_off`` is set), ``env`` for them, and the faults
  ``stuck_on`` (off is acknowledged, power stays on) and ``off_delay``/``on_delay``
  (the change happens that many seconds later, at the next request);
- ``history``: one line per event, ``<unix time> off requested``, ``<unix time> off``...;
- ``calls``: every request, ``<unix time> get power``, ``<unix time> set power 0``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

IPMI_SIM = "/usr/bin/ipmi_sim"

#: Stdlib only and isolated (``-I``): it starts once per request.
CHASSIS_CONTROL = r'''#!/usr/bin/python3 -I
import json, os, subprocess, sys, time
state, args = sys.argv[1], sys.argv[3:]
op, params = (args[0], args[1:]) if args else ("", [])
def path(name):
    return os.path.join(state, name)
def read(name, default):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default
def write(name, value):
    tmp = path(name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path(name))
def log(what):
    with open(path("history"), "a") as f:
        f.write("%.3f %s\n" % (time.time(), what))
def change(power, cfg):
    if read("power", 1) == power:
        return
    word = "on" if power else "off"
    log(word + " requested")
    action = cfg.get(word)
    if action:
        with open(path("power-%s.out" % word), "ab") as out:
            kw = dict(env=cfg.get("env"), stdin=subprocess.DEVNULL, stdout=out,
                      stderr=subprocess.STDOUT)
            if cfg.get("detach_" + word):
                subprocess.Popen(action, start_new_session=True, **kw)
            else:
                subprocess.run(action, timeout=60, check=False, **kw)
    write("power", power)
    log(word)
cfg = read("config", {})
with open(path("calls"), "a") as f:
    f.write("%.3f %s\n" % (time.time(), " ".join(args)))
pending = read("pending", None)
if pending and time.time() >= pending["at"]:
    os.unlink(path("pending"))
    change(pending["power"], cfg)
if op == "get":
    for p in params:
        print("%s:%s" % (p, read("power", 1) if p == "power" else "default"))
elif op == "set":
    for name, value in zip(params[::2], params[1::2]):
        if name != "power":
            continue
        power = 1 if value == "1" else 0
        if power == 0 and cfg.get("stuck_on"):
            continue
        delay = cfg.get("off_delay" if power == 0 else "on_delay", 0)
        if delay:
            write("pending", {"power": power, "at": time.time() + delay})
        else:
            if os.path.exists(path("pending")):
                os.unlink(path("pending"))
            change(power, cfg)
'''


def save(state: Path, name: str, value: object) -> None:
    """Replace one of the chassis program's JSON files atomically."""
    tmp = state / f"{name}.tmp"
    tmp.write_text(json.dumps(value))
    os.replace(tmp, state / name)


def prepare(workdir: Path, state: Path, *, host: str, port: int, username: str,
            password: str, power_on: bool, config: dict[str, object],
            satellites: Mapping[int, Path] = MappingProxyType({})) -> list[str]:
    """Write every file ipmi_sim needs into ``workdir`` (chassis state in ``state``); the
    ipmi_sim argv.  ``lan.conf`` holds the password, so it is readable by its owner only.

    ``satellites``: more controllers on the BMC's IPMB, by address (e.g. 0x82, a blade in
    a chassis), each powering its own machine with its state in the given directory; they
    are reached by bridging (ipmitool -t, fence_ipmilan's ``target``).
    """
    for where in satellites.values():
        where.mkdir(parents=True, exist_ok=True)
        save(where, "power", 1 if power_on else 0)
        save(where, "config", {})
    state.mkdir(parents=True, exist_ok=True)
    (workdir / "persist").mkdir(parents=True, exist_ok=True)
    program = workdir / "chassis_control"
    program.write_text(CHASSIS_CONTROL)
    program.chmod(0o755)
    save(state, "power", 1 if power_on else 0)
    save(state, "config", config)
    lan = workdir / "lan.conf"
    lan.touch(mode=0o600)
    lan.chmod(0o600)
    lan.write_text(f'''name "hakit-bmc"
set_working_mc 0x20
  startlan 1
    addr {host} {port}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{program} {state} 0x20"
  user 2 true "{username}" "{password}" admin 10 md5
''' + "".join(f'set_working_mc 0x{address:02x}\n'
              f'  chassis_control "{program} {where} 0x{address:02x}"\n'
              for address, where in satellites.items()))
    emu = workdir / "sim.emu"
    emu.write_text("mc_setbmc 0x20\n"
                   "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n"
                   "mc_enable 0x20\n"
                   + "".join(f"mc_add 0x{address:02x} 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 "
                             f"0xf02\nmc_enable 0x{address:02x}\n" for address in satellites))
    return [IPMI_SIM, "-c", str(lan), "-f", str(emu), "-s", str(workdir / "persist"), "-n"]


def listening(pid: int, port: int) -> bool:
    """Whether process ``pid`` has UDP ``port`` open (read in its own network namespace)."""
    want = f":{port:04X}"
    try:
        lines = Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1].endswith(want) for line in lines if line.split())


def history(state: Path) -> list[tuple[float, str]]:
    """The power log, oldest first: (unix time, "off requested" | "off" | "on" ...)."""
    try:
        text = (state / "history").read_text()
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        stamp, _, what = line.partition(" ")
        try:
            events.append((float(stamp), what))
        except ValueError:
            continue
    return events


def power(state: Path) -> bool:
    """Whether the BMC reports the machine as on (off when the state is unreadable)."""
    try:
        return bool(json.loads((state / "power").read_text()))
    except (OSError, ValueError):
        return False
