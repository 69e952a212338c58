"""stonith:fence_hakit: power fencing through a BMC over IPMI (RMCP+), verified.

A drop-in for fence_ipmilan: the same option names and aliases, so a pcs stonith device
can switch agents without other changes.  Unlike fence_ipmilan, the password never
reaches a command line (IPMI is spoken in process), off is verified by polling within
``power_timeout`` real seconds, ``method=cycle`` needs evidence that power went away,
and a wrong password is reported as such.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Optional

from hakit import __version__
from hakit.errors import ParamError
from hakit.fence.agent import POWER_ACTIONS, FenceAgent
from hakit.fence.context import FenceContext
from hakit.fence.credentials import resolve_password
from hakit.fence.device import PowerDevice
from hakit.fence.ipmi_kinds import HexKey, IpmbAddress
from hakit.fence.options import (
    IP,
    LOGIN_TIMEOUT,
    PASSWORD,
    PASSWORD_ENV,
    PASSWORD_SCRIPT,
    REQUEST_TIMEOUT,
    USERNAME,
    Boolean,
    Integer,
    Select,
    String,
    option,
)
from hakit.fence.port_as_ip import PORT_AS_IP, device_address
from hakit.ocf.params import Values

#: The BMC's own IPMB address (hakit.fence.ipmi.BMC_ADDRESS; not imported from there, which
#: would load pyghmi for metadata and validate-all).
BMC_ADDRESS = 0x20

IPPORT = option("ipport", Integer(1, 65535), "UDP port to use for connection with device",
                default="623", short="u", metavar="port")
LANPLUS = option("lanplus", Boolean(), "Use Lanplus (IPMI 2.0 RMCP+) to improve security",
                 default="1", short="P",
                 longdesc="On (the default), only IPMI 2.0 RMCP+ sessions are accepted. Off "
                          "also accepts an IPMI 1.5 session with MD5 authentication from a "
                          "BMC without RMCP+; sessions without authentication never are.")
CIPHER = option("cipher", String(r"[0-9]{1,3}", "a cipher suite number"),
                "Ciphersuite to use (same as ipmitool -C parameter)", short="C",
                metavar="cipher",
                longdesc="Empty: suite 17 (SHA-256, AES-128), else 3 (SHA-1, AES-128). 17 "
                         "requires suite 17; 3 accepts 3 or the stronger 17. Suite 0 (no "
                         "authentication) is refused.")
PRIVLVL = option("privlvl", Select("callback", "user", "operator", "administrator"),
                 "Privilege level on IPMI device", default="administrator", short="L",
                 metavar="level")


HEXADECIMAL_KG = option("hexadecimal_kg", HexKey(),
                        "Hexadecimal-encoded Kg key for IPMIv2 authentication",
                        metavar="key", long="hexadecimal-kg", secret=True)
TARGET = option("target", IpmbAddress(), "Bridge IPMI requests to the remote target address",
                metavar="targetaddress",
                longdesc="The IPMB address (e.g. 0x82) of the controller behind the BMC that "
                         "powers the node, such as a blade's in a chassis; every request is "
                         "bridged to it through IPMB channel 0, as ipmitool -t does. Empty: "
                         "the BMC itself.")
AUTH = option("auth", Select("md5", "password", "none"), "IPMI Lan Auth type.", short="A",
              metavar="auth",
              longdesc="The IPMI 1.5 authentication type. Unused with RMCP+ (lanplus=1); with "
                       "lanplus=0 only md5 is accepted: password sends it in clear text, none "
                       "sends commands anyone could forge.")

def _cipher(params: Values) -> Optional[int]:
    text = params.get(CIPHER)
    if not text:
        return None
    # pyghmi only when a cipher is named or a BMC is contacted (start-up cost: see
    # docs/developing.md).
    from hakit.fence.ipmi import SUPPORTED_SUITES

    suite = int(text)
    if suite == 0:
        raise ParamError("cipher", "is 0: suite 0 sends commands without authentication, so "
                                   "anyone on the network could power the node; refused")
    if suite not in SUPPORTED_SUITES:
        raise ParamError("cipher", f"must be 17 or 3 (the suites this agent negotiates), "
                                   f"got {suite}")
    return suite


def _kg(params: Values) -> Optional[bytes]:
    digits = params.get(HEXADECIMAL_KG)
    return bytes.fromhex(digits) if digits else None


def _bridge(params: Values) -> Optional[int]:
    address = params.get(TARGET)
    # ipmitool does not bridge a request addressed to the BMC's own address either.
    return None if address is None or address == BMC_ADDRESS else address


def validate(params: Values) -> None:
    """Cross-option checks before any device is contacted."""
    device_address(params)
    _cipher(params)
    if not params[LANPLUS] and params.get(AUTH) in ("password", "none"):
        raise ParamError("auth", f"is {params[AUTH]}: refused, as it would send the password "
                                 "in clear text or commands without authentication; use "
                                 "auth=md5 or lanplus=1")


@contextlib.contextmanager
def connect(ctx: FenceContext) -> Iterator[PowerDevice]:
    """A logged-in IPMI session for this action."""
    from hakit.fence.ipmi import IpmiTarget, open_bmc

    params = ctx.params
    target = IpmiTarget(
        host=device_address(params), port=params[IPPORT], username=params.get(USERNAME) or "",
        password=resolve_password(ctx, ctx.environ), kg=_kg(params),
        privilege=params[PRIVLVL], allow_ipmi15=not params[LANPLUS], cipher=_cipher(params),
        login_timeout=params[LOGIN_TIMEOUT], request_timeout=params[REQUEST_TIMEOUT],
        bridge=_bridge(params),
    )
    if params.get(AUTH) and params[LANPLUS]:
        ctx.log.debug("auth=%s is not used: RMCP+ authenticates with RAKP", params[AUTH])
    with open_bmc(target, ctx.deadline, ctx.log) as bmc:
        yield bmc


AGENT = FenceAgent(
    name="fence_hakit",
    version=__version__,
    shortdesc="Fence agent for IPMI (hakit)",
    longdesc=("fence_hakit powers a node off, on or through a reboot by its BMC over IPMI "
              "2.0 (RMCP+), spoken in process so the password never appears on a command "
              "line. Every change is verified by polling the BMC within power_timeout "
              "seconds; a BMC that does not report the new state is a failure. It accepts "
              "fence_ipmilan's option names and aliases."),
    vendor_url="https://www.intel.com/content/www/us/en/products/docs/servers/ipmi/"
               "ipmi-home.html",
    options=(IP, IPPORT, USERNAME, PASSWORD, PASSWORD_SCRIPT, PASSWORD_ENV, LANPLUS, CIPHER,
             PRIVLVL, HEXADECIMAL_KG, TARGET, PORT_AS_IP, AUTH),
    connect=connect,
    validate=validate,
    device_actions=(*POWER_ACTIONS, "diag"),
)
