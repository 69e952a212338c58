"""krbd and nbd at the subprocess seam, for what a real kernel does not show: the argv the
agent builds (no secret on it, the key file passed as a path), a stop that touches nothing
but ``rbd device list``, and a host without the rbd CLI.  A fake ``rbd`` CLI checks every
argv it is given.  Everything the kernel does (map, monitor, unmap, busy devices, snapshots,
namespaces, takeover) runs for real in a guest: tests/kernel."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

import pytest

from hakit.deadline import Deadline
from hakit.ocf.agent import Context
from hakit.ocf.environment import OcfEnvironment
from hakit.ocf.params import parse_values
from hakit.os.runner import CommandFailed, Completed, Runner
from hakit.steps.rbd import actions, config
from hakit.steps.rbd.config import RbdConfig
from hakit.steps.rbd.layout import Layout
from tests.harness.ceph import CephEnv


class FakeRbdCli(Runner):
    """Plays ``rbd device`` for one image; asserts what a real rbd would need to see."""

    def __init__(self, device: Path, secret: str, busy_unmaps: int = 0) -> None:
        super().__init__(logging.getLogger("fake-rbd"))
        self.device = device
        self.secret = secret
        self.busy_unmaps = busy_unmaps
        self.calls: list[list[str]] = []
        self.mapped: Optional[dict[str, str]] = None

    def run(self, argv: Sequence[str], deadline: Deadline, *, timeout: Optional[float] = None,
            stdin: Optional[str] = None, check: bool = True,
            env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Completed:
        args = list(argv)
        self.calls.append(args)
        assert args[:2] == ["rbd", "device"], args
        assert not any(self.secret in a for a in args), "secret on argv"
        assert "-t" in args and args[args.index("-t") + 1] in ("krbd", "nbd")
        verb = args[2]
        rc, out = 0, ""
        if verb == "list":
            assert args[-2:] == ["--format", "json"]
            out = json.dumps([self.mapped] if self.mapped else [])
        elif verb == "map":
            assert "--keyring" in args or "--keyfile" in args
            opt = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
            self.mapped = {"id": "0", "pool": opt["--pool"],
                           "namespace": opt.get("--namespace", ""), "name": opt["--image"],
                           "snap": opt.get("--snap", "-"), "device": str(self.device)}
            out = f"{self.device}\n"
        elif verb == "unmap":
            assert args[-1] == str(self.device)
            if self.busy_unmaps and "force" not in args:
                self.busy_unmaps -= 1
                rc = 16
            else:
                self.mapped = None
        else:
            raise AssertionError(args)
        result = Completed(tuple(args), rc, out, "rbd: sysfs write failed\n" if rc else "")
        if check and rc:
            raise CommandFailed(f"'{' '.join(args)}' exited {rc}", result)
        return result


def _ctx(runner: Runner, params: Mapping[str, str], action: str = "start",
         seconds: float = 30, level: int = 0) -> tuple[RbdConfig, Context]:
    environ = {f"OCF_RESKEY_{k}": v for k, v in params.items()}
    environ["OCF_CHECK_LEVEL"] = str(level)
    env = OcfEnvironment.read(action, "rbd", environ)
    values = parse_values(config.PARAMS, env.raw_params)
    return config.from_values(values), Context(env, values, Deadline(seconds),
                                               logging.getLogger("rbd-test"), runner)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(dev_root=tmp_path / "dev-hakit", run_root=tmp_path / "run")


@pytest.fixture
def device(tmp_path: Path) -> Path:
    dev = tmp_path / "rbd0"
    dev.write_bytes(b"\0" * 8192)
    return dev


@pytest.mark.parametrize("kind", ["krbd", "nbd"])
def test_stop_when_not_mapped_only_looks(rbd_env: CephEnv, image: str, layout: Layout,
                                         device: Path, kind: str) -> None:
    # krbd's mappings are read from sysfs (none here: no rbd module), nbd's from the CLI.
    fake = FakeRbdCli(device, rbd_env.secret)
    actions.stop(*_ctx(fake, rbd_env.params(image, device_type=kind), "stop"), layout)
    assert [c[2] for c in fake.calls] == ([] if kind == "krbd" else ["list"])


def test_secret_file_goes_as_keyfile_path(rbd_env: CephEnv, image: str, layout: Layout,
                                          device: Path, tmp_path: Path) -> None:
    # (nbd: the fake CLI lists what it mapped; krbd's mappings are read from sysfs)
    secret = tmp_path / "secret"
    secret.write_text(rbd_env.secret)
    params = rbd_env.params(image, device_type="nbd")
    del params["keyring"]
    params["secret_file"] = str(secret)
    fake = FakeRbdCli(device, rbd_env.secret)
    actions.start(*_ctx(fake, params), layout)
    map_call = next(c for c in fake.calls if c[2] == "map")
    assert map_call[map_call.index("--keyfile") + 1] == str(secret)
    actions.stop(*_ctx(fake, params, "stop"), layout)


def test_stop_without_rbd_installed_succeeds(rbd_env: CephEnv, image: str,
                                             layout: Layout) -> None:
    runner = Runner(logging.getLogger("no-rbd"), fail_which=True)
    actions.stop(*_ctx(runner, rbd_env.params(image, device_type="nbd"), "stop"), layout)
