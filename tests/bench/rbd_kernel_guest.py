"""Run inside a kernel guest by bench_rbd_kernel: ocf:hakit:rbd and Ceph's ocf:ceph:rbd,
side by side on the same krbd image, each action measured as a whole process (wall, and
user+system CPU of the agent and everything it waited for).

``python3 -m tests.bench.rbd_kernel_guest CONFIG.json OUT.json``: CONFIG has ``hakit`` and
``ceph`` (each an environment for that agent) and ``runs``; OUT gets, per label, the lists of
wall and CPU seconds.  Rounds alternate between the two agents, so drift hits both alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.bench.common import run_once

CEPH = "/usr/lib/ocf/resource.d/ceph/rbd"


def main(argv: list[str]) -> int:
    config = json.loads(Path(argv[1]).read_text())
    agents = {"hakit": config["hakit_agent"], "ceph": CEPH}
    samples: dict[str, list[tuple[float, float]]] = {}

    def sample(label: str, argv: list[str], env: dict[str, str], expect: tuple[int, ...] = (0,)
               ) -> None:
        samples.setdefault(label, []).append(run_once(argv, env, expect))

    for _ in range(int(config["runs"])):
        for name in ("hakit", "ceph"):
            env = config[name]
            agent = agents[name]
            sample(f"{name} probe, not mapped", [agent, "monitor"],
                   {**env, "OCF_RESKEY_CRM_meta_interval": "0"}, (7,))
            sample(f"{name} start", [agent, "start"], env)
            for _ in range(3):
                sample(f"{name} monitor", [agent, "monitor"],
                       {**env, "OCF_RESKEY_CRM_meta_interval": "10000"})
            if name == "hakit":
                sample("hakit monitor depth 10", [agent, "monitor"],
                       {**env, "OCF_RESKEY_CRM_meta_interval": "60000",
                        "OCF_CHECK_LEVEL": "10"})
            sample(f"{name} stop", [agent, "stop"], env)
    Path(argv[2]).write_text(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
