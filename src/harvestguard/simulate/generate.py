"""A synthetic world from a seed: a power-law social graph, cities, clustered venues, posts, stories.

Popularity follows a Zipf law, so a few accounts have thousands of followers and most have tens;
most follows stay within the follower's home city, and a third of them are returned (friends).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from harvestguard.simulate.scenario import Scenario
from harvestguard.simulate.world import City, PartnerApp, Post, Story, User, Venue, World

CITIES: tuple[City, ...] = (
    City("Berlin", 2, 52.52, 13.405),
    City("Lisbon", 1, 38.722, -9.139),
    City("New York", -4, 40.713, -74.006),
    City("Tokyo", 9, 35.676, 139.65),
    City("Nairobi", 3, -1.286, 36.817),
    City("Sao Paulo", -3, -23.55, -46.633),
    City("Mumbai", 5.5, 19.076, 72.878),
    City("Sydney", 10, -33.869, 151.209),
    City("Paris", 2, 48.857, 2.352),
    City("Mexico City", -6, 19.433, -99.133),
)
VENUE_CATEGORIES = ("hotel", "hotel", "restaurant", "bar", "cafe", "museum", "park", "club", "gym")
_SYLLABLES = [
    "an",
    "ba",
    "be",
    "bo",
    "ca",
    "da",
    "de",
    "di",
    "el",
    "fa",
    "fe",
    "ga",
    "ha",
    "in",
    "jo",
    "ka",
    "ki",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "ni",
    "no",
    "ol",
    "pa",
    "pe",
    "ra",
    "re",
    "ri",
    "ro",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "va",
    "ve",
    "vi",
    "yo",
    "za",
]
PRIVATE_SHARE = 0.25
BUSINESS_SHARE = 0.05
POST_HISTORY_DAYS = 90
HONEST_SCOPES: tuple[frozenset[str], ...] = (
    frozenset({"profile:basic", "media:read"}),
    frozenset({"profile:basic", "media:read", "location:read"}),
    frozenset({"profile:basic", "profile:insights"}),
)


def generate_world(scenario: Scenario) -> World:
    rng = random.Random(f"world:{scenario.seed}")
    cities = CITIES[: scenario.cities] if scenario.cities <= len(CITIES) else _more_cities(scenario)
    world = World(cities)
    start, end = scenario.start.timestamp(), scenario.end.timestamp()
    _add_users(world, rng, scenario.users, cities, start)
    _add_follows(world, rng)
    _add_venues(world, rng, scenario.venues, cities)
    _add_posts(world, rng, start, end)
    _add_stories(world, rng, start, end)
    _add_partner_apps(world, rng, scenario.partner_apps)
    return world


def zipf_weights(count: int, exponent: float, rng: random.Random) -> list[float]:
    """Popularity weights following a Zipf law, in random order."""
    weights = [1.0 / (rank + 1) ** exponent for rank in range(count)]
    rng.shuffle(weights)
    return weights


def username(rng: random.Random, taken: dict[str, int] | set[str]) -> str:
    while True:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.5:
            name += rng.choice(("", "_", ".")) + str(rng.randint(1, 999))
        if name not in taken:
            return name


def media_key(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}.jpg"


def _more_cities(scenario: Scenario) -> list[City]:
    rng = random.Random(f"cities:{scenario.seed}")
    extra = [
        City(
            f"City {n}", rng.choice((-5, 0, 1, 2, 8)), rng.uniform(-50, 60), rng.uniform(-120, 150)
        )
        for n in range(scenario.cities - len(CITIES))
    ]
    return [*CITIES, *extra]


def _add_users(
    world: World, rng: random.Random, count: int, cities: Sequence[City], start: float
) -> None:
    city_weights = zipf_weights(len(cities), 0.8, rng)
    for user_id in range(1, count + 1):
        name = username(rng, world.by_username)
        world.add_user(
            User(
                id=user_id,
                username=name,
                display_name=name.replace("_", " ").replace(".", " ").title(),
                city=rng.choices(cities, weights=city_weights)[0].name,
                is_private=rng.random() < PRIVATE_SHARE,
                is_business=rng.random() < BUSINESS_SHARE,
                created_at=start - rng.uniform(2, 1500) * 86400,
            )
        )


def _add_follows(world: World, rng: random.Random) -> None:
    ids = list(world.users)
    popularity = zipf_weights(len(ids), 0.9, rng)
    by_city: dict[str, tuple[list[int], list[float]]] = {}
    for user_id, weight in zip(ids, popularity, strict=True):
        members, weights = by_city.setdefault(world.users[user_id].city, ([], []))
        members.append(user_id)
        weights.append(weight)
    global_cum = _cumulative(popularity)
    city_cum = {city: (members, _cumulative(w)) for city, (members, w) in by_city.items()}
    cap = max(5, len(ids) // 4)
    for user_id in ids:
        degree = min(cap, int(rng.lognormvariate(3.3, 0.9)))  # median ~27 follows
        local, local_cum = city_cum[world.users[user_id].city]
        near = round(degree * 0.7)
        targets = rng.choices(local, cum_weights=local_cum, k=near)
        targets += rng.choices(ids, cum_weights=global_cum, k=degree - near)
        for target in targets:
            world.follow(user_id, target)
            if rng.random() < 0.3:
                world.follow(target, user_id)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _add_venues(world: World, rng: random.Random, count: int, cities: Sequence[City]) -> None:
    for venue_id in range(1, count + 1):
        city = cities[(venue_id - 1) % len(cities)]
        category = rng.choice(VENUE_CATEGORIES)
        name = f"{rng.choice(_SYLLABLES).title()}{rng.choice(_SYLLABLES)} {category.title()}"
        world.add_venue(
            Venue(
                id=venue_id,
                name=name,
                category=category,
                city=city.name,
                lat=city.lat + rng.gauss(0, 0.03),
                lon=city.lon + rng.gauss(0, 0.03),
            )
        )


def _venue_picker(world: World, rng: random.Random) -> dict[str, tuple[list[int], list[float]]]:
    return {
        city: (venues, _cumulative(zipf_weights(len(venues), 1.0, rng)))
        for city, venues in world.venues_by_city.items()
    }


def _pick_venue(
    rng: random.Random,
    pickers: dict[str, tuple[list[int], list[float]]],
    city: str,
    all_venues: list[int],
) -> int:
    if city in pickers and rng.random() < 0.9:
        venues, cum = pickers[city]
        return rng.choices(venues, cum_weights=cum)[0]
    return rng.choice(all_venues)


def _add_posts(world: World, rng: random.Random, start: float, end: float) -> None:
    pickers = _venue_picker(world, rng)
    all_venues = list(world.venues)
    posts: list[tuple[float, int, int | None]] = []
    for user in world.users.values():
        count = int(rng.lognormvariate(1.6, 1.0) * (3 if user.is_business else 1))
        for _ in range(count):
            at = rng.uniform(start - POST_HISTORY_DAYS * 86400, end)
            venue = (
                _pick_venue(rng, pickers, user.city, all_venues) if rng.random() < 0.35 else None
            )
            posts.append((at, user.id, venue))
    posts.sort()
    for post_id, (at, owner, venue) in enumerate(posts, start=1):
        world.add_post(Post(post_id, owner, at, venue, media_key(rng)))


def _add_stories(world: World, rng: random.Random, start: float, end: float) -> None:
    pickers = _venue_picker(world, rng)
    all_venues = list(world.venues)
    stories: list[tuple[float, int, int | None]] = []
    begin = start - 86400
    for user in world.users.values():
        per_day = rng.lognormvariate(-1.6, 1.2)  # most post a story every few days, some daily
        at = begin + rng.expovariate(per_day / 86400)
        while at < end:
            venue = _pick_venue(rng, pickers, user.city, all_venues) if rng.random() < 0.3 else None
            stories.append((at, user.id, venue))
            at += rng.expovariate(per_day / 86400)
    stories.sort()
    for story_id, (at, owner, venue) in enumerate(stories, start=1):
        world.add_story(Story(story_id, owner, at, venue, media_key(rng)))


def _add_partner_apps(world: World, rng: random.Random, count: int) -> None:
    ids = list(world.users)
    for number in range(1, count + 1):
        share = rng.uniform(0.005, 0.04)
        world.add_app(
            PartnerApp(
                client_id=f"app-{rng.getrandbits(48):012x}",
                name=f"Partner {number}",
                purpose=rng.choice(
                    ("scheduling posts", "analytics for creators", "photo printing")
                ),
                scopes=rng.choice(HONEST_SCOPES),
                authorised_by=set(rng.sample(ids, max(1, int(len(ids) * share)))),
            )
        )
