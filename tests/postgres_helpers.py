"""A real PostgreSQL server on a free loopback port, in a throw-away cluster, for the tests that
check what SQLite cannot show (``harvestguard.deploy``, which the deployment scripts use too;
as root, the cluster belongs to Debian's ``postgres`` user)."""

from __future__ import annotations

from harvestguard.deploy import PostgresServer

__all__ = ["PostgresServer"]
