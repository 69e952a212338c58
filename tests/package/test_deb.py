"""The Debian package: `make deb` builds it (lintian without errors), apt installs it into a
throwaway copy of this machine's root, the cluster tools find its agents there, removal
leaves nothing, and an upgrade leaves a running resource alone.

The throwaway root (tests.harness.throwaway_root) is an overlay over the host's own root in
a private mount namespace: the real apt and dpkg run against a copy-on-write copy of the
host's package database, whose installed Debian packages satisfy the Depends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.harness.ocf import ROOT
from tests.harness.throwaway_root import ThrowawayRoot
from tests.package.nolab import lab_code

AGENTS = sorted(p.name for p in (ROOT / "agents").iterdir() if not p.name.startswith("."))
OCF_AGENTS = [a for a in AGENTS if not a.startswith("fence_")]
FENCE_AGENTS = [a for a in AGENTS if a.startswith("fence_")]
#: What the agents really use at run time; nothing a test needs belongs in Depends.
RUNTIME_DEPENDS = {"python3-rados", "python3-rbd", "python3-lxc", "python3-pyghmi",
                   "python3-requests", "ceph-common", "e2fsprogs", "lxc"}
TEST_ONLY = {"pytest", "hypothesis", "lxml", "ruff", "mypy", "ipmitool", "openipmi",
             "ceph-mon", "ceph-osd", "ceph-mgr", "busybox-static", "lxc-templates",
             "libxml2-utils", "resource-agents", "fence-agents"}
VIP = "/usr/lib/ocf/resource.d/hakit/vip"
VIP_ADDRESS = "198.18.77.10"


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (mount namespaces, overlayfs, chroot)")


def _version() -> str:
    text = (ROOT / "lib/hakit/__init__.py").read_text()
    found = re.search(r'__version__ = "([^"]+)"', text)
    assert found
    return found.group(1)


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make deb`` into a temporary directory; make fails on any lintian error."""
    _need_root()
    out_dir = tmp_path_factory.mktemp("deb")
    build = subprocess.run(["make", "-s", "-C", str(ROOT), "deb", f"DEB_DIR={out_dir}"],
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    assert not re.search(r"^E: ", build.stdout + build.stderr, re.M), build.stdout
    debs = sorted(out_dir.glob("hakit_*_all.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True,
                          text=True, check=True, timeout=30).stdout.strip()


def _contents(deb: Path) -> dict[str, str]:
    """path -> mode string, for every entry of the package."""
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    entries = {}
    for line in out.splitlines():
        fields = line.split()
        entries[fields[5].removeprefix(".")] = fields[0]
    return entries


@pytest.fixture(scope="module")
def old_deb(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The version an upgrade starts from: HAKIT_OLD_DEB (a released package), else this
    build re-versioned below itself (the same files: the upgrade path is what is tested)."""
    given = os.environ.get("HAKIT_OLD_DEB")
    if given:
        return Path(given)
    work = tmp_path_factory.mktemp("old-deb")
    tree = work / "tree"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True, timeout=60)
    control = tree / "DEBIAN/control"
    version = _field(deb, "Version")
    control.write_text(control.read_text().replace(f"Version: {version}\n",
                                                   f"Version: {version}~old1\n"))
    old = work / f"hakit_{version}~old1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(old)],
                   check=True, capture_output=True, timeout=60)
    return old


@pytest.fixture
def root(tmp_path: Path) -> Iterator[ThrowawayRoot]:
    _need_root()
    with ThrowawayRoot(tmp_path / "root") as the_root:
        yield the_root


def _install(root: ThrowawayRoot, deb: Path) -> None:
    """``apt-get install ./hakit_*.deb``, as the README says (offline: every dependency is a
    package the host already has)."""
    target = root.merged / "tmp" / deb.name
    target.write_bytes(deb.read_bytes())
    root.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
              f"/tmp/{deb.name}"])


def _status(root: ThrowawayRoot) -> str:
    out = root.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Version}", "hakit"],
                   check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def test_version_matches_the_library(deb: Path) -> None:
    assert _field(deb, "Version") == _version()
    assert _field(deb, "Architecture") == "all"


def test_depends_names_runtime_packages_only(deb: Path) -> None:
    depends = {re.split(r"[\s(:]", d.strip())[0] for d in _field(deb, "Depends").split(",")}
    assert depends >= RUNTIME_DEPENDS
    assert not depends & TEST_ONLY
    assert "pacemaker" not in depends  # Recommends: the agents are useless without it,
    # but a node installs the cluster stack on its own terms


def test_layout(deb: Path, tmp_path: Path) -> None:
    entries = _contents(deb)
    for agent in OCF_AGENTS:
        assert entries[f"/usr/lib/ocf/resource.d/hakit/{agent}"].startswith("-rwxr-xr-x")
        assert f"/usr/share/man/man7/ocf_hakit_{agent}.7.gz" in entries
    for agent in FENCE_AGENTS:
        assert entries[f"/usr/sbin/{agent}"].startswith("-rwxr-xr-x")
        assert f"/usr/share/man/man8/{agent}.8.gz" in entries
    assert entries["/usr/bin/hakit-snippet"].startswith("-rwxr-xr-x")
    site = "/usr/lib/python3/dist-packages/hakit"
    assert f"{site}/ocf/dispatch.py" in entries
    assert f"{site}/py.typed" in entries
    assert "/usr/share/doc/hakit/examples/crm-snippets/2-stack-web.pcs.sh" in entries
    assert "/usr/share/doc/hakit/agents/vip.md.gz" in entries
    assert "/usr/share/doc/hakit/admin-guide.md.gz" in entries
    # Neither the lab nor any test, nor build debris.
    assert not [p for p in entries if p.startswith(f"{site}/lab")]
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "tree")], check=True,
                   timeout=60)
    assert lab_code(tmp_path / "tree") == []
    assert not [p for p in entries if "/tests/" in p or "/test_" in p]
    assert not [p for p in entries if p.endswith((".pyc", ".gitkeep")) or "__pycache__" in p]


def test_install_describe_remove(deb: Path, root: ThrowawayRoot) -> None:
    _install(root, deb)
    assert _status(root) == f"ii {_version()}"
    described = root.run(["pcs", "resource", "describe", "ocf:hakit:container"])
    assert described.stdout.startswith("ocf:hakit:container - "), described.stdout
    info = root.run(["crm", "ra", "info", "ocf:hakit:rbd"])
    assert "(ocf:hakit:rbd)" in info.stdout and "pool" in info.stdout, info.stdout
    metadata = root.run(["stonith_admin", "--metadata", "-a", "fence_hakit"])
    assert etree.fromstring(metadata.stdout.encode()).get("name") == "fence_hakit"
    pages = root.run(["man", "-w", *(f"ocf_hakit_{a}" for a in OCF_AGENTS), *FENCE_AGENTS])
    assert len(pages.stdout.split()) == len(AGENTS)
    # The installed library is Debian's python3's, byte-compiled, and has no lab.
    probe = root.run(["python3", "-c", "import importlib.util as u, hakit.ocf.dispatch; "
                      "print(hakit.ocf.dispatch.__file__, u.find_spec('hakit.lab'))"])
    assert probe.stdout.split() == [
        "/usr/lib/python3/dist-packages/hakit/ocf/dispatch.py", "None"]

    root.run(["apt-get", "remove", "-y", "-q", "hakit"])
    assert _status(root) in ("", "un ")
    assert root.leftovers() == []


def _vip(root: ThrowawayRoot, action: str) -> subprocess.CompletedProcess[str]:
    """The installed vip agent in the root's namespace "pkg", as Pacemaker runs it."""
    env = {"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "vip-upgrade",
           "OCF_RESKEY_CRM_meta_timeout": "20000", "OCF_RESKEY_ip": VIP_ADDRESS,
           "OCF_RESKEY_cidr_netmask": "24", "OCF_RESKEY_nic": "d0"}
    return root.run(["ip", "netns", "exec", "pkg", VIP, action], env=env, check=False)


def _address(root: ThrowawayRoot) -> list[dict[str, object]]:
    shown = root.run(["ip", "-n", "pkg", "-j", "addr", "show", "dev", "d0"]).stdout
    return [a for a in json.loads(shown)[0]["addr_info"] if a.get("local") == VIP_ADDRESS]


def test_upgrade_leaves_a_running_resource_alone(deb: Path, old_deb: Path,
                                                 root: ThrowawayRoot) -> None:
    """The old version's agent starts a VIP; installing the new package does not touch it,
    and the new version's agent monitors and stops what the old one started."""
    _install(root, old_deb)
    old_version = _field(old_deb, "Version")
    assert _status(root) == f"ii {old_version}"
    root.run(["ip", "netns", "add", "pkg"])
    root.run(["ip", "-n", "pkg", "link", "add", "d0", "type", "veth", "peer", "name", "d1"])
    for link in ("d0", "d1"):
        root.run(["ip", "-n", "pkg", "link", "set", link, "up"])
    started = _vip(root, "start")
    assert started.returncode == 0, started.stderr
    before = _address(root)
    assert len(before) == 1

    _install(root, deb)
    assert _status(root) == f"ii {_version()}"
    after = _address(root)
    assert [(a["local"], a["prefixlen"], a.get("label")) for a in after] == \
        [(a["local"], a["prefixlen"], a.get("label")) for a in before]

    monitored = _vip(root, "monitor")
    assert monitored.returncode == 0, monitored.stderr
    stopped = _vip(root, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert _address(root) == []
    assert _vip(root, "monitor").returncode == 7
