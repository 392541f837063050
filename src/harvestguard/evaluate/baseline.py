"""The baseline detector: a fixed per-IP request count in a fixed window, what fail2ban does.

It is here so the evaluation table has real numbers before the detection engine exists, and so
every later detector is compared with it. It is a baseline, not a defence: it cannot see an actor
that spreads its requests over many addresses, and it flags everyone behind a busy NAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import duckdb
import pyarrow as pa

from harvestguard.evaluate.metrics import FlaggedEntity
from harvestguard.simulate.world import World


@dataclass(frozen=True, slots=True)
class IpThresholdBaseline:
    """Flags an address once it sends more than ``max_requests`` within ``window_minutes``."""

    max_requests: int = 300
    window_minutes: int = 10
    name: str = "baseline: per-IP request count (fail2ban-style)"

    def __call__(self, events: pa.Table, world: World | None = None) -> list[FlaggedEntity]:
        """``world`` is not used: the baseline sees requests only, as fail2ban does."""
        if self.max_requests < 1 or self.window_minutes < 1:
            raise ValueError("the threshold and the window must be positive")
        window = f"INTERVAL {int(self.window_minutes)} MINUTE"
        query = f"""
            WITH counted AS (
                SELECT ip, time_bucket({window}, ts) AS bucket, count(*) AS requests
                FROM events WHERE ip IS NOT NULL GROUP BY ALL
            )
            SELECT ip, min(bucket) + {window} AS detected_at, max(requests) AS peak
            FROM counted WHERE requests > {int(self.max_requests)}
            GROUP BY ip ORDER BY ip
        """
        with duckdb.connect() as connection:
            connection.register("events", events)
            rows = connection.execute(query).fetchall()
        return [
            FlaggedEntity(
                keys=frozenset({("ip", ip)}),
                detected_at=detected_at.astimezone(UTC),
                score=peak / self.max_requests,
                reasons=(
                    f"{peak} requests from one address in {self.window_minutes} minutes "
                    f"(threshold {self.max_requests})",
                ),
            )
            for ip, detected_at, peak in rows
        ]
