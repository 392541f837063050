"""Live mode: the simulator's actors drive real HTTP traffic at a running photoshare + guard.

``plan_live`` fits a scenario to the server's world (``live_world``: the manifest, the actors,
the accounts they make and the stories people post during the run); ``run_live`` sends it
(``live_runner``: browsers, log-ins, sign-ups, uploads, partner tokens, over ``live_http``'s
loopback-only pool) and writes the ground truth (``live_report``) in event mode's format.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harvestguard.simulate.live_report import AccountLookup, LiveReport, LiveResult
from harvestguard.simulate.live_runner import LiveRunner, Progress
from harvestguard.simulate.live_world import (
    LiveConfig,
    LivePlan,
    PartnerCredentials,
    ServerWorld,
    fit_scenario,
)
from harvestguard.simulate.scenario import Scenario


def plan_live(
    scenario: Scenario,
    server: ServerWorld,
    *,
    key: bytes,
    speed: float,
    max_seconds: float,
    start: datetime | None = None,
    stories_per_day: float | None = None,
) -> LivePlan:
    """The scenario fitted to the server's world, starting now, as long as the run can last.
    People post stories during the run at ``stories_per_day`` per account (by default the rate
    the server saw in the day before)."""
    moment = (start or datetime.now(UTC)).replace(microsecond=0)
    duration = timedelta(seconds=speed * max_seconds)
    fitted = fit_scenario(scenario, server.world, moment, duration)
    # the plan adds the actors' accounts, apps and the stories of the run to its own copy
    own = dataclasses.replace(server, world=copy.deepcopy(server.world))
    return LivePlan.build(fitted, own, key, stories_per_day=stories_per_day)


def run_live(
    plan: LivePlan,
    config: LiveConfig,
    *,
    truth_dir: str | Path | None = None,
    progress: Progress | None = None,
    account_lookup: AccountLookup | None = None,
) -> LiveResult:
    """Runs the plan against the server until a cap is reached or Ctrl-C; writes the truth."""

    async def main() -> LiveResult:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
            handled = True
        except (NotImplementedError, RuntimeError, ValueError):
            handled = False  # not the main thread: the caller stops us another way
        try:
            runner = LiveRunner(plan, config, account_lookup=account_lookup)
            return await runner.run(progress=progress, stop=stop)
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)

    result = asyncio.run(main())
    if truth_dir is not None:
        result.write(truth_dir)
    return result


__all__ = [
    "AccountLookup",
    "LiveConfig",
    "LivePlan",
    "LiveReport",
    "LiveResult",
    "LiveRunner",
    "PartnerCredentials",
    "ServerWorld",
    "plan_live",
    "run_live",
]
