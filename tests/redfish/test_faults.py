"""What real Redfish BMCs do on a bad day, each a clear error or a bounded, honoured retry.

429 with Retry-After, 500/503, redirects, a system that answers 404, a renewed certificate:
against a scripted HTTPS server (tests/harness/redfish_faults.py) where sushy-emulator
cannot produce the fault, and against the emulator where it can.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.fence.redfish_retries import retry_after, retryable
from tests.fence.conftest import FenceResult, run_fence
from tests.harness.ocf import AGENTS
from tests.harness.redfish_faults import NORMAL, ROOT, Answer, FaultyBmc
from tests.harness.redfish_sim import RedfishSimulator

AGENT = AGENTS / "fence_hakit_redfish"
SYSTEM = f"{ROOT}/Systems/1"
RESET = f"{SYSTEM}/Actions/ComputerSystem.Reset"


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultyBmc]:
    with FaultyBmc(tmp_path / "bmc") as bmc:
        yield bmc


def _fence(bmc: FaultyBmc, **extra: str) -> FenceResult:
    result = run_fence(AGENT, bmc.fence_params(**extra), limit=60)
    assert "Traceback" not in result.out
    return result


# -- 429 and Retry-After -----------------------------------------------------------------

def test_429_retry_after_that_fits_is_honoured(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, Answer(429, {"Retry-After": "1"}))
    result = _fence(faulty, action="off")
    assert result.rc == 0, result.out
    assert faulty.power["1"] == "Off"
    assert result.seconds >= 1.0  # it waited as asked, not at once
    assert "HTTP 429, retrying in 1.0s" in result.stderr


def test_429_retry_after_as_an_http_date_is_honoured(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, Answer(429, {"Retry-After": formatdate(time.time() + 2,
                                                                        usegmt=True)}))
    result = _fence(faulty, action="status")
    assert result.rc == 0, result.out
    assert faulty.count("GET", SYSTEM) >= 2


def test_429_retry_after_beyond_the_deadline_is_a_clear_error(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, Answer(429, {"Retry-After": "3600"}))
    result = _fence(faulty, action="off")
    assert result.rc == 1
    assert "HTTP 429" in result.stderr and "asked to retry after 3600.0s" in result.stderr
    assert "left" in result.stderr
    assert result.seconds < 10  # it did not sleep towards the hour
    assert faulty.power["1"] == "On"


# -- 500 and 503 -------------------------------------------------------------------------

def test_503_and_500_on_reads_are_retried_within_the_deadline(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, Answer(503), Answer(500), Answer(502))
    result = _fence(faulty, action="off")
    assert result.rc == 0, result.out
    assert faulty.power["1"] == "Off"


def test_500_on_force_off_is_retried_as_it_is_harmless(faulty: FaultyBmc) -> None:
    faulty.answer("POST", RESET, Answer(500))
    result = _fence(faulty, action="off")
    assert result.rc == 0, result.out
    assert faulty.count("POST", RESET) == 2 and faulty.resets == [("1", "ForceOff")]


def test_500_on_a_power_cycle_is_not_repeated(faulty: FaultyBmc) -> None:
    # A 500 does not say whether the cycle happened: a second one could cycle twice.
    faulty.answer("POST", RESET, Answer(500, body={"error": {"message": "internal"}}))
    result = _fence(faulty, action="reboot", method="cycle", power_timeout="2")
    assert result.rc == 1
    assert "HTTP 500" in result.stderr
    assert faulty.count("POST", RESET) == 1


def test_a_bmc_that_keeps_failing_is_an_error_within_the_deadline(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, *[Answer(503)] * 200)
    started = time.monotonic()
    result = _fence(faulty, action="status", login_timeout="2", request_timeout="1")
    assert result.rc == 1
    assert "HTTP 503" in result.stderr
    # status: login_timeout + 2 request_timeouts.
    assert time.monotonic() - started < 4 + 2


# -- redirects ---------------------------------------------------------------------------

def test_a_redirect_on_the_same_bmc_is_followed(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, Answer(301, {"Location": SYSTEM + "/"}))
    faulty.answer("POST", RESET, Answer(307, {"Location": RESET + "/"}))
    result = _fence(faulty, action="off")
    assert result.rc == 0, result.out
    assert ("POST", RESET + "/") in faulty.seen and faulty.power["1"] == "Off"


def test_a_redirect_to_another_address_is_refused(faulty: FaultyBmc) -> None:
    elsewhere = f"https://198.18.0.99:{faulty.port}{SYSTEM}"
    faulty.answer("GET", SYSTEM, Answer(302, {"Location": elsewhere}))
    result = _fence(faulty, action="off")
    assert result.rc == 1
    assert "redirects to https://198.18.0.99" in result.stderr
    assert "not followed" in result.stderr
    assert faulty.power["1"] == "On"


def test_a_post_redirect_that_would_become_a_get_is_refused(faulty: FaultyBmc) -> None:
    faulty.answer("POST", RESET, Answer(302, {"Location": RESET + "/"}))
    result = _fence(faulty, action="off", power_timeout="1")
    assert result.rc == 1
    assert "would turn the POST into a GET" in result.stderr


def test_endless_redirects_end(faulty: FaultyBmc) -> None:
    faulty.answer("GET", SYSTEM, *[Answer(301, {"Location": SYSTEM})] * 10)
    result = _fence(faulty, action="status")
    assert result.rc == 1 and "too many redirects" in result.stderr


# -- 404 ---------------------------------------------------------------------------------

def test_a_listed_system_answering_404_is_not_skipped(tmp_path: Path) -> None:
    # With node 1 gone, the only system left is node 2: fencing it as "the only one"
    # would hit the wrong machine.
    with FaultyBmc(tmp_path / "bmc", systems=("1", "2")) as bmc:
        bmc.gone.add("1")
        result = _fence(bmc, action="off", plug="node1")
        assert result.rc == 1
        assert f"lists system {SYSTEM} but answers HTTP 404" in result.stderr
        assert bmc.resets == []


def test_a_system_that_disappears_is_a_clear_error(faulty: FaultyBmc) -> None:
    # Found while choosing the system, then gone when its power is read.
    faulty.answer("GET", SYSTEM, Answer(NORMAL), Answer(404), Answer(404))
    result = _fence(faulty, action="status")
    assert result.rc == 1 and "HTTP 404" in result.stderr


def test_systems_uri_that_does_not_exist_on_the_emulator(bmc: RedfishSimulator) -> None:
    params = {"ip": "127.0.0.1", "ipport": str(bmc.port), "username": bmc.username,
              "password": bmc.password, "ssl_ca_file": str(bmc.cert),
              "systems_uri": f"{ROOT}/Systems/no-such-system", "action": "status"}
    result = run_fence(AGENT, params)
    assert result.rc == 1
    assert f"systems_uri {ROOT}/Systems/no-such-system does not exist" in result.stderr
    assert "Traceback" not in result.out


# -- a certificate that changes ----------------------------------------------------------

def test_a_renewed_certificate_breaks_the_pin_with_the_new_fingerprint(faulty: FaultyBmc
                                                                      ) -> None:
    pin = faulty.fingerprint
    params = {"ssl_ca_file": "", "ssl_fingerprint": pin, "action": "status"}
    assert _fence(faulty, **params).rc == 0
    faulty.restart_with_new_certificate()
    result = _fence(faulty, **params)
    assert result.rc == 1
    assert "does not match the pinned fingerprint" in result.stderr
    assert faulty.fingerprint in result.stderr.replace(":", "").lower()


def test_a_renewed_certificate_from_an_untrusted_issuer_fails(faulty: FaultyBmc,
                                                             tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.pem"
    trusted.write_text(faulty.cert.read_text())
    params = {"ssl_ca_file": str(trusted), "action": "status"}
    assert _fence(faulty, **params).rc == 0
    faulty.restart_with_new_certificate()
    result = _fence(faulty, **params)
    assert result.rc == 1 and "certificate verify failed" in result.stderr


# -- diag: ResetType Nmi -----------------------------------------------------------------

def test_diag_sends_reset_type_nmi(faulty: FaultyBmc) -> None:
    result = _fence(faulty, action="diag")
    assert result.rc == 0, result.out
    assert faulty.resets == [("1", "Nmi")]
    assert faulty.power["1"] == "On"


def test_diag_on_the_emulator_that_does_not_support_nmi(bmc: RedfishSimulator) -> None:
    params = {"ip": "127.0.0.1", "ipport": str(bmc.port), "username": bmc.username,
              "password": bmc.password, "ssl_ca_file": str(bmc.cert), "plug": "node1",
              "action": "diag"}
    result = run_fence(AGENT, params)
    assert "Traceback" not in result.out
    assert result.rc == 1, result.out
    assert "Nmi" in result.stderr


# -- the pure rules, with generated input ------------------------------------------------

@given(st.integers(0, 10**9))
def test_retry_after_seconds(seconds: int) -> None:
    assert retry_after(str(seconds), 0.0) == seconds
    assert retry_after(f" {seconds} ", 0.0) == seconds


@given(st.integers(-10**6, 10**6))
def test_retry_after_http_date(offset: int) -> None:
    now = 1_800_000_000.0
    wait = retry_after(formatdate(now + offset, usegmt=True), now)
    assert wait is not None and abs(wait - max(0, offset)) <= 1


@given(st.text(max_size=40))
def test_retry_after_junk_is_ignored_never_raised(value: str) -> None:
    wait = retry_after(value, 1_800_000_000.0)
    assert wait is None or wait >= 0


@given(st.integers(100, 599), st.booleans())
def test_only_busy_answers_repeat_unsafe_requests(status: int, repeatable: bool) -> None:
    if retryable(status, repeatable) and not repeatable:
        assert status in (429, 503)
    if status in (429, 503):
        assert retryable(status, repeatable)
    if 200 <= status < 500 and status != 429:
        assert not retryable(status, repeatable)
