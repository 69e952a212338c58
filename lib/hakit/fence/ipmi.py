"""IPMI over LAN, in process through pyghmi: the one module that imports pyghmi.

RMCP+ (IPMI 2.0) sessions carry the password only inside the RAKP exchange, never on any
command line.  pyghmi proposes cipher suite 17 (SHA-256, AES) and falls back to 3 (SHA-1,
AES); it never offers suite 0 (no authentication), and speaks IPMI 1.5 only with MD5
authentication when a BMC lacks 2.0, which this module refuses unless ``lanplus`` is off.
Every request runs on a helper thread with its own timeout, so a silent BMC costs at most
that timeout; the session is always logged out, since BMCs have few session slots.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar

from pyghmi import exceptions as pyghmi_exceptions
from pyghmi.ipmi.private import session as pyghmi_session

from hakit.deadline import Deadline
from hakit.fence import pyghmi_wait
from hakit.fence.device import PowerState
from hakit.fence.errors import (
    AuthFailed,
    DeviceUnreachable,
    FenceError,
    InsecureTransport,
    StateUnknown,
)

T = TypeVar("T")

#: IPMI privilege levels (IPMI 2.0 table 22-28) by fence_ipmilan's ``privlvl`` names.
PRIVILEGES = {"callback": 1, "user": 2, "operator": 3, "administrator": 4}
#: Cipher suites pyghmi can negotiate.
SUPPORTED_SUITES = (17, 3)

#: Chassis commands (IPMI 2.0 section 28): netfn 0 "chassis".
_NETFN_CHASSIS = 0
_GET_CHASSIS_STATUS = 0x01
_CHASSIS_CONTROL = 0x02
_CONTROL = {PowerState.OFF: 0x00, PowerState.ON: 0x01}
_POWER_CYCLE = 0x02
_DIAGNOSTIC_INTERRUPT = 0x04  # "pulse diagnostic interrupt": an NMI (ipmitool's "diag")
#: The Send Message command (App netfn 6, command 0x34) through which a BMC bridges a
#: request to another controller, and its completion codes (IPMI 2.0 table 22-10).
_NETFN_APP_RESPONSE = 0x07
_SEND_MESSAGE = 0x34
_BRIDGE_CODES = {0x80: "the controller is busy (invalid session handle)",
                 0x81: "lost arbitration on the bus",
                 0x82: "the bus is busy",
                 0x83: "no controller answered at that address (NAK on write)"}
_COMPLETION = {0xC1: "invalid command: the controller does not implement it",
               0xCC: "invalid data field: the controller does not support this request",
               0xD4: "insufficient privilege", 0xD5: "not supported in the present state"}

#: pyghmi's login error texts that mean "the BMC refused these credentials".
_AUTH_WORDS = ("password", "unauthorized name", "kg", "privilege", "invalid role",
               "unauthorized role", "rakp")


@dataclass(frozen=True)
class IpmiTarget:
    """Where the BMC is and how to log in."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    kg: Optional[bytes] = field(default=None, repr=False)  # the BMC key, raw bytes
    privilege: str = "administrator"
    allow_ipmi15: bool = False  # lanplus=0: accept an IPMI 1.5 (MD5) session
    cipher: Optional[int] = None  # the suite that must be negotiated; None: 17, else 3
    login_timeout: float = 5.0
    request_timeout: float = 2.0
    # fence_ipmilan's ``target`` (ipmitool -t): the IPMB address of the controller behind
    # the BMC that owns the machine (a blade's, in a chassis); None: the BMC itself.
    bridge: Optional[int] = None

    @property
    def where(self) -> str:
        behind = f" (bridged to target 0x{self.bridge:02x})" if self.bridge is not None else ""
        return f"BMC {self.host}:{self.port}{behind}"


def _classify(exc: BaseException, target: IpmiTarget, doing: str) -> FenceError:
    """A hakit error for what pyghmi (or the socket layer) raised."""
    text = str(exc) if str(exc) not in ("", "None") else ""
    lower = text.lower()
    if isinstance(exc, OSError):
        return DeviceUnreachable(f"{target.where} unreachable while {doing}: {exc}")
    if not text or "timeout" in lower or "timed out" in lower:
        return DeviceUnreachable(f"{target.where} did not answer while {doing}")
    if any(word in lower for word in _AUTH_WORDS):
        return AuthFailed(f"{target.where} refused the login of user '{target.username}': "
                          f"{text} (check username, password, hexadecimal_kg and privlvl)")
    if "cipher" in lower:
        return InsecureTransport(f"{target.where} while {doing}: {text}")
    return FenceError(f"{target.where} failed while {doing}: {text}")


def _bounded(fn: Callable[[], T], seconds: float, target: IpmiTarget, doing: str) -> T:
    """``fn()`` on a helper thread, abandoned after ``seconds``.

    pyghmi retransmits for several seconds on its own schedule; a daemon thread lets this
    one-shot process give up sooner and exit without waiting for it.
    """
    if seconds <= 0:
        raise DeviceUnreachable(f"no time left for {doing} with {target.where}")
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=work, name="hakit-ipmi", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DeviceUnreachable(f"{target.where} did not answer {doing} within {seconds:.1f}s")
    if "error" in box:
        error = box["error"]
        if isinstance(error, (pyghmi_exceptions.PyghmiException, OSError)):
            raise _classify(error, target, doing) from error
        raise error
    result: T = box["result"]
    return result


