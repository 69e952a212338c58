"""The Redfish boundary: the only module that speaks HTTP (python3-requests) to a BMC.

Every request has a timeout taken from the action's deadline, every HTTP status is checked
and turned into a specific ``hakit.fence.errors`` error, certificates are verified by default
(system CAs, a CA file, or a pinned SHA-256 fingerprint), and a SessionService session is
always logged out.  ``RedfishPower`` adapts a logged-in client to the fence driver's
``PowerDevice``.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3

from hakit.deadline import Deadline
from hakit.errors import ActionTimeout, ConfigError
from hakit.fence import redfish_retries as retries
from hakit.fence.device import PowerState
from hakit.fence.errors import (
    AuthFailed,
    DeviceUnreachable,
    FenceError,
    InsecureTransport,
    StateUnknown,
)

#: States a BMC reports while a change is under way: never taken as done.
TRANSITIONAL = frozenset({"PoweringOn", "PoweringOff"})


class RedfishError(FenceError):
    """The BMC answered, but not as needed."""


class RedfishAuthError(AuthFailed):
    """HTTP 401/403: wrong user name or password, or the account may not do this."""


class RedfishUnreachable(DeviceUnreachable):
    """No HTTP answer: connection refused or timed out."""


class RedfishTLSError(InsecureTransport):
    """The BMC's certificate is not trusted (CA or fingerprint pin), or TLS failed."""


class RedfishNotFound(RedfishError):
    """HTTP 404 for a resource hakit needs."""


class RedfishBusy(RedfishError):
    """HTTP 429/503: the BMC asks to come back later."""


