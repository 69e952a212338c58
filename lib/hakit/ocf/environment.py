"""What Pacemaker (or ocf-tester, or an admin) tells an agent through its environment."""

from __future__ import annotations

from hakit import shown
from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Optional

RESKEY = "OCF_RESKEY_"
META = "CRM_meta_"
DEFAULT_EXIT_REASON_PREFIX = "ocf-exit-reason:"

#: The default of OcfEnvironment.logging: no HA_* variables (shared, read-only by its type).
_NO_VARIABLES: Mapping[str, str] = {}


def _int(text: Optional[str], default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _interval(text: str) -> tuple[float, str]:
    """CRM_meta_interval (milliseconds) in seconds, and what is wrong with it ('' if
    nothing).  Pacemaker passes a non-negative integer; anything else must not be guessed
    at: a junk value read as 0 would make a recurring monitor a probe, whose "not running"
    hides a failure, and a negative one made it a recurring monitor."""
    digits = text.strip()
    if not digits:
        return 0.0, ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 12:
        return int(digits) / 1000.0, ""
    return 0.0, (f"CRM_meta_interval must be a non-negative whole number of milliseconds, "
                 f"got {shown.value(text)}")


@frozen
class OcfEnvironment:
    """The OCF variables of one agent invocation, read once in ``main``."""

    action: str
    resource_type: str
    instance: str  # OCF_RESOURCE_INSTANCE, or the type when run by hand
    raw_params: Mapping[str, str]  # OCF_RESKEY_<name> without CRM_meta_*
    meta: Mapping[str, str]  # CRM_meta_<name> values, without the prefix
    timeout: Optional[float]  # seconds, from CRM_meta_timeout (milliseconds)
    interval: float  # seconds, from CRM_meta_interval; 0 for probes and one-shot actions
    check_level: int  # OCF_CHECK_LEVEL
    exit_reason_prefix: str
    fail_have_binary: bool  # ocf-tester's OCF_TESTER_FAIL_HAVE_BINARY
    ra_version_major: Optional[str]
    logging: Mapping[str, str] = _NO_VARIABLES  # HA_* logging variables
    interval_problem: str = ""  # why CRM_meta_interval is unusable; '' when it is fine

    @property
    def is_probe(self) -> bool:
        """A one-shot monitor: Pacemaker's probe of what runs where (interval 0)."""
        return self.action == "monitor" and self.interval == 0 and not self.interval_problem

    @classmethod
    def read(cls, action: str, resource_type: str,
             environ: Mapping[str, str]) -> OcfEnvironment:
        raw: dict[str, str] = {}
        meta: dict[str, str] = {}
        for key, value in environ.items():
            if not key.startswith(RESKEY):
                continue
            name = key[len(RESKEY):]
            if name.startswith(META):
                meta[name[len(META):]] = value
            else:
                raw[name] = value
        timeout_ms = _int(meta.get("timeout"), 0)
        interval, interval_problem = _interval(meta.get("interval", ""))
        # Pacemaker hands a monitor's depth as OCF_CHECK_LEVEL; accept the forms other
        # tools use too.
        level_text = (environ.get("OCF_CHECK_LEVEL") or raw.pop("OCF_CHECK_LEVEL", "")
                      or meta.get("OCF_CHECK_LEVEL") or meta.get("depth") or "0")
        return cls(
            action=action,
            resource_type=environ.get("OCF_RESOURCE_TYPE") or resource_type,
            instance=environ.get("OCF_RESOURCE_INSTANCE") or resource_type,
            raw_params=raw,
            meta=meta,
            timeout=timeout_ms / 1000.0 if timeout_ms > 0 else None,
            interval=interval,
            check_level=max(0, _int(level_text, 0)),
            exit_reason_prefix=environ.get("OCF_EXIT_REASON_PREFIX")
            or DEFAULT_EXIT_REASON_PREFIX,
            fail_have_binary=environ.get("OCF_TESTER_FAIL_HAVE_BINARY") == "1",
            ra_version_major=environ.get("OCF_RA_VERSION_MAJOR"),
            logging={k: v for k, v in environ.items() if k.startswith("HA_")},
            interval_problem=interval_problem,
        )
