"""photoshare serves every actor its own marks, and `harvestguard attribute` reads them back."""

from __future__ import annotations

import csv
import json
import random
import secrets
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from harvestguard.attribute import WatermarkKeys
from harvestguard.attribute import image as watermark
from harvestguard.attribute.evaluation import synthetic_photo
from harvestguard.attribute.parity import accepts
from harvestguard.cli import app as cli
from photoshare.models import Media, Post
from tests.factories import World
from tests.partner_helpers import partner
from tests.web_helpers import act_as

runner = CliRunner()


def _photo_post(world: World, media_dir: Path) -> Post:
    owner = world.user("photographer")
    data = synthetic_photo(random.Random(1), 320, 240)
    key = secrets.token_hex(16)
    (media_dir / f"{key}.jpg").write_bytes(data)
    media = Media(key=key, owner_id=owner.id, width=320, height=240, size=len(data))
    world.db.add(media)
    world.db.commit()
    post = Post(owner_id=owner.id, media_id=media.id, caption="sunset")
    world.db.add(post)
    world.db.commit()
    return post


def _guard_dir(app: FastAPI) -> Path:
    return Path(app.state.settings.data_dir) / "guard"


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_partners_get_their_own_coordinates_and_the_leak_names_one(
    app: FastAPI, world: World, tmp_path: Path
) -> None:
    venue = world.venue("Hotel Adlon", "Berlin")
    owners = [world.user(f"guest{n}") for n in range(3)]
    for owner in owners:
        world.post(owner, venue=venue)
    with TestClient(app, base_url="https://testserver") as client:
        acme = partner(client, world, "location:read media:read", authorised_by=owners)
        other = partner(
            client, world, "location:read media:read", authorised_by=owners, name="Other"
        )
        url = f"/api/v1/locations/{venue.id}/media"
        first = client.get(url, headers=acme.headers).json()["items"]
        again = client.get(url, headers=acme.headers).json()["items"]
        theirs = client.get(url, headers=other.headers).json()["items"]
    assert first == again  # the same actor is always served the same marks
    assert {(item["lat"], item["lon"]) for item in first} != {
        (item["lat"], item["lon"]) for item in theirs
    }
    for item in first + theirs:
        # harmless: a few metres from the venue (7.8 m of latitude at most)
        assert abs(item["lat"] - venue.lat) <= 7e-5 and abs(item["lon"] - venue.lon) <= 7e-5
    # rounded to 4 decimals (11 m), the values are still on the partner's grid (parity.py)
    keys = WatermarkKeys.load(_guard_dir(app), create=False)
    acme_key = keys.current.actor_key(f"client:{acme.app.client_id}")
    for item in first:
        assert accepts(acme_key, "lat", round(float(f"{item['lat']:.4f}") * 10**4))
        assert accepts(acme_key, "lon", round(float(f"{item['lon']:.4f}") * 10**4))
    leak = _write_csv(tmp_path / "leak.csv", first)
    result = runner.invoke(
        cli, ["attribute", str(leak), "--data-dir", str(_guard_dir(app)), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["named"] == [f"client:{acme.app.client_id}"]
    assert report["ranking"][0]["matches"]["coordinate"] == [2, 2]
    table = runner.invoke(cli, ["attribute", str(leak), "--data-dir", str(_guard_dir(app))])
    assert table.exit_code == 0 and "source" in table.output
    # the platform's own, unmarked values name nobody
    unmarked = [{**item, "lat": venue.lat, "lon": venue.lon} for item in first]
    clean = _write_csv(tmp_path / "clean.csv", unmarked)
    result = runner.invoke(
        cli, ["attribute", str(clean), "--data-dir", str(_guard_dir(app)), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["named"] == []


def test_accounts_get_their_own_photo_and_a_folder_of_copies_names_one(
    app: FastAPI, world: World, tmp_path: Path
) -> None:
    post = _photo_post(world, app.state.settings.media_dir)
    alice, bob = world.user("alice"), world.user("bob")
    url = f"/media/{post.media.key}"
    with TestClient(app, base_url="https://testserver") as client:
        act_as(client, world.db, alice)
        for_alice = client.get(url).content
        cache = app.state.watermarker.photos
        hits = cache.hits
        assert client.get(url).content == for_alice  # from the cache, the same bytes
        assert cache.hits == hits + 1
        act_as(client, world.db, bob)
        for_bob = client.get(url).content
    assert for_alice != for_bob
    keys = WatermarkKeys.load(_guard_dir(app), create=False)
    patterns = np.stack(
        [
            watermark.pattern(keys.current.actor_key(f"account:{user.id}")).ravel()
            for user in (alice, bob)
        ]
    )
    folder = tmp_path / "leaked-images"
    folder.mkdir()
    saved = folder / "IMG_0001.jpg"
    saved.write_bytes(for_bob)
    with Image.open(saved) as picture:
        picture.resize((200, 150)).save(folder / "small.jpg", quality=70)
    (folder / "notes.txt").write_text("not an image")
    scores = watermark.scores(Image.open(saved), patterns)
    assert scores is not None and scores[1] > 4 > scores[0]
    result = runner.invoke(
        cli, ["attribute", str(folder), "--data-dir", str(_guard_dir(app)), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["named"] == [f"account:{bob.id}"]
    assert report["units"]["image"] == 1  # the resized copy is the same picture: one unit
