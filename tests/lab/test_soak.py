"""The short soak (``lab.soak``): three containers, one fault of each kind (crash, hang,
partition, a container killed inside, a crash with the BMC dead, fenced through Ceph and
then unfenced, Ceph cut off from every node), every container writing fsync'd records the
whole time; then every record is there, every image is clean, no split brain,
every broken lock's owner was blocklisted, and nothing is left stopped, failed or unmanaged.
The lab has the Ceph fencing level, which the crash with the BMC dead needs.  The long one
is ``make soak`` (SOAK_FAULTS, SOAK_COUNT)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import pytest

from lab import scale, soak
from lab.cluster import Lab
from lab.layout import make_layout
from lab.progress import Progress
from lab.scaledeploy import ScaleLab, services_for
from tests.lab.conftest import lab_processes, need_root

pytestmark = pytest.mark.slow

COUNT = 3
FAULTS = len(soak.KINDS)


def test_short_soak_loses_nothing(tmp_path: Path) -> None:
    need_root()
    name = f"k{secrets.token_hex(3)}"
    layout = make_layout(name, tmp_path / name)
    lab = Lab(layout, Progress(sys.stdout), services_for(COUNT, ceph_fencing=True))
    try:
        lab.up()
        scaled = ScaleLab(lab, scale.Scale(COUNT), tmp_path / "cache")
        scaled.deploy()
        work = layout.state_dir / "soak"
        work.mkdir()
        report = soak.Soak(scaled, work, seed=7).run(FAULTS)
        for line in soak.summary(report):
            print(line)
        soak.write_report(report, tmp_path / "soak-report.json")
    finally:
        lab.down()
    assert lab_processes(layout) == set()
    assert not layout.state_dir.exists()
    assert [f.kind for f in report.faults] == list(soak.KINDS[:FAULTS])
    assert all(f.recovered_s is not None and not f.error for f in report.faults), report.faults
    assert report.lost == {}
    assert report.fsck == {c: "clean" for c in report.records}
    assert all(n > 0 for n in report.records.values()), report.records
    assert report.split_brain == []
    assert report.locks == []
    assert report.resources == []
    data = json.loads((tmp_path / "soak-report.json").read_text())
    assert data["ok"] is True
