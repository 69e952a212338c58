"""The page watcher's pure parts: its output lines and the outage they describe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lab.pagewatch import outage, parse


def test_parse_skips_what_is_not_a_change_line() -> None:
    text = "10.000 up\nTraceback\n11.5 down\nx up\n12.25 up\n"
    assert parse(text) == [(10.0, True), (11.5, False), (12.25, True)]


def test_outage_after_a_point_in_time() -> None:
    events = [(1.0, True), (5.0, False), (6.5, True), (8.0, False), (9.0, True)]
    assert outage(events, 2.0) == (5.0, 6.5)
    assert outage(events, 7.0) == (8.0, 9.0)
    assert outage(events, 9.5) is None  # nothing after it
    assert outage([(1.0, True), (5.0, False)], 2.0) is None  # not back yet


def test_a_page_already_down_counts_from_the_point_in_time() -> None:
    assert outage([(1.0, True), (2.0, False), (6.0, True)], 3.0) == (3.0, 6.0)


@given(st.lists(st.tuples(st.floats(0, 1e6, allow_nan=False), st.booleans())),
       st.floats(0, 1e6, allow_nan=False))
def test_an_outage_lies_after_the_point_and_never_ends_before_it_begins(
        events: list[tuple[float, bool]], since: float) -> None:
    events = sorted(events)
    found = outage(events, since)
    if found is not None:
        went, back = found
        assert since <= went <= back
        assert (back, True) in events
