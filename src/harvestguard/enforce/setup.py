"""Everything enforcement needs in an app, built from the guard's settings in one call.

enforcement = build_enforcement(config, sink, platform=MyPlatformActions(...))
app.add_middleware(GuardMiddleware, config=config, sink=enforcement.sink,
                   decisions=enforcement.table, challenge=enforcement.challenge)
...
enforcement.close()  # at shutdown: counts what is queued, closes the sink, stops the listener
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from harvestguard.clock import SYSTEM_CLOCK, Clock, clock_from_settings
from harvestguard.config import GuardConfig
from harvestguard.detect.context import Context
from harvestguard.detect.detection import DetectionEngine
from harvestguard.detect.findings import Entity
from harvestguard.detect.incremental import IncrementalDetector
from harvestguard.enforce.cases import CaseStore
from harvestguard.enforce.challenge import ChallengeApp, MemoryUsedChallenges, RedisUsedChallenges
from harvestguard.enforce.ladder import Ladder
from harvestguard.enforce.limits import LimitEnforcer
from harvestguard.enforce.limits_file import LimitsConfig, default_limits, load_limits
from harvestguard.enforce.loop import EnforcementLoop
from harvestguard.enforce.platform import PlatformActions
from harvestguard.enforce.records import DecisionRecord
from harvestguard.enforce.sink import EnforcingSink, Sink, Tee
from harvestguard.enforce.table import DecisionTable
from harvestguard.pseudonym import Pseudonymiser

STATUS_FILE = "enforcement-status.json"


@dataclass
class Enforcement:
    table: DecisionTable
    ladder: Ladder
    limits: LimitEnforcer | None
    sink: EnforcingSink | Sink  # the limits in front of the event store
    challenge: ChallengeApp
    clock: Clock = SYSTEM_CLOCK
    loop: EnforcementLoop | None = None  # live detection, when configured

    @property
    def intake(self) -> Sink:
        """Where the middleware submits events: the live detection loop too, when there is one."""
        return self.sink if self.loop is None else Tee(self.loop, self.sink)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()  # a last step over what is queued: nothing seen goes unjudged
        close = getattr(self.sink, "close", None)
        if close is not None:
            close()
        self.table.close()


def build_enforcement(
    config: GuardConfig,
    sink: Sink,
    *,
    platform: PlatformActions | None = None,
    login_url: str = "/login",
    session_cookie: str | None = None,
    context: Callable[[], Context] | None = None,
) -> Enforcement:
    """The decision table (shared through Redis when ``config.redis_url`` is set), the limits
    (read from ``config.limits_path`` or the shipped file) in front of ``sink``, the ladder and
    the challenge; with ``config.live_detection``, the detection loop (started), which reads
    the platform's tables from ``context``. A bad limits file raises ``LimitsError`` here, at
    start-up."""
    clock = clock_from_settings(config.time_speed, config.time_origin)
    table = DecisionTable.from_url(
        config.redis_url,
        clock=clock.now,
        stale_after=timedelta(seconds=config.decisions_stale_after),
    )
    try:
        enforcer = None
        wrapped: EnforcingSink | Sink = sink
        if config.limits_enabled:
            enforcer = LimitEnforcer(
                _limits(config), table, storage_url=config.redis_url, shadow=config.shadow
            )
            # Redis counters wait on the network: several workers keep up with more traffic
            wrapped = EnforcingSink(sink, enforcer, workers=4 if config.redis_url else 1)
        secret = hashlib.blake2b(config.pseudonym_key, person=b"hg-challenge").digest()
        challenge = ChallengeApp(
            secret,
            bits=config.challenge_bits,
            pass_seconds=config.challenge_pass_seconds,
            login_url=login_url,
            session_cookie=session_cookie,
            used=RedisUsedChallenges(config.redis_url)
            if config.redis_url
            else MemoryUsedChallenges(),
        )
    except Exception:
        table.close()
        raise
    ladder = Ladder(table, platform, shadow=config.shadow)
    enforcement = Enforcement(table, ladder, enforcer, wrapped, challenge, clock)
    if config.live_detection:
        enforcement.loop = live_detection_loop(config, ladder, enforcer, clock, context)
        enforcement.loop.start()
    return enforcement


def live_detection_loop(
    config: GuardConfig,
    ladder: Ladder,
    limits: LimitEnforcer | None,
    clock: Clock,
    context: Callable[[], Context] | None,
) -> EnforcementLoop:
    """The shipped detectors, incrementally, evaluated at every step; flagged entities go to
    the cases in ``config.cases_store_url`` and to the ladder; their keys are linked in the
    limits, so that per-entity limits count the entity as one."""

    def link(entity: Entity, _records: list[DecisionRecord]) -> None:
        if limits is not None:
            limits.link(entity.id, entity.keys)

    detector = IncrementalDetector(
        DetectionEngine(),
        None if context is None else context(),
        evaluate_every_seconds=0.0,  # the loop's interval paces the evaluations
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return EnforcementLoop(
        detector,
        ladder,
        cases=CaseStore(config.cases_store_url),
        clock=clock,
        context=context,
        interval=config.detection_interval,
        on_decisions=link,
        status_path=config.data_dir / STATUS_FILE,
    )


def _limits(config: GuardConfig) -> LimitsConfig:
    pseudonymiser = Pseudonymiser.from_config(config)

    def pseudonymise(kind: str, address: str) -> str:
        return pseudonymiser.ip(address) if kind == "ip" else pseudonymiser.net(address)

    if config.limits_path is not None:
        return load_limits(config.limits_path, pseudonymise)
    return default_limits(pseudonymise)
