"""FsConfig: the one place ocf:hakit:fs's values become a record (hakit.steps.fs.config).

Generated raw parameters: from_values either refuses them with the reason validate-all gives
(ParamError/ConfigError naming the parameter), or its record holds exactly the parsed values.
"""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakit.errors import ConfigError, HakitError, ParamError
from hakit.ocf.params import parse_values
from hakit.steps.fs import config

#: Lists of signals; "," parses to none at all (an empty string is unset: the default).
SIGNALS = st.lists(st.sampled_from(["TERM", "INT", "HUP", "KILL", "SIGUSR1", "9", "15", ","]),
                   max_size=3).map(" ".join)


@given(directory=st.sampled_from(["/", "/srv/a", "/srv/a/", "/mnt/x y"]),
       fstype=st.sampled_from(["ext4", "ext3", "ext2", "xfs"]),
       options=st.sampled_from(["", "ro", "noatime,errors=remount-ro", "ro,noexec"]),
       fsck=st.sampled_from(["auto", "force", "never"]),
       mmp=st.sampled_from(["true", "false", "yes", "0"]),
       force=st.sampled_from(["safe", "true", "false"]),
       term=SIGNALS, kill=SIGNALS,
       delay=st.sampled_from(["0.05", "1s", "500ms", "60"]),
       wait=st.sampled_from(["0", "10s", "1min"]))
def test_record_holds_the_values_or_names_what_is_wrong(
        *, directory: str, fstype: str, options: str, fsck: str, mmp: str, force: str,
        term: str, kill: str, delay: str, wait: str) -> None:
    raw = {"device": "/dev/hakit/rbd/web", "directory": directory, "fstype": fstype,
           "options": options, "fsck": fsck, "mmp": mmp, "force_unmount": force,
           "term_signals": term, "kill_signals": kill, "signal_delay": delay,
           "device_wait": wait, "create_directory": "true"}
    values = parse_values(config.PARAMS, raw)
    try:
        cfg = config.from_values(values)
    except ParamError as exc:
        assert exc.reason.startswith(("parameter 'directory'", "parameter 'mmp'")), exc.reason
        assert directory == "/" or (values[config.MMP] and fstype == "xfs")
        return
    except ConfigError as exc:
        assert "force_unmount" in exc.reason
        assert force != "false"
        assert not values[config.TERM_SIGNALS] and not values[config.KILL_SIGNALS]
        return
    assert str(cfg.device) == "/dev/hakit/rbd/web"
    assert (cfg.directory, cfg.fstype, cfg.fsck) == (values[config.DIRECTORY], fstype, fsck)
    assert cfg.options == values[config.OPTIONS]
    assert cfg.mmp is values[config.MMP] and cfg.create_directory is True
    assert cfg.device_wait == values[config.DEVICE_WAIT]
    assert cfg.unmount.force == force and cfg.unmount.delay == values[config.SIGNAL_DELAY]
    expected = [*values[config.TERM_SIGNALS], *values[config.KILL_SIGNALS]]
    assert cfg.unmount.signals == ([] if force == "false" else expected)
    assert all(isinstance(sig, signal.Signals) for sig in cfg.unmount.signals)


def test_signals_is_a_fresh_list_each_time() -> None:
    """stop pops from it: the record itself must not change."""
    cfg = config.from_values(parse_values(config.PARAMS, {
        "device": "UUID=0d7c-1", "directory": "/srv/a", "kill_signals": "KILL HUP"}))
    cfg.unmount.signals.pop()
    assert [s.name for s in cfg.unmount.signals] == ["SIGTERM", "SIGKILL", "SIGHUP"]
    with pytest.raises(AttributeError):
        cfg.fsck = "never"  # type: ignore[misc]


def test_bad_raw_values_never_reach_the_record() -> None:
    with pytest.raises(HakitError):
        config.from_values(parse_values(config.PARAMS, {"device": "/dev/x",
                                                        "directory": "relative"}))
