"""The servers of a scaled-out deployment, run on loopback by the project's own scripts and tests:
PostgreSQL (``PostgresServer``: a cluster made by initdb), Redis (``RedisServer``) and nginx in
front of several app instances (``NginxProxy``). Each runs as the current user (PostgreSQL,
which refuses root, as Debian's ``postgres`` user when started by root), on 127.0.0.1 and a free
port, with its files in one directory. docs/deploy.md describes the production layout."""

from __future__ import annotations

from harvestguard.deploy.network import free_port, wait_until
from harvestguard.deploy.nginx import NginxProxy, render_nginx_config
from harvestguard.deploy.postgres import PostgresServer
from harvestguard.deploy.redis import RedisServer

__all__ = [
    "NginxProxy",
    "PostgresServer",
    "RedisServer",
    "free_port",
    "render_nginx_config",
    "wait_until",
]
