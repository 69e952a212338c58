"""One lvs resource's round of real-server health checks, its state kept between monitors.

The probes and the rise/fall arithmetic are ``healthcheck``'s; here is what one action
does with them: run the checks that are due (all of them with ``force``: start and reload
must know now), within the action's deadline with time left to apply the result, log each
server that changes state, and keep the state file of the probes still configured.
"""

from __future__ import annotations

import os

from hakit.steps.lvs import healthcheck
from hakit.steps.lvs.runtime import HEALTH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hakit.ocf.agent import Context
    from hakit.steps.lvs.definition import Virtual
    from hakit.steps.lvs.healthcheck import Health


def run(ctx: Context, services: tuple[Virtual, ...], directory: str, *,
        force: bool = False) -> dict[str, Health]:
    """Run the due health checks; the state of every probe afterwards."""
    path = os.path.join(directory, HEALTH)
    states = healthcheck.load_state(path)
    probes = healthcheck.probes_for((r.address, r.port, svc.check) for svc in services
                                    for r in svc.reals if svc.check.kind != "none")
    moment = healthcheck.now()
    due = [p for p in probes if force or healthcheck.due(states.get(p.key), p.check, moment)]
    if due:
        longest = max(p.check.timeout for p in due)
        # The round may use the checks' timeout and must leave time to apply the result.
        budget = ctx.deadline.within(min(longest + 0.5, max(0.2, ctx.deadline.remaining() - 2)))
        results = healthcheck.run_round(due, budget, ctx.runner)
        finished = healthcheck.now()
        for probe in due:
            if probe.key not in results:
                ctx.log.warning("health check of %s did not finish in time; state kept",
                                probe.key)
                continue
            reason = results[probe.key]
            before = states.get(probe.key)
            after = healthcheck.advance(before, reason is None, probe.check, finished,
                                        reason or "")
            if before is not None and before.up != after.up:
                if after.up:
                    ctx.log.info("real server %s is healthy again", probe.key)
                else:
                    ctx.log.warning("real server %s failed its check: %s", probe.key, reason)
            elif before is None and not after.up:
                ctx.log.warning("real server %s failed its check: %s", probe.key, reason)
            states[probe.key] = after
    keys = {p.key for p in probes}
    states = {k: v for k, v in states.items() if k in keys}
    if due or not os.path.exists(path):
        os.makedirs(directory, mode=0o700, exist_ok=True)
        healthcheck.save_state(path, states)
    return states
