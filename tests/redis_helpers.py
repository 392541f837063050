"""A real redis-server on a free loopback port, started and stopped by the tests themselves
(``harvestguard.deploy``, which the deployment scripts use too)."""

from __future__ import annotations

from harvestguard.deploy import RedisServer, free_port

__all__ = ["RedisServer", "free_port"]
