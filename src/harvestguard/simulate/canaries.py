"""Canaries in a synthetic world, placed as a platform would place them (``docs/canaries.md``).

Per city with venues: a canary hotel; the hotel's own account, posting and telling stories from
it; a canary person posting from it too. A few dormant canary accounts follow them, so that they
look as popular as the top tenth of the city's public accounts. No person follows a canary, no
search lists one, and the simulator's benign actors browse only what links lead to
(``World.people``, ``World.listed_venues``, ``World.usernames_starting``); sweeps and
enumerations reach them as they reach everything else.
"""

from __future__ import annotations

import dataclasses
import random

from harvestguard.canaries import canary_marker, dormant_count
from harvestguard.simulate.generate import POST_HISTORY_DAYS, media_key, username
from harvestguard.simulate.world import Post, Story, User, Venue, World

DAY = 86400.0
STORY_EVERY = 6 * 3600.0  # a canary story is always live
_KEY = b"simulated canaries"  # the names only need to look like the others; no secret here


def plant_canaries(world: World, *, seed: object, start: float, end: float) -> int:
    """Adds the canaries to ``world``, ids after every existing one; returns how many."""
    rng = random.Random(f"canaries:{seed}")
    planted_before = len(world.canaries)
    active: list[int] = []
    for city in sorted(world.venues_by_city):
        venue = _venue(world, rng, city)
        owner = _account(world, rng, city, start, business=True)
        person = _account(world, rng, city, start, business=False)
        for account in (owner, person):
            _posts(world, rng, account, venue, start, end)
            _stories(world, rng, account, venue, start, end)
            active.append(account.id)
    public = [len(world.followers[u.id]) for u in world.users.values() if not u.is_private]
    dormant = dormant_count(public)
    cities = sorted(world.venues_by_city)
    for number in range(dormant):
        follower = _account(world, rng, cities[number % len(cities)], start, business=False)
        for followed in active:
            world.follow(follower.id, followed)
    for first in active:
        for second in active:
            world.follow(first, second)
    _number_posts_by_time(world)
    return len(world.canaries) - planted_before


def _number_posts_by_time(world: World) -> None:
    """Post ids in order of creation, as a platform hands them out: the canary posts, made
    over the same months as everyone's, get ids among theirs, where a walk of ids meets them."""
    posts = sorted(world.posts.values(), key=lambda post: (post.created_at, post.id))
    labels = {
        object_id: world.canaries.pop((kind, object_id))
        for kind, object_id in list(world.canaries)
        if kind == "post"
    }
    for post in posts:
        del world.media[post.media_key]
    world.posts, world.posts_of, world.posts_at = {}, {}, {}
    for number, post in enumerate(posts, start=1):
        world.add_post(dataclasses.replace(post, id=number))
        if post.id in labels:
            world.canaries[("post", number)] = labels[post.id]


def _venue(world: World, rng: random.Random, city: str) -> Venue:
    venue_id = max(world.venues, default=0) + 1
    near = world.venues[world.venues_by_city[city][0]]
    marker = canary_marker(_KEY, "venue", str(venue_id))
    venue = Venue(
        venue_id,
        f"{marker.title} Hotel",
        "hotel",
        city,
        near.lat + rng.gauss(0, 0.01),
        near.lon + rng.gauss(0, 0.01),
    )
    world.add_venue(venue)
    # A geo-fence sweep covers every venue of its area; the simulated harvester watches the
    # first hotels of the city's list, so the canary goes first to be inside any sweep of it.
    listed = world.venues_by_city[city]
    listed.insert(0, listed.pop())
    world.canaries[("venue", venue_id)] = f"canary venue {venue.name}"
    return venue


def _account(world: World, rng: random.Random, city: str, start: float, *, business: bool) -> User:
    name = username(rng, world.by_username)
    user = User(
        world.next_user_id(),
        name,
        name.replace("_", " ").replace(".", " ").title(),
        city,
        False,
        business,
        start - rng.uniform(60, 900) * DAY,
    )
    world.add_user(user)
    world.canaries[("account", user.id)] = f"canary account @{name}"
    return user


def _posts(
    world: World, rng: random.Random, owner: User, venue: Venue, start: float, end: float
) -> None:
    for _ in range(3):
        post_id = max(world.posts, default=0) + 1
        at = rng.uniform(start - POST_HISTORY_DAYS * DAY, end)
        world.add_post(Post(post_id, owner.id, at, venue.id, media_key(rng)))
        world.canaries[("post", post_id)] = f"canary post by @{owner.username}"


def _stories(
    world: World, rng: random.Random, owner: User, venue: Venue, start: float, end: float
) -> None:
    at = start - DAY + rng.uniform(0, STORY_EVERY)
    while at < end:
        story_id = max(world.stories, default=0) + 1
        world.add_story(Story(story_id, owner.id, at, venue.id, media_key(rng)))
        world.canaries[("story", story_id)] = f"canary story by @{owner.username}"
        at += STORY_EVERY * rng.uniform(0.8, 1.2)