@dataclass(frozen=True)
class Endpoint:
    """How to reach and trust one BMC."""

    host: str
    port: int
    username: str
    password: str  # secret: never logged
    verify: Union[bool, str] = True  # True: system CAs; a path: that CA bundle; False: none
    fingerprint: Optional[str] = None  # SHA-256 of the BMC's certificate, hex (colons allowed)
    scheme: str = "https"
    request_timeout: float = 10.0  # per request, capped by the deadline
    service_root: str = "/redfish/v1"  # fence_redfish's redfish_uri

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class System:
    """One ComputerSystem a BMC manages."""

    uri: str
    id: str
    uuid: str
    name: str

    def matches(self, plug: str) -> bool:
        return plug in (self.id, self.uuid, self.name) or plug.lower() == self.uuid.lower()


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Trusts exactly the certificate with this SHA-256 fingerprint (urllib3 checks it)."""

    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint.replace(":", "").lower()
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(*args, **kwargs)


class RedfishClient:
    """A logged-in conversation with one BMC, bounded by one deadline."""

    def __init__(self, endpoint: Endpoint, deadline: Deadline, log: logging.Logger) -> None:
        self._ep = endpoint
        self._deadline = deadline
        self._log = log
        self._http = requests.Session()
        # Trust and routing come from the parameters only: with trust_env, requests lets
        # REQUESTS_CA_BUNDLE override the CA file and sends BMC traffic through env proxies.
        self._http.trust_env = False
        self._http.headers.update({"Accept": "application/json",
                                   "OData-Version": "4.0"})
        self._session_uri: Optional[str] = None
        if endpoint.fingerprint:
            # The pin replaces CA trust: a self-signed BMC certificate is accepted only if it
            # is exactly the pinned one.
            self._http.verify = False
            self._http.mount(endpoint.base + "/", _PinnedAdapter(endpoint.fingerprint))
        else:
            self._http.verify = endpoint.verify

    # -- HTTP with every status checked ------------------------------------------------
    def _request(self, method: str, path: str, body: Optional[Mapping[str, Any]] = None,
                 expect: tuple[int, ...] = (200,), deadline: Optional[Deadline] = None,
                 *, idempotent: Optional[bool] = None) -> requests.Response:
        """One request, its status checked; what a BMC asks for on the way is honoured
        within ``deadline``: a same-origin redirect is followed, 429 and 503 are retried
        after their Retry-After, and 500, 502 and 504 after a short back-off when repeating
        the request is harmless (``idempotent``: by default GET and DELETE)."""
        within = deadline or self._deadline
        repeatable = method in ("GET", "DELETE") if idempotent is None else idempotent
        url = path if path.startswith("http") else self._ep.base + path
        backoff = retries.FIRST_BACKOFF
        hops = 0
        while True:
            response = self._send(method, url, path, body, within)
            code = response.status_code
            if code in expect:
                return response
            if code in retries.REDIRECTS and hops < retries.MAX_REDIRECTS:
                url = self._redirect(method, path, response)
                hops += 1
                continue
            if not retries.retryable(code, repeatable):
                raise _status_error(method, path, response)
            wait = retries.retry_after(response.headers.get("Retry-After"), time.time())
            if wait is None:
                wait, backoff = backoff, min(backoff * 2, retries.MAX_BACKOFF)
            # The next attempt needs the wait and a moment to be answered.
            if wait + retries.MIN_ANSWER > within.remaining():
                raise _busy_error(method, path, response, wait, within.remaining())
            self._log.info("%s %s: HTTP %d, retrying in %.1fs", method, path, code, wait)
            within.sleep(wait)

    def _redirect(self, method: str, path: str, response: requests.Response) -> str:
        """Where a redirect leads, if it may be followed: the same scheme, host and port
        (credentials and the power request must not go to another machine), and the same
        method (303, and 301/302 for anything but GET, would turn it into a GET)."""
        location = str(response.headers.get("Location", ""))
        code = response.status_code
        if not location:
            raise RedfishError(f"{method} {path}: HTTP {code} redirect without a Location")
        target = urljoin(str(response.url or self._ep.base + path), location)
        moved = urlsplit(target)
        if _origin(target) != _origin(self._ep.base):
            raise RedfishError(f"{method} {path}: HTTP {code} redirects to "
                               f"{_shorten(target)}, another address than {self._ep.base}; "
                               f"not followed (set ip, ipport and redfish_uri to where the "
                               f"BMC really is)")
        if method != "GET" and code not in (307, 308):
            raise RedfishError(f"{method} {path}: HTTP {code} redirects to {moved.path}, "
                               f"which would turn the {method} into a GET; not followed")
        self._log.debug("%s %s: HTTP %d to %s", method, path, code, moved.path)
        return target

    def _send(self, method: str, url: str, path: str, body: Optional[Mapping[str, Any]],
              within: Deadline) -> requests.Response:
        timeout = within.timeout(self._ep.request_timeout)
        if timeout <= 0:
            raise ActionTimeout(f"timed out before {method} {path}")
        try:
            with warnings.catch_warnings():
                # ssl_insecure is the admin's explicit choice; it is logged once, not per call.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                response = self._http.request(method, url, json=body, timeout=timeout,
                                              allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise RedfishTLSError(f"TLS with {self._ep.base} failed: "
                                  f"{_ssl_reason(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise RedfishUnreachable(f"BMC {self._ep.base} did not answer {method} {path} "
                                     f"within {timeout:.1f}s") from exc
        except requests.exceptions.ConnectionError as exc:
            raise RedfishUnreachable(f"BMC {self._ep.base} is unreachable") from exc
        except requests.exceptions.RequestException as exc:
            raise RedfishError(f"{method} {path} failed: {type(exc).__name__}") from exc
        self._log.debug("%s %s -> %d", method, path, response.status_code)
        return response

    def _json(self, path: str, deadline: Optional[Deadline] = None) -> dict[str, Any]:
        response = self._request("GET", path, deadline=deadline)
        try:
            data = response.json()
        except ValueError as exc:
            raise RedfishError(f"GET {path} did not return JSON") from exc
        if not isinstance(data, dict):
            raise RedfishError(f"GET {path} returned {type(data).__name__}, not an object")
        return data

    # -- sessions ------------------------------------------------------------------------
    def login(self) -> None:
        """A SessionService session where the BMC offers one, else HTTP Basic."""
        sessions = None
        try:
            root = self._json(self._ep.service_root.rstrip("/") + "/")
            sessions = _odata_id(root.get("Links", {}).get("Sessions"))
        except RedfishAuthError:
            pass  # some BMCs protect even the service root: Basic it is
        if sessions:
            credentials = {"UserName": self._ep.username, "Password": self._ep.password}
            try:
                response: Optional[requests.Response] = self._request(
                    "POST", sessions, credentials, expect=(200, 201, 204))
            except RedfishError:
                # No usable SessionService (auth, TLS and network errors are not
                # RedfishError and propagate): fall back to Basic.
                response = None
            if response is not None and response.headers.get("X-Auth-Token"):
                self._http.headers["X-Auth-Token"] = response.headers["X-Auth-Token"]
                self._session_uri = response.headers.get("Location")
                self._log.debug("logged in with a Redfish session")
                return
        self._http.auth = (self._ep.username, self._ep.password)
        self._log.debug("using HTTP Basic authentication")
        self._json(self._ep.service_root.rstrip("/") + "/Systems")  # proves the credentials

    def logout(self) -> None:
        """End the session (BMCs have few session slots); errors here are only logged."""
        if self._session_uri:
            try:
                self._request("DELETE", self._session_uri, expect=(200, 202, 204))
            except RedfishError as exc:
                self._log.warning("Redfish logout failed: %s", exc.reason)
            self._session_uri = None
        self._http.close()

    # -- systems and power ------------------------------------------------------------
    def systems(self, systems_uri: Optional[str] = None) -> list[System]:
        root = self._ep.service_root.rstrip("/")
        uri = systems_uri or _odata_id(self._json(root + "/").get("Systems")) \
            or root + "/Systems"
        try:
            collection = self._json(uri)
        except RedfishNotFound as exc:
            if not systems_uri:
                raise
            raise RedfishNotFound(f"systems_uri {systems_uri} does not exist on BMC "
                                  f"{self._ep.base} (HTTP 404); check systems_uri") from exc
        if "Members" not in collection and "PowerState" in collection:
            return [System(uri, str(collection.get("Id", "")), str(collection.get("UUID", "")),
                           str(collection.get("Name", "")))]
        found = []
        for member in collection.get("Members", []):
            member_uri = _odata_id(member)
            if not member_uri:
                continue
            try:
                data = self._json(member_uri)
            except RedfishNotFound as exc:
                # Never skipped: with one system left, it would be fenced as "the only one".
                raise RedfishNotFound(f"BMC {self._ep.base} lists system {member_uri} but "
                                      "answers HTTP 404 for it; not choosing among the "
                                      "others") from exc
            found.append(System(member_uri, str(data.get("Id", "")), str(data.get("UUID", "")),
                                str(data.get("Name", ""))))
        return found

    def choose_system(self, plug: Optional[str], systems_uri: Optional[str] = None) -> System:
        """The system named by ``plug`` (Id, UUID or name), or the only one there is."""
        systems = self.systems(systems_uri)
        if not systems:
            raise RedfishNotFound(f"BMC {self._ep.base} manages no systems")
        if len(systems) == 1:
            # Pacemaker passes the target node's name as plug; a BMC with one system needs
            # no choosing, whatever the system's Id is.
            return systems[0]
        if plug:
            chosen = [s for s in systems if s.matches(plug)]
            if len(chosen) == 1:
                return chosen[0]
            raise ConfigError(f"parameter 'plug' {plug!r} matches {len(chosen)} systems; "
                              f"available: {_describe(systems)}")
        raise ConfigError(f"BMC manages {len(systems)} systems, set 'plug' to one of: "
                          f"{_describe(systems)}")

    def power_state(self, system: System, deadline: Optional[Deadline] = None) -> str:
        state = self._json(system.uri, deadline).get("PowerState")
        if not isinstance(state, str):
            raise StateUnknown(f"{system.uri} reports no PowerState")
        return state

    def reset_types(self, system: System, deadline: Optional[Deadline] = None
                    ) -> Optional[list[str]]:
        """The ResetType values the BMC allows, or None when it does not say."""
        action = self._json(system.uri, deadline).get("Actions", {}).get(
            "#ComputerSystem.Reset", {})
        allowed = action.get("ResetType@Redfish.AllowableValues") \
            if isinstance(action, dict) else None
        return [str(a) for a in allowed] if isinstance(allowed, list) else None

    def reset(self, system: System, reset_type: str,
              deadline: Optional[Deadline] = None) -> None:
        """POST ``#ComputerSystem.Reset`` with ``reset_type``, following a task on 202."""
        data = self._json(system.uri, deadline)
        action = data.get("Actions", {}).get("#ComputerSystem.Reset", {})
        target = action.get("target") if isinstance(action, dict) else None
        if not target:
            raise RedfishError(f"{system.uri} offers no #ComputerSystem.Reset action")
        allowed = action.get("ResetType@Redfish.AllowableValues")
        if isinstance(allowed, list) and reset_type not in allowed:
            raise RedfishError(f"the BMC does not allow ResetType {reset_type} "
                               f"(allowed: {', '.join(map(str, allowed))})")
        try:
            response = self._request("POST", target, {"ResetType": reset_type},
                                     expect=(200, 202, 204), deadline=deadline,
                                     idempotent=reset_type in retries.IDEMPOTENT_RESETS)
        except RedfishError as exc:
            raise type(exc)(f"ResetType {reset_type} refused: {exc.reason}") from exc
        if response.status_code == 202 and response.headers.get("Location"):
            self._follow_task(response.headers["Location"], deadline or self._deadline)

    def _follow_task(self, monitor: str, deadline: Deadline) -> None:
        def done() -> Optional[bool]:
            response = self._request("GET", monitor, expect=(200, 202, 204),
                                     deadline=deadline)
            if response.status_code == 202:
                return None
            try:
                task = response.json() if response.content else {}
            except ValueError:
                return True
            state = task.get("TaskState", "Completed") if isinstance(task, dict) else ""
            if state in ("Exception", "Killed", "Cancelled"):
                raise RedfishError(f"the BMC's reset task ended {state}")
            return True if state in ("Completed", "") else None

        deadline.poll(done, "waiting for the BMC's reset task", interval=0.5)


