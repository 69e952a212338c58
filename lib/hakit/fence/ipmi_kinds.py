"""The IPMI-specific option kinds of fence_hakit: the Kg key and the IPMB bridge address.

They parse like ipmitool's -y and -t, so that a pcs stonith device written for
fence_ipmilan means the same thing here, and refuse what ipmitool would read differently
from a human (a leading-zero address).
"""

from __future__ import annotations

import re

from hakit.ocf.params import ParamType

_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]*")
_IPMB_HEX = re.compile(r"0[xX][0-9A-Fa-f]{1,2}")
_IPMB_DECIMAL = re.compile(r"[1-9][0-9]{0,2}|0")


class HexKey(ParamType[str]):
    """The BMC key Kg in hex: 1 to 20 bytes (ipmitool -y), so 2 to 40 digits, in pairs.

    A secret: the problem texts give lengths and rules, never the value.
    """

    def parse(self, raw: str) -> str:
        digits = raw[2:] if raw[:2] in ("0x", "0X") else raw
        if not _HEX_DIGITS.fullmatch(digits):
            raise ValueError("must contain only hexadecimal digits 0-9 and a-f (after an "
                             "optional 0x)")
        if not 2 <= len(digits) <= 40 or len(digits) % 2:
            raise ValueError(f"must be 2 to 40 hexadecimal digits, an even number (a Kg "
                             f"key of 1 to 20 bytes); it has {len(digits)}")
        return digits

    def hint(self) -> str:
        return "Must be 2 to 40 hexadecimal digits (1 to 20 bytes)."


class IpmbAddress(ParamType[int]):
    """An IPMB slave address as ipmitool -t takes it: 0x82 or 130.

    A leading-zero number such as 0202 is refused: ipmitool reads it as octal, a reader as
    decimal, and the two name different controllers.
    """

    def parse(self, raw: str) -> int:
        text = raw.strip()
        if _IPMB_HEX.fullmatch(text):
            value = int(text, 16)
        elif _IPMB_DECIMAL.fullmatch(text):
            value = int(text)
        elif text[:1] == "0" and text.isdigit():
            raise ValueError(f"{text!r} is ambiguous (ipmitool reads a leading 0 as octal); "
                             "write the address in hex, e.g. 0x82")
        else:
            raise ValueError(f"must be an IPMB address in hex (0x82) or decimal, got {raw!r}")
        if value > 0xFF or value % 2:
            raise ValueError(f"must be an even address from 0x00 to 0xfe (IPMB slave addresses "
                             f"are even), got 0x{value:x}")
        return value

    def hint(self) -> str:
        return "An even IPMB address in hex (0x82) or decimal."
