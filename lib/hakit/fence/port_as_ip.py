"""``port_as_ip``: the plug names the device's address (fence-agents' meaning).

With ``port_as_ip`` on, fence-agents (``fencing.py``, ``process_input``) replaces the ``ip``
option by ``plug`` when a plug is given: one stonith device then fences every node, each
through its own BMC, with Pacemaker passing the BMC's address as the plug (mapped from the
node name by ``pcmk_host_map``).  Ignoring the option would power off the machine behind
``ip`` whatever node was asked for, so here it is applied, or the run is refused.
"""

from __future__ import annotations

from hakit.errors import ParamError
from hakit.fence.options import IP, PLUG, Boolean, option
from hakit.ocf.params import Values

PORT_AS_IP = option("port_as_ip", Boolean(), "Make \"port/plug\" to be an alias to IP address",
                    default="0", long="port-as-ip",
                    longdesc="On: the device's address is taken from plug (which Pacemaker "
                             "sets to the target node, or to its entry in pcmk_host_map), "
                             "overriding ip, as fence-agents does.")


def device_address(params: Values) -> str:
    """The address of the device to contact: ``plug`` under ``port_as_ip``, else ``ip``.

    ParamError when neither gives one, or when the plug cannot be a host name or address
    (checked with the ``ip`` option's own syntax, so both spellings accept the same hosts).
    """
    if params[PORT_AS_IP]:
        plug = params.get(PLUG)
        if plug:
            try:
                return IP.kind.parse(plug)
            except ValueError as exc:
                raise ParamError("plug", f"is used as the device address (port_as_ip is "
                                         f"on) but {exc}") from None
        if not params.get(IP):
            raise ParamError("plug", "is required with port_as_ip (it is the device's "
                                     "address); or set ip")
    address = params.get(IP)
    if not address:
        raise ParamError("ip", "is required (also accepted as ipaddr)")
    return address
