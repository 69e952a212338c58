"""When a Redfish request may be repeated, and after how long: pure rules, no I/O.

A BMC under load answers 429 (Too Many Requests) or 503 (Service Unavailable), often with
``Retry-After`` (RFC 9110 section 10.2.3: seconds, or an HTTP date); neither status means
the request was carried out, so it may be sent again.  500, 502 and 504 say nothing about
whether it was, so only a request that is harmless to repeat is (a power cycle twice is
not; ``ForceOff`` twice is).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Optional

#: Redirects; followed only to the same origin (see ``RedfishClient._redirect``).
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
#: Not carried out: "come back later".
BUSY = frozenset({429, 503})
#: Failed in the server or a gateway: perhaps carried out.
SERVER_ERRORS = frozenset({500, 502, 504})
#: Back-off when the BMC does not say how long to wait.
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 4.0
#: A retry is worth sending only with at least this long left for its answer.
MIN_ANSWER = 0.5
#: ResetType values whose repetition does no harm: the target state is the same.
IDEMPOTENT_RESETS = frozenset({"On", "ForceOn", "ForceOff", "GracefulShutdown"})


def retryable(status: int, repeatable: bool) -> bool:
    """Whether a request answered with ``status`` may be sent again."""
    return status in BUSY or (repeatable and status in SERVER_ERRORS)


def retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header value; None when absent or unreadable.

    ``now`` is the Unix time, for the HTTP-date form.  A date in the past is 0.
    """
    if value is None:
        return None
    text = value.strip()
    # RFC 9110's delay-seconds is ASCII digits; str.isdigit() also takes '¹' or '٣',
    # which int() refuses.
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110 dates are GMT; others are not dates
        return None
    try:
        return max(0.0, when.timestamp() - now)
    except (OverflowError, OSError, ValueError):
        return None
