"""Fence-agent options: a typed ``Param`` plus how fence-agents spells it.

An option has one canonical name (what the metadata and ``Values`` use) and older
``aliases`` that fence-agents still accepts; the metadata lists each alias as
``deprecated="1"`` and the canonical name as ``obsoletes="alias"`` (fence-agents'
``lib/metadata.rng``), so existing stonith configurations carry over unchanged.
"""

from __future__ import annotations

from hakit.lean import frozen
from hakit.ocf.params import Boolean, Duration, Integer, Param, ParamType, Select, String

# Param is a hakit.lean record, so Option is one too (a dataclass would not see Param's
# fields); typing only for type checkers (start-up cost: see docs/developing.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, TypeVar
else:
    from hakit.lean import TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@frozen
class Option(Param[T_co]):
    """One fence-agent option."""

    short: str = ""  # command-line letter, e.g. "a" for -a
    long: str = ""  # command-line long name, e.g. "ip" for --ip
    metavar: str = ""  # shown as --ip=[metavar]; empty for a switch
    aliases: tuple[str, ...] = ()  # older stdin names, e.g. ("ipaddr",)
    advertised: bool = True  # False: accepted and ignored, not in metadata

    @property
    def is_switch(self) -> bool:
        """A command-line flag without a value (``-P`` means lanplus=1)."""
        return not self.metavar

    def getopt(self) -> str:
        """The ``<getopt mixed=...>`` text fence-agents shows, e.g. ``-a, --ip=[ip]``."""
        parts = []
        if self.short:
            parts.append(f"-{self.short}")
        if self.long:
            parts.append(f"--{self.long}" + (f"=[{self.metavar}]" if self.metavar else ""))
        return ", ".join(parts)

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def option(name: str, kind: ParamType[T], shortdesc: str, *, longdesc: str = "",
           default: Optional[str] = None, short: str = "", long: str = "", metavar: str = "",
           aliases: tuple[str, ...] = (), secret: bool = False,
           advertised: bool = True) -> Option[T]:
    """An ``Option``, with the long description defaulting to the short one."""
    return Option(name, kind, shortdesc, longdesc or shortdesc,
                  default=default, secret=secret, short=short,
                  long=long or name.replace("_", "-"), metavar=metavar, aliases=aliases,
                  advertised=advertised)


#: The fence-agent API's own options, shared by every hakit fence agent.
ACTION = option("action", String(r"[A-Za-z-]+", "an action name"), "Fencing action",
                default="reboot", short="o", metavar="action", aliases=("option",))
PLUG = option("plug", String(), "Physical plug number on device, or name of virtual machine",
              short="n", metavar="id", aliases=("port",),
              longdesc="Ignored by single-port devices such as an IPMI BMC; accepted because "
                       "Pacemaker passes the target node here.")
NODENAME = option("nodename", String(), "Name of the node to be fenced", metavar="name",
                  longdesc="Sent by the fencer; used in messages only.")
VERBOSE = option("verbose", Boolean(), "Verbose mode: debug messages on standard error",
                 short="v")
DEBUG_FILE = option("debug_file", String(r"/.*", "an absolute path"),
                    "Write debug information to given file", short="D", metavar="debugfile",
                    long="debug-file", aliases=("debug",))
QUIET = option("quiet", Boolean(), "Disable logging to stderr (errors are still shown)",
               short="q")
DELAY = option("delay", Duration(0, 3600), "Wait X seconds before fencing is started",
               default="0", metavar="seconds")
POWER_TIMEOUT = option("power_timeout", Duration(0.1, 3600),
                       "Test X seconds for status change after ON/OFF", default="20",
                       metavar="seconds",
                       longdesc="Real seconds allowed for the device to report the new power "
                                "state after a request; not reaching it in time is a failure.")
POWER_WAIT = option("power_wait", Duration(0, 600),
                    "Wait X seconds after a verified ON/OFF", default="0", metavar="seconds",
                    longdesc="Extra settling time after the device has reported the new state. "
                             "hakit verifies by polling, so the default is 0.")
LOGIN_TIMEOUT = option("login_timeout", Duration(0.1, 600),
                       "Wait X seconds for the device to accept a login", default="5",
                       metavar="seconds")
REQUEST_TIMEOUT = option("request_timeout", Duration(0.1, 600),
                         "Wait X seconds for the device to answer one request", default="2",
                         metavar="seconds", aliases=("ipmitool_timeout", "shell_timeout"))
RETRY_ON = option("retry_on", Integer(1, 10), "Count of attempts to retry power on",
                  default="1", metavar="attempts")
METHOD = option("method", Select("onoff", "cycle"), "Method to fence", default="onoff",
                short="m", metavar="method",
                longdesc="onoff: power off, verify off, power on, verify on. cycle: one "
                         "power-cycle request, verified by seeing the node off then on.")
STATUS_SLEEP = option("stonith_status_sleep", Duration(0.05, 60),
                      "Sleep at most X seconds between status calls while waiting",
                      default="0.5", metavar="seconds")

#: Where the device is and who logs in: shared by every network protocol.
IP = option("ip", String(r"[A-Za-z0-9_.:%\[\]-]{1,253}", "a host name or IP address"),
            "IP address or hostname of fencing device", short="a", metavar="ip",
            aliases=("ipaddr",))
USERNAME = option("username", String(max_length=64), "Login name", short="l", metavar="name",
                  aliases=("login",))
PASSWORD = option("password", String(max_length=256), "Login password or passphrase",
                  short="p", metavar="password", aliases=("passwd",), secret=True,
                  longdesc="Prefer password_script or password_env: a password given on a "
                           "command line is visible to every local user.")
PASSWORD_SCRIPT = option("password_script", String(max_length=1024),
                         "Script to run to retrieve password", short="S", metavar="script",
                         aliases=("passwd_script",),
                         longdesc="A program and its arguments, split like a shell would but "
                                  "run without one; the first line it prints is the password.")
PASSWORD_ENV = option("password_env", String(r"[A-Za-z_][A-Za-z0-9_]*", "a variable name"),
                      "Environment variable holding the password", metavar="variable",
                      longdesc="Read the password from this environment variable of the "
                               "agent's process.")

#: Accepted for compatibility with fence_ipmilan and ignored (not in the metadata): none
#: of them changes which machine is fenced or what is done to it.  Options that do
#: (``target``, ``port_as_ip``, ``auth``) are declared by the agents that honour them.
IGNORED = tuple(
    option(name, String(), "ignored", advertised=False)
    for name in ("agent", "name", "ipmitool_path", "sudo", "use_sudo", "sudo_path",
                 "disable_timeout", "plug_separator", "verbose_level", "separator", "ssl",
                 "notls")
)

#: What every fence agent accepts, in metadata order (protocol options come first).
COMMON: tuple[Option[object], ...] = (
    ACTION, PLUG, NODENAME, VERBOSE, QUIET, DEBUG_FILE, DELAY, LOGIN_TIMEOUT, POWER_TIMEOUT,
    POWER_WAIT, REQUEST_TIMEOUT, RETRY_ON, METHOD, STATUS_SLEEP,
)

__all__ = ["COMMON", "IGNORED", "Boolean", "Integer", "Option", "Select", "String", "option"]
