"""stonith:fence_hakit_redfish: power fencing through a BMC over Redfish (HTTPS), verified.

A drop-in for fence_redfish (same option names) on the same driver as fence_hakit: one
overall deadline, every change verified by polling ``PowerState``.  Unlike fence_redfish,
every HTTP status is checked and named, the system is chosen by ``plug`` when the BMC has
several (never silently the last one), every request has a timeout, and the certificate is
verified by default, against the system CAs, a CA file, or a pinned fingerprint.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Union

from hakit import __version__
from hakit.errors import ConfigError, ParamError
from hakit.fence.agent import POWER_ACTIONS, FenceAgent
from hakit.fence.context import FenceContext
from hakit.fence.credentials import resolve_password
from hakit.fence.device import PowerDevice
from hakit.fence.options import (
    IP,
    PASSWORD,
    PASSWORD_ENV,
    PASSWORD_SCRIPT,
    PLUG,
    REQUEST_TIMEOUT,
    USERNAME,
    Boolean,
    Integer,
    String,
    option,
)
from hakit.fence.port_as_ip import PORT_AS_IP, device_address
from hakit.ocf.params import AbsolutePath, Duration, Values

IPPORT = option("ipport", Integer(1, 65535), "TCP port to use for connection with device",
                default="443", short="u", metavar="port")
REDFISH_URI = option("redfish_uri", String(r"/[A-Za-z0-9_./-]*", "a Redfish path"),
                     "Base or starting Redfish URI", default="/redfish/v1", metavar="uri")
SYSTEMS_URI = option("systems_uri", String(r"/[A-Za-z0-9_./-]*", "a Redfish path"),
                     "Redfish Systems resource URI, e.g. /redfish/v1/Systems/System.Embedded.1",
                     metavar="uri", longdesc="Default: discovered from the service root "
                     "/redfish/v1. A collection is searched for the system named by plug.")
SSL_INSECURE = option("ssl_insecure", Boolean(), "Use SSL connection without verifying "
                      "certificate", default="0",
                      longdesc="Off by default: the BMC's certificate must be trusted by the "
                               "system CAs, by ssl_ca_file, or match ssl_fingerprint.")
SSL_CA_FILE = option("ssl_ca_file", AbsolutePath(), "CA bundle that signs the BMC's "
                     "certificate", metavar="path", long="ssl-ca-file")
SSL_FINGERPRINT = option(
    "ssl_fingerprint", String(r"(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}", "a SHA-256 hex digest"),
    "SHA-256 fingerprint of the BMC's certificate to pin", metavar="sha256",
    long="ssl-fingerprint", longdesc="Trusts exactly this certificate (hex, colons "
    "optional), e.g. from `openssl x509 -noout -fingerprint -sha256`; suits BMCs with "
    "self-signed certificates.")
GRACEFUL_OFF = option("graceful_off", Boolean(), "Ask the OS to shut down before forcing "
                      "power off", default="0", longdesc="On: off sends GracefulShutdown and "
                      "forces off only after graceful_timeout. Off (the default) forces off at "
                      "once, as fencing should.")
GRACEFUL_TIMEOUT = option("graceful_timeout", Duration(1, 600), "Seconds to wait for a "
                          "graceful shutdown", default="30", metavar="seconds")

_HEX = re.compile(r"[^0-9A-Fa-f]")


def _verify(params: Values) -> Union[bool, str]:
    if params[SSL_INSECURE]:
        return False
    ca_file = params.get(SSL_CA_FILE)
    return ca_file if ca_file else True


def _host_and_port(params: Values) -> tuple[str, int]:
    """The BMC's host and TCP port.

    ``HOST:PORT`` in ``ip`` (one colon, so not an IPv6 address) is fence_redfish's older
    spelling and overrides ``ipport``, as there; ``plug`` is the host under ``port_as_ip``.
    """
    address = device_address(params)
    host, sep, port = address.partition(":")
    if not sep or ":" in port:
        return address, params[IPPORT]
    from_plug = bool(params[PORT_AS_IP]) and bool(params.get(PLUG))
    name = "plug" if from_plug else "ip"
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ParamError(name, f"looks like HOST:PORT but the port is not 1-65535: "
                               f"{address!r}")
    return host, int(port)


def validate(params: Values) -> None:
    """Cross-option checks before any device is contacted."""
    _host_and_port(params)
    trust_given = params.get(SSL_FINGERPRINT) is not None or params.get(SSL_CA_FILE) is not None
    if params[SSL_INSECURE] and trust_given:
        raise ConfigError("ssl_insecure contradicts ssl_fingerprint/ssl_ca_file: choose one")


@contextlib.contextmanager
def connect(ctx: FenceContext) -> Iterator[PowerDevice]:
    """A logged-in Redfish session bound to the system this device fences."""
    params = ctx.params
    pin = params.get(SSL_FINGERPRINT)
    if params[SSL_INSECURE]:
        ctx.log.warning("ssl_insecure: the BMC's certificate is not verified")
    # requests (with urllib3, ssl, http, email...) only when a BMC is contacted: metadata
    # and option parsing stay cheap (start-up cost: see docs/developing.md).
    from hakit.fence.redfish import Endpoint, RedfishPower
    from hakit.fence.redfish import connect as redfish_connect

    host, port = _host_and_port(params)
    endpoint = Endpoint(
        host=host, port=port, username=params.get(USERNAME) or "",
        password=resolve_password(ctx, ctx.environ), verify=_verify(params),
        fingerprint=_HEX.sub("", pin) if pin else None,
        request_timeout=params[REQUEST_TIMEOUT], service_root=params[REDFISH_URI],
    )
    with redfish_connect(endpoint, ctx.deadline, ctx.log) as client:
        # Under port_as_ip the plug is the BMC's address, not the name of a system.
        plug = None if params[PORT_AS_IP] else params.get(PLUG)
        system = client.choose_system(plug, params.get(SYSTEMS_URI))
        ctx.log.debug("fencing system %s (%s)", system.id, system.name)
        graceful = params[GRACEFUL_TIMEOUT] if params[GRACEFUL_OFF] else None
        yield RedfishPower(client, system, ctx.log, graceful)


AGENT = FenceAgent(
    name="fence_hakit_redfish",
    version=__version__,
    shortdesc="Fence agent for Redfish (hakit)",
    longdesc=("fence_hakit_redfish powers a node off, on or through a reboot by its BMC over "
              "Redfish (HTTPS). The certificate is verified by default; every HTTP answer is "
              "checked; the system is chosen by plug (Id, UUID or name) when the BMC manages "
              "several; every change is verified by polling PowerState within power_timeout "
              "seconds. It accepts fence_redfish's option names."),
    vendor_url="https://www.dmtf.org/standards/redfish",
    options=(IP, IPPORT, USERNAME, PASSWORD, PASSWORD_SCRIPT, PASSWORD_ENV, REDFISH_URI,
             SYSTEMS_URI, SSL_INSECURE, SSL_CA_FILE, SSL_FINGERPRINT, GRACEFUL_OFF,
             GRACEFUL_TIMEOUT, PORT_AS_IP),
    connect=connect,
    validate=validate,
    device_actions=(*POWER_ACTIONS, "diag"),
)