def _odata_id(ref: Any) -> Optional[str]:
    if isinstance(ref, dict) and isinstance(ref.get("@odata.id"), str):
        return str(ref["@odata.id"])
    return None


def _describe(systems: list[System]) -> str:
    return ", ".join(f"{s.id} ({s.name}, {s.uuid})" for s in systems)


def _ssl_reason(exc: Exception) -> str:
    text = str(exc)
    if "fingerprint" in text.lower():
        got = _PRESENTED.search(text)
        now = f"; it now presents {got.group(1)}" if got else ""
        return (f"certificate does not match the pinned fingerprint (ssl_fingerprint){now}; "
                "if the BMC's certificate was renewed on purpose, pin the new one")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed (set a CA file, pin its fingerprint, or ssl_insecure)"
    return "TLS handshake failed"


#: urllib3's fingerprint mismatch text: 'Fingerprints did not match. Expected "...", got "..."'.
#: (urllib3 1.26 shows the digest as a bytes repr: got "b'ae1d...'").
_PRESENTED = re.compile(r"got\W*(?:b\W+)?([0-9a-fA-F][0-9a-fA-F:]{63,94})")


def _origin(url: str) -> tuple[str, str, Optional[int]]:
    """Scheme, host and port of ``url``, the port made explicit; ValueError-free."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return (parts.scheme, parts.netloc, None)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port or default)


def _shorten(text: str, limit: int = 120) -> str:
    """A URL from the BMC, cut to a length fit for a message."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _busy_error(method: str, path: str, response: requests.Response, wait: float,
                left: float) -> FenceError:
    code = response.status_code
    asked = "asked to retry after" if response.headers.get("Retry-After") else "would retry in"
    kind = RedfishBusy if code in (429, 503) else RedfishError
    return kind(f"{method} {path}: HTTP {code}; the BMC {asked} {wait:.1f}s but only "
                f"{left:.1f}s of this action are left (power_timeout, login_timeout and "
                f"request_timeout make up the time allowed)")


