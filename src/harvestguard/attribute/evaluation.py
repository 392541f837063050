"""The evaluation: simulated leaks from one actor among many, damaged the ways leaks are.

A synthetic platform (venues in cities, posts at venues) is served to ``actors`` identities
through the real ``redact`` of the default policy and the real ``Watermarker``: about 60 % see
posts as logged-in accounts (coordinates coarsened to geohash 5), the others as partner apps with
``location:read`` (full coordinates). A leak is a run of a feed as one actor was served it, written
out the way a scraper writes CSV, then damaged. Used by tests/test_attribute_evaluation.py (small)
and benchmarks/bench_attribute.py (full size).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter

from harvestguard.attribute.attribution import Attribution, attribute, policy_precisions
from harvestguard.attribute.candidates import Candidate
from harvestguard.attribute.evidence import Units, image_units, record_units
from harvestguard.attribute.keys import WatermarkKeys
from harvestguard.attribute.leak import Record
from harvestguard.attribute.serve import Watermarker
from harvestguard.events import AudienceKind
from harvestguard.policy import Audience, default_policy, redact

CITIES = (
    (48.8566, 2.3522), (52.5200, 13.4050), (40.7128, -74.0060), (35.6762, 139.6503),
    (-33.8688, 151.2093), (51.5074, -0.1278), (41.9028, 12.4964), (19.4326, -99.1332),
    (55.7558, 37.6173), (-23.5505, -46.6333), (1.3521, 103.8198), (37.7749, -122.4194),
)  # fmt: skip
PARTNER = Audience.partner(frozenset({"media:read", "location:read"}), authorised=True)
ACCOUNT = Audience(AudienceKind.AUTHENTICATED)
COLUMNS = ("id", "owner_username", "caption", "created_at", "venue_name", "lat", "lon")


@dataclass(slots=True)
class World:
    posts: list[dict[str, Any]]
    identities: list[str]
    audiences: dict[str, Audience]
    watermarker: Watermarker
    precisions: tuple[int, ...]
    candidates: list[Candidate] = field(default_factory=list)


def build_world(directory: Path, *, actors: int, posts: int, seed: int = 0) -> World:
    rng = random.Random(seed)
    venues = []
    for index in range(max(50, posts // 10)):
        lat, lon = rng.choice(CITIES)
        venues.append(
            (
                index,
                f"Place {index}",
                round(lat + rng.gauss(0, 0.08), 6),
                round(lon + rng.gauss(0, 0.08), 6),
            )
        )
    start = datetime(2026, 10, 1, tzinfo=UTC)
    rows = []
    moment = start
    for post_id in range(1, posts + 1):
        moment += timedelta(seconds=rng.expovariate(1 / 120))
        venue_id, name, lat, lon = rng.choice(venues)
        rows.append(
            {
                "id": post_id,
                "owner_id": rng.randrange(1, posts // 4 + 2),
                "owner_username": f"user{rng.randrange(100000)}",
                "owner_private": False,
                "image_url": f"/media/{post_id:08x}",
                "caption": f"caption {post_id}",
                "created_at": moment.replace(microsecond=0),
                "like_count": rng.randrange(50),
                "comment_count": rng.randrange(5),
                "venue_id": venue_id,
                "venue_name": name,
                "venue_city": "",
                "lat": lat,
                "lon": lon,
            }
        )
    identities = []
    audiences = {}
    for index in range(actors):
        if rng.random() < 0.6:
            identity = f"account:{100000 + index}"
            audiences[identity] = ACCOUNT
        else:
            identity = f"client:partner-{index}"
            audiences[identity] = PARTNER
        identities.append(identity)
    watermarker = Watermarker(WatermarkKeys.load(directory))
    candidates = [Candidate(identity, 0, 0) for identity in identities]
    return World(
        rows, identities, audiences, watermarker, policy_precisions(default_policy()), candidates
    )


def served_feed(world: World, identity: str | None, start: int, count: int) -> list[Record]:
    """``count`` posts of the newest-first feed from ``start``, as ``identity`` was served them
    (None: the platform's own unmarked data), written as a scraper writes CSV."""
    policy = default_policy()
    now = world.posts[-1]["created_at"] + timedelta(hours=1)
    newest_first = world.posts[::-1][start : start + count]
    audience = world.audiences.get(identity or "", PARTNER)
    shown = []
    for post in newest_first:
        data = redact("post", post, audience, policy=policy, now=now).data
        assert data is not None
        if identity is not None:
            data = world.watermarker.mark_disclosure(identity, policy, "post", post, data)
        shown.append(data)
    if identity is not None:
        shown = world.watermarker.mark_listing(
            identity,
            shown,
            rank=lambda item: item["created_at"],
            object_id=lambda item: str(item["id"]),
        )
    return [
        Record(line, {name: _written(item.get(name)) for name in COLUMNS if name in item})
        for line, item in enumerate(shown, start=2)
    ]


def _written(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


# damage: records -> records (the rng decides what is dropped)
Damage = Callable[[list[Record], random.Random], list[Record]]


def drop_columns(records: list[Record], _rng: random.Random) -> list[Record]:
    """Only the people and places: ids, times and captions gone."""
    kept = ("owner_username", "venue_name", "lat", "lon")
    return [Record(r.line, {k: v for k, v in r.fields.items() if k in kept}) for r in records]


def _rounding(decimals: int) -> Damage:
    def round_coordinates(records: list[Record], _rng: random.Random) -> list[Record]:
        def rounded(name: str, value: str) -> str:
            return f"{float(value):.{decimals}f}" if name in ("lat", "lon") and value else value

        return [Record(r.line, {k: rounded(k, v) for k, v in r.fields.items()}) for r in records]

    return round_coordinates


def subsample(records: list[Record], rng: random.Random) -> list[Record]:
    """Half the rows, at random, order kept."""
    return [record for record in records if rng.random() < 0.5]


def intact(records: list[Record], _rng: random.Random) -> list[Record]:
    return records


DAMAGES: dict[str, Damage] = {
    "intact": intact,
    "columns dropped": drop_columns,
    # 6 decimals (11 cm) is the usual export precision; 4 (11 m) is what spreadsheets show
    "coordinates rounded to 6 decimals": _rounding(6),
    "coordinates rounded to 5 decimals": _rounding(5),
    "coordinates rounded to 4 decimals": _rounding(4),
    "rows subsampled": subsample,
}


@dataclass(slots=True)
class Trial:
    truth: tuple[str, ...]  # the sources; empty when none of the candidates is
    first: str | None  # the candidate ranked first
    named: tuple[str, ...]
    # how close chance came: the best log LR of an actor that is no source, minus the threshold
    wrong_margin: float = -math.inf

    @property
    def right_first(self) -> bool:
        return bool(self.truth) and self.first in self.truth and self.first in self.named

    @property
    def false_named(self) -> bool:
        return any(identity not in self.truth for identity in self.named)


def _trial(result: Attribution, truth: tuple[str, ...]) -> Trial:
    first = result.verdicts[0].candidate.identity if result.verdicts else None
    wrong = [v.log_ratio for v in result.verdicts if v.candidate.identity not in truth]
    return Trial(
        truth,
        first,
        tuple(v.candidate.identity for v in result.named),
        max(wrong, default=-math.inf) - result.threshold,
    )


def _judge(world: World, records: list[Record], truth: tuple[str, ...]) -> Trial:
    units = record_units(records, world.precisions)
    result = attribute(units, world.candidates, world.watermarker.keys.all, records=len(records))
    return _trial(result, truth)


def record_trial(world: World, size: int, damage: str, rng: random.Random) -> Trial:
    """One leak of ``size`` records; ``damage`` is one of DAMAGES, "two sources mixed",
    "no source: outsider" (served to an actor outside the candidates) or "no source: unmarked"."""
    start = rng.randrange(0, len(world.posts) - size)
    if damage == "two sources mixed":
        first, second = rng.sample(world.identities, 2)
        half = size // 2
        records = served_feed(world, first, start, half)
        other_start = rng.randrange(0, len(world.posts) - half)
        records += served_feed(world, second, other_start, size - half)
        return _judge(world, records, (first, second))
    if damage == "no source: outsider":
        outsider = "account:outsider"
        world.audiences[outsider] = ACCOUNT if rng.random() < 0.6 else PARTNER
        return _judge(world, served_feed(world, outsider, start, size), ())
    if damage == "no source: unmarked":
        return _judge(world, served_feed(world, None, start, size), ())
    truth = rng.choice(world.identities)
    records = DAMAGES[damage](served_feed(world, truth, start, size), rng)
    return _judge(world, records, (truth,))


RECORD_SCENARIOS = (
    *DAMAGES,
    "two sources mixed",
    "no source: outsider",
    "no source: unmarked",
)


def synthetic_photo(rng: random.Random, width: int = 640, height: int = 480) -> bytes:
    """A photo-like JPEG: smooth structure, edges, gradient and sensor noise."""
    x0, y0 = rng.uniform(-2.0, -1.0), rng.uniform(-1.2, -0.5)
    picture = Image.effect_mandelbrot((width, height), (x0, y0, x0 + 1.2, y0 + 1.6), 60)
    noise = Image.effect_noise((width, height), 6)
    blended = Image.blend(picture.filter(ImageFilter.GaussianBlur(3)), noise, 0.15)
    out = io.BytesIO()
    Image.merge("RGB", (blended, picture, noise)).save(out, "JPEG", quality=90)
    return out.getvalue()


def reencode(data: bytes, scale: float, quality: int) -> Image.Image:
    """The photo resized by ``scale`` and saved again as JPEG at ``quality``."""
    with Image.open(io.BytesIO(data)) as picture:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        resized = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def image_trial(
    world: World, photos: Sequence[bytes], count: int, rng: random.Random, *, source: bool = True
) -> Trial:
    """A folder of ``count`` photos one actor was served (or, without ``source``, the platform's
    originals), each resized to 30-70 % and re-encoded at JPEG quality 60-85."""
    truth = rng.choice(world.identities) if source else None
    chosen = rng.sample(range(len(photos)), count)
    leaked = []
    for index in chosen:
        data = photos[index]
        if truth is not None:
            data = world.watermarker.mark_photo(truth, str(index), data)
        leaked.append((str(index), reencode(data, rng.uniform(0.3, 0.7), rng.randrange(60, 86))))
    units = Units([], [], image_units(leaked))
    result = attribute(units, world.candidates, world.watermarker.keys.all, images=count)
    return _trial(result, (truth,) if truth else ())
