"""What marking costs: serving with and without per-actor watermarks, side by side.

    .venv/bin/python benchmarks/bench_watermark.py [--posts 20000] [--photos 20] [--requests 200]

1. Coordinates: ``redact`` of post objects for a logged-in account (coarsened) and a partner
   (full precision), alone and followed by ``Watermarker.mark_disclosure``.
2. Photos: the bytes as stored, a first serving to an actor (marked and cached), and a repeated
   serving (from the cache), for 640x480 JPEGs.
3. photoshare's /media/{key} route in-process (TestClient, logged in, guard on), with the
   app's watermarker and without it (``app.state.watermarker = None``).
Wall and CPU time (user+sys) are printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harvestguard.attribute import Watermarker, WatermarkKeys
from harvestguard.attribute.evaluation import ACCOUNT, PARTNER, build_world, synthetic_photo
from harvestguard.policy import Audience, default_policy, redact

console = Console()


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def timed(action: Callable[[], object], count: int) -> tuple[float, float]:
    """Microseconds per call, wall and CPU."""
    started, cpu = time.perf_counter(), _cpu()
    action()
    return (
        (time.perf_counter() - started) * 1e6 / count,
        (_cpu() - cpu) * 1e6 / count,
    )


def _row(table: Table, name: str, base: tuple[float, float], marked: tuple[float, float]) -> None:
    table.add_row(
        name,
        f"{base[0]:,.1f} / {base[1]:,.1f}",
        f"{marked[0]:,.1f} / {marked[1]:,.1f}",
        f"{marked[0] / base[0]:.2f}x",
    )


def _http(directory: Path, photos: list[bytes], requests: int) -> tuple[tuple[float, float], ...]:
    from fastapi.testclient import TestClient

    from photoshare import accounts
    from photoshare.app import create_app
    from photoshare.deps import SESSION_COOKIE
    from photoshare.models import Media, Post, User
    from photoshare.settings import Settings

    app = create_app(Settings(data_dir=directory / "photoshare", secret_key="benchmark"))
    keys = []
    with app.state.sessionmaker() as db:
        owner = User(username="owner", display_name="Owner", password_hash="x", email="o@x.org")
        viewer = User(username="viewer", display_name="Viewer", password_hash="x", email="v@x.org")
        db.add_all([owner, viewer])
        db.commit()
        for data in photos:
            key = secrets.token_hex(16)
            (app.state.settings.media_dir / f"{key}.jpg").write_bytes(data)
            media = Media(key=key, owner_id=owner.id, width=640, height=480, size=len(data))
            db.add(media)
            db.commit()
            db.add(Post(owner_id=owner.id, media_id=media.id, caption="x"))
            keys.append(key)
        db.commit()
        cookie = accounts.start_session(db, viewer, timedelta(hours=1))
    watermarker = app.state.watermarker
    results = []
    with TestClient(app, base_url="https://testserver") as client:
        client.cookies.set(SESSION_COOKIE, cookie)

        def serve() -> None:
            for n in range(requests):
                assert client.get(f"/media/{keys[n % len(keys)]}").status_code == 200

        app.state.watermarker = None
        results.append(timed(serve, requests))
        app.state.watermarker = watermarker
        results.append(timed(serve, requests))  # first servings mark, the rest hit the cache
        results.append(timed(serve, requests))  # every serving from the cache
    return tuple(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    policy = default_policy()
    table = Table(title="cost per object, microseconds (wall / CPU)", title_justify="left")
    for name in ("what", "without marks", "with marks", "ratio (wall)"):
        table.add_column(name, justify="left" if name == "what" else "right")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        world = build_world(root / "keys", actors=10, posts=args.posts)
        posts = world.posts
        now = posts[-1]["created_at"]
        watermarker = Watermarker(WatermarkKeys.load(root / "keys"))
        for label, audience, identity in (
            ("post, logged-in account (coarsened)", ACCOUNT, "account:1"),
            ("post, partner (full precision)", PARTNER, "client:partner-1"),
        ):

            def plain(audience: Audience = audience) -> None:
                for post in posts:
                    redact("post", post, audience, policy=policy, now=now)

            def marked(audience: Audience = audience, identity: str = identity) -> None:
                for post in posts:
                    data = redact("post", post, audience, policy=policy, now=now).data
                    assert data is not None
                    watermarker.mark_disclosure(identity, policy, "post", post, data)

            _row(table, label, timed(plain, len(posts)), timed(marked, len(posts)))
        rng = random.Random(3)
        photos = [synthetic_photo(rng) for _ in range(args.photos)]

        def stored() -> None:
            for n, data in enumerate(photos):
                (root / f"{n}.jpg").write_bytes(data)
                (root / f"{n}.jpg").read_bytes()

        def first() -> None:
            for n, data in enumerate(photos):
                watermarker.mark_photo("account:1", str(n), data)

        base = timed(stored, len(photos))
        _row(table, "photo 640x480, first serving to an actor", base, timed(first, len(photos)))
        _row(table, "photo 640x480, served again (cache)", base, timed(first, len(photos)))
        without, first_round, cached = _http(root, photos, args.requests)
        _row(table, f"GET /media/{{key}} ({args.photos} photos, first round)", without, first_round)
        _row(table, "GET /media/{key}, every photo cached", without, cached)
    console.print(table)
    console.print(f"load average {os.getloadavg()[0]:.1f}", highlight=False)


if __name__ == "__main__":
    main()