def negotiated(sess: Any) -> str:
    """A description of the session's protocol, for the debug log and the policy."""
    if getattr(sess, "ipmiversion", 0) != 2.0:
        return "IPMI 1.5 (MD5)"
    suite = 17 if getattr(sess, "currhashlib", None) is hashlib.sha256 else 3
    return f"IPMI 2.0 RMCP+ cipher suite {suite}"


class IpmiBmc:
    """A logged-in IPMI session: the ``PowerDevice`` for fence_hakit."""

    def __init__(self, sess: Any, target: IpmiTarget, log: logging.Logger) -> None:
        self._sess = sess
        self._target = target
        self._log = log

    def _raw(self, command: int, data: tuple[int, ...], deadline: Deadline,
             doing: str) -> bytes:
        seconds = deadline.timeout(self._target.request_timeout)
        bridge = self._target.bridge
        # pyghmi wraps the request in Send Message to IPMB channel 0, as ipmitool -t does.
        route = {"addr": bridge, "channel": 0} if bridge is not None else None
        response = _bounded(
            lambda: self._sess.raw_command(netfn=_NETFN_CHASSIS, command=command,
                                           data=data, retry=True, bridge_request=route),
            seconds, self._target, doing)
        code = response.get("code", 0)
        if bridge is not None and code and response.get("netfn") == _NETFN_APP_RESPONSE \
                and response.get("command") == _SEND_MESSAGE:
            raise FenceError(f"{self._target.where}: the BMC could not forward {doing} to "
                             f"target 0x{bridge:02x}: "
                             f"{_BRIDGE_CODES.get(code, f'completion code 0x{code:02x}')} "
                             f"(check target)")
        if code and code in _COMPLETION:
            raise StateUnknown(f"{self._target.where} refused {doing}: completion code "
                               f"0x{code:02x}, {_COMPLETION[code]}")
        if "error" in response:
            raise _classify(pyghmi_exceptions.IpmiException(response["error"]), self._target,
                            doing)
        if code:
            raise StateUnknown(f"{self._target.where} answered {doing} with completion code "
                               f"0x{code:02x}")
        return bytes(response.get("data", b""))

    def get_power(self, deadline: Deadline) -> PowerState:
        data = self._raw(_GET_CHASSIS_STATUS, (), deadline, "reading the power state")
        if not data:
            raise StateUnknown(f"{self._target.where} answered the chassis status request "
                               "without a power state")
        return PowerState.ON if data[0] & 0x01 else PowerState.OFF

    def request_power(self, state: PowerState, deadline: Deadline) -> None:
        self._log.debug("requesting power %s from %s", state.value, self._target.where)
        self._raw(_CHASSIS_CONTROL, (_CONTROL[state],), deadline, f"requesting power {state.value}")

    def request_cycle(self, deadline: Deadline) -> None:
        self._log.debug("requesting a power cycle from %s", self._target.where)
        self._raw(_CHASSIS_CONTROL, (_POWER_CYCLE,), deadline, "requesting a power cycle")

    def request_diag(self, deadline: Deadline) -> None:
        self._log.debug("requesting a diagnostic interrupt from %s", self._target.where)
        self._raw(_CHASSIS_CONTROL, (_DIAGNOSTIC_INTERRUPT,), deadline,
                  "requesting a diagnostic interrupt")

    def logout(self) -> None:
        """Close the session; failures are logged, never raised (the action's result
        stands), and take at most one request timeout."""
        try:
            _bounded(self._sess.logout, self._target.request_timeout, self._target,
                     "logging out")
            self._log.debug("logged out of %s", self._target.where)
        except Exception as exc:  # the BMC will expire the session itself
            self._log.debug("logout from %s failed: %s", self._target.where, exc)


def _check_policy(sess: Any, target: IpmiTarget) -> None:
    protocol = negotiated(sess)
    if protocol.startswith("IPMI 1.5") and not target.allow_ipmi15:
        raise InsecureTransport(f"{target.where} offers only IPMI 1.5 (MD5, no encryption); "
                                "refused because lanplus is on (set lanplus=0 to allow it)")
    if target.cipher == 17 and protocol.endswith("suite 3"):
        raise InsecureTransport(f"{target.where} negotiated cipher suite 3 but cipher=17 "
                                "was required")


@contextlib.contextmanager
def open_bmc(target: IpmiTarget, deadline: Deadline, log: logging.Logger) -> Iterator[IpmiBmc]:
    """A logged-in session to ``target``, logged out on leaving whatever happens."""
    privlevel = PRIVILEGES[target.privilege]
    log.debug("logging in to %s as '%s' (privilege %s)", target.where, target.username,
              target.privilege)

    problem = pyghmi_wait.install(pyghmi_session)
    if problem:
        log.warning("%s; running without it, so a request may wait up to 1 s for an answer "
                    "that has already arrived", problem)

    def login() -> Any:
        return pyghmi_session.Session(bmc=target.host, userid=target.username,
                                      password=target.password, port=target.port,
                                      kg=target.kg, privlevel=privlevel, keepalive=False)

    sess = _bounded(login, deadline.timeout(target.login_timeout), target, "logging in")
    bmc = IpmiBmc(sess, target, log)
    try:
        log.debug("session with %s: %s", target.where, negotiated(sess))
        _check_policy(sess, target)
        yield bmc
    finally:
        bmc.logout()
