"""Running OCF agents the way Pacemaker and ocf-tester do, for tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
AGENTS = ROOT / "agents"
SCHEMAS = ROOT / "tests" / "data" / "schemas"
GOLDEN = ROOT / "tests" / "data" / "metadata"
PCS_RNG = Path("/usr/share/pcs/data/ocf-1.1.rng")
OCF_ROOT = "/usr/lib/ocf"


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def reasons(self) -> list[str]:
        """The ``ocf-exit-reason:`` lines, without the prefix."""
        return [line[len("ocf-exit-reason:"):] for line in self.stderr.splitlines()
                if line.startswith("ocf-exit-reason:")]

    @property
    def reason(self) -> str:
        return self.reasons[-1] if self.reasons else ""


def agent_env(params: Mapping[str, str], *, instance: str = "test",
              interval_ms: Optional[int] = None, timeout_ms: int = 20000,
              extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """A minimal Pacemaker-like environment: PATH, OCF_ROOT, the instance and parameters."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(LIB),
        "OCF_ROOT": OCF_ROOT,
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
    }
    if interval_ms is not None:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
    if extra:
        env.update(extra)
    return env


def run_agent(agent: Path, action: str, params: Mapping[str, str], *,
              interval_ms: Optional[int] = None, timeout_ms: int = 20000,
              extra_env: Optional[Mapping[str, str]] = None,
              limit: float = 120.0) -> Result:
    """Run ``agent action`` as Pacemaker would (monitor with interval 0 is a probe)."""
    proc = subprocess.run(
        [str(agent), action], capture_output=True, text=True, timeout=limit,
        env=agent_env(params, interval_ms=interval_ms, timeout_ms=timeout_ms, extra=extra_env),
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ocf_tester(agent: Path, params: Mapping[str, str], name: str = "test",
               limit: float = 300.0) -> Result:
    """Debian's ocf-tester, for real, with ``-o name=value`` for each parameter."""
    argv = ["/usr/sbin/ocf-tester", "-n", name]
    for key, value in params.items():
        argv += ["-o", f"{key}={value}"]
    argv.append(str(agent))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB),
           "OCF_ROOT": OCF_ROOT}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=limit,
                          check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_golden(text: str, name: str) -> None:
    """``text`` equals ``tests/data/metadata/NAME``; ``UPDATE_GOLDEN=1`` (or a missing file)
    writes it instead."""
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not golden.exists():
        golden.write_text(text)
    assert text == golden.read_text(), f"metadata changed; UPDATE_GOLDEN=1 to accept ({golden})"


def validate_rng(xml_text: str, rng: Path) -> list[str]:
    """Errors from validating ``xml_text`` against a RelaxNG schema (empty when valid)."""
    schema = etree.RelaxNG(etree.parse(str(rng)))
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    doc = etree.fromstring(xml_text.encode(), parser)
    if schema.validate(doc):
        return []
    return [str(e) for e in schema.error_log]


def xmllint_valid(xml_text: str) -> subprocess.CompletedProcess[str]:
    """``xmllint --noout --valid -`` run where ocf-tester runs it."""
    cwd = "/usr/share/resource-agents" if os.path.isdir("/usr/share/resource-agents") else "/"
    return subprocess.run(["xmllint", "--noout", "--valid", "-"], input=xml_text,
                          capture_output=True, text=True, cwd=cwd, check=False)