def _status_error(method: str, path: str, response: requests.Response) -> FenceError:
    code = response.status_code
    message = _extended_message(response)
    where = f"{method} {path}: HTTP {code}" + (f" ({message})" if message else "")
    if code in (401, 403):
        return RedfishAuthError(f"authentication failed: {where}")
    if code == 404:
        return RedfishNotFound(f"not found: {where}")
    if code in (429, 503):
        return RedfishBusy(f"BMC busy, try later: {where}")
    what = "too many redirects" if code in retries.REDIRECTS else \
        _STATUS_WORDS.get(code, "unexpected answer")
    return RedfishError(f"{what}: {where}")


_STATUS_WORDS = {405: "not allowed by the BMC", 501: "not implemented by the BMC"}


def _extended_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    infos = error.get("@Message.ExtendedInfo")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        return str(infos[0].get("Message", ""))[:200]
    return str(error.get("message", ""))[:200]


@contextmanager
def connect(endpoint: Endpoint, deadline: Deadline,
            log: logging.Logger) -> Iterator[RedfishClient]:
    """A logged-in client, always logged out afterwards."""
    client = RedfishClient(endpoint, deadline, log)
    try:
        client.login()
        yield client
    finally:
        client.logout()


class RedfishPower:
    """One system's power through a logged-in client: the fence driver's ``PowerDevice``.

    Transitional states count as the state being left (``PoweringOff`` is still on,
    ``PoweringOn`` still off), so the driver's verification never takes them as done.
    """

    def __init__(self, client: RedfishClient, system: System, log: logging.Logger,
                 graceful_timeout: Optional[float] = None) -> None:
        """``graceful_timeout``: try GracefulShutdown for that long before ForceOff."""
        self._client = client
        self._system = system
        self._log = log
        self._graceful = graceful_timeout

    def get_power(self, deadline: Deadline) -> PowerState:
        state = self._client.power_state(self._system, deadline)
        if state in ("On", "PoweringOff"):
            return PowerState.ON
        if state in ("Off", "PoweringOn"):
            return PowerState.OFF
        raise StateUnknown(f"{self._system.id} reports PowerState {state!r}")

    def request_power(self, state: PowerState, deadline: Deadline) -> None:
        if state is PowerState.ON:
            self._client.reset(self._system, "On", deadline)
            return
        if self._graceful:
            self._client.reset(self._system, "GracefulShutdown", deadline)

            def off() -> Optional[bool]:
                return True if self.get_power(deadline) is PowerState.OFF else None

            try:
                deadline.within(self._graceful).poll(off, "waiting for a graceful shutdown",
                                                     interval=0.5)
                return
            except ActionTimeout:
                self._log.info("no graceful shutdown within %.0fs: forcing off",
                               self._graceful)
        self._client.reset(self._system, "ForceOff", deadline)

    def request_diag(self, deadline: Deadline) -> None:
        self._client.reset(self._system, "Nmi", deadline)

    def request_cycle(self, deadline: Deadline) -> None:
        allowed = self._client.reset_types(self._system, deadline)
        kind = "PowerCycle" if allowed is None or "PowerCycle" in allowed else "ForceRestart"
        self._client.reset(self._system, kind, deadline)
